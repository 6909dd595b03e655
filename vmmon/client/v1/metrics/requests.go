package metrics

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
)

// List lists an instance's metrics.
func List(ctx context.Context, c *gophercloud.ServiceClient, instanceID string) (r ListResult) {
	resp, err := c.Get(ctx, listURL(c, instanceID), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
