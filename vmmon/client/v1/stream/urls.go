package stream

import "github.com/gophercloud/gophercloud/v2"

func streamURL(c *gophercloud.ServiceClient, instanceID string) string {
	return c.ServiceURL("instances", instanceID, "stream")
}
