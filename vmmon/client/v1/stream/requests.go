package stream

import (
	"bufio"
	"context"

	"github.com/gophercloud/gophercloud/v2"
)

// Open opens the live stream of an instance; read it with Next, and Close
// it. The stream ends with ctx too.
func Open(ctx context.Context, c *gophercloud.ServiceClient, instanceID string) (*Stream, error) {
	resp, err := c.Request(ctx, "GET", streamURL(c, instanceID), &gophercloud.RequestOpts{
		KeepResponseBody: true, OkCodes: []int{200}, MoreHeaders: map[string]string{"Accept": "text/event-stream"}})
	if err != nil {
		return nil, err
	}
	return &Stream{body: resp.Body, r: bufio.NewReader(resp.Body)}, nil
}
