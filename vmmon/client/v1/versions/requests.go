package versions

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
)

// List lists the API's versions (GET / of the service).
func List(ctx context.Context, c *gophercloud.ServiceClient) (r ListResult) {
	resp, err := c.Get(ctx, rootURL(c), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Get shows the client's version (GET /v1).
func Get(ctx context.Context, c *gophercloud.ServiceClient) (r GetResult) {
	resp, err := c.Get(ctx, getURL(c), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
