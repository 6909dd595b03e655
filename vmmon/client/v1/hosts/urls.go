package hosts

import "github.com/gophercloud/gophercloud/v2"

func listURL(c *gophercloud.ServiceClient) string             { return c.ServiceURL("hosts") }
func getURL(c *gophercloud.ServiceClient, name string) string { return c.ServiceURL("hosts", name) }
