package hosts

import (
	"encoding/json"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Host is a compute host's agent and how it fares.
type Host struct {
	Name          string    `json:"name"`
	Status        string    `json:"status"` // up, stale, down, unknown
	HeartbeatAge  float64   `json:"heartbeat_age_s"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Interval      float64   `json:"interval_s"`
	Stream        string    `json:"stream"`
	LastSeq       uint64    `json:"last_seq"`
	SeqGaps       uint64    `json:"seq_gaps"`
	// ClockSkew is the agent's clock minus the collector's, in seconds,
	// when it is beyond the collector's limit.
	ClockSkew float64 `json:"clock_skew_s"`
	// Heartbeat is the agent's last heartbeat, as it sent it (Get only).
	Heartbeat json.RawMessage `json:"heartbeat"`
}

// GetResult is the answer to Get.
type GetResult struct{ gophercloud.Result }

// Extract returns the host.
func (r GetResult) Extract() (*Host, error) {
	var s struct {
		Host Host `json:"host"`
	}
	err := r.ExtractInto(&s)
	return &s.Host, err
}

// HostPage is one page of hosts.
type HostPage struct{ pagination.LinkedPageBase }

// ResourceKey names the list of a page's body.
func (p HostPage) ResourceKey() string { return "hosts" }

// IsEmpty reports whether the page holds no host.
func (p HostPage) IsEmpty() (bool, error) {
	if p.StatusCode == 204 {
		return true, nil
	}
	hs, err := ExtractHosts(p)
	return len(hs) == 0, err
}

// NextPageURL follows the rel=next link of hosts_links.
func (p HostPage) NextPageURL() (string, error) {
	var s struct {
		Links []gophercloud.Link `json:"hosts_links"`
	}
	if err := p.ExtractInto(&s); err != nil {
		return "", err
	}
	return gophercloud.ExtractNextURL(s.Links)
}

// ExtractHosts returns the hosts of a page.
func ExtractHosts(r pagination.Page) ([]Host, error) {
	var s struct {
		Hosts []Host `json:"hosts"`
	}
	err := (r.(HostPage)).ExtractInto(&s)
	return s.Hosts, err
}
