package actions

import "github.com/gophercloud/gophercloud/v2"

func listURL(c *gophercloud.ServiceClient, instanceID string) string {
	return c.ServiceURL("instances", instanceID, "actions")
}

func getURL(c *gophercloud.ServiceClient, instanceID, id string) string {
	return c.ServiceURL("instances", instanceID, "actions", id)
}
