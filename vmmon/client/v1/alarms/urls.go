package alarms

import "github.com/gophercloud/gophercloud/v2"

func rootURL(c *gophercloud.ServiceClient) string { return c.ServiceURL("alarms") }

func resourceURL(c *gophercloud.ServiceClient, id string) string { return c.ServiceURL("alarms", id) }

func historyURL(c *gophercloud.ServiceClient, id string) string {
	return c.ServiceURL("alarms", id, "history")
}
