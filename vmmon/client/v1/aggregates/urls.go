package aggregates

import "github.com/gophercloud/gophercloud/v2"

func listURL(c *gophercloud.ServiceClient) string     { return c.ServiceURL("aggregates") }
func measuresURL(c *gophercloud.ServiceClient) string { return c.ServiceURL("aggregates", "measures") }
