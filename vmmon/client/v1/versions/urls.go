package versions

import (
	"strings"

	"github.com/gophercloud/gophercloud/v2"
)

// rootURL is the endpoint without its version: where versions are listed.
func rootURL(c *gophercloud.ServiceClient) string {
	return strings.TrimSuffix(strings.TrimSuffix(c.Endpoint, "/"), "/v1") + "/"
}

func getURL(c *gophercloud.ServiceClient) string { return strings.TrimSuffix(c.Endpoint, "/") }
