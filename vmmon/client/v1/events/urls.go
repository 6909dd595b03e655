package events

import "github.com/gophercloud/gophercloud/v2"

func listURL(c *gophercloud.ServiceClient, instanceID string) string {
	return c.ServiceURL("instances", instanceID, "events")
}
