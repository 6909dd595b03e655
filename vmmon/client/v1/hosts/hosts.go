// Package hosts shows compute hosts and their agents (admin).
//
// Example:
//
//	all, err := hosts.List(ctx, client).Extract()
package hosts

import (
	"context"
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

// Host is a compute host's agent status.
type Host struct {
	Name          string    `json:"name"`
	Status        string    `json:"status"`
	HeartbeatAge  float64   `json:"heartbeat_age_s"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Interval      float64   `json:"interval_s"`
	LastSeq       uint64    `json:"last_seq"`
	SeqGaps       uint64    `json:"seq_gaps"`
}

// ListResult is the answer to List.
type ListResult struct{ gophercloud.Result }

// Extract returns the hosts.
func (r ListResult) Extract() ([]Host, error) {
	var s struct {
		Hosts []Host `json:"hosts"`
	}
	err := r.ExtractInto(&s)
	return s.Hosts, err
}

// List lists every host.
func List(ctx context.Context, c *gophercloud.ServiceClient) (r ListResult) {
	resp, err := c.Get(ctx, c.ServiceURL("hosts"), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
