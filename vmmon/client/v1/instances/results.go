package instances

import (
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Instance is what vmmon knows of a Nova instance.
type Instance struct {
	ID             string     `json:"id"`
	ProjectID      string     `json:"project_id"`
	UserID         string     `json:"user_id"`
	Name           string     `json:"name"`
	Host           string     `json:"host"`
	State          string     `json:"state"`
	PowerState     string     `json:"power_state"`
	TaskState      string     `json:"task_state"`
	FlavorName     string     `json:"flavor_name"`
	FlavorVCPUs    int        `json:"flavor_vcpus"`
	FlavorMemoryMB int        `json:"flavor_memory_mb"`
	IPs            []string   `json:"ips"`
	CreatedAt      *time.Time `json:"created_at"`
	Deleted        bool       `json:"deleted"`
	Source         string     `json:"source"`
}

// Agent is the freshness of the agent reporting an instance.
type Agent struct {
	Host          string    `json:"host"`
	Status        string    `json:"status"` // up, stale, down, unknown
	HeartbeatAge  float64   `json:"heartbeat_age_s"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
}

// Latest is a metric's latest value.
type Latest struct {
	Name      string    `json:"name"`
	Device    string    `json:"device"`
	Unit      string    `json:"unit"`
	Kind      string    `json:"kind"`
	LastTime  time.Time `json:"last_timestamp"`
	LastValue float64   `json:"last_value"`
}

// Detail is one instance as Get shows it.
type Detail struct {
	Instance  Instance `json:"instance"`
	Agent     Agent    `json:"agent"`
	DataStale bool     `json:"data_stale"`
	Latest    []Latest `json:"latest"`
}

// GetResult is the answer to Get.
type GetResult struct{ gophercloud.Result }

// Extract returns the instance with its agent and latest values.
func (r GetResult) Extract() (*Detail, error) {
	var d Detail
	err := r.ExtractInto(&d)
	return &d, err
}

// InstancePage is one page of a listing.
type InstancePage struct{ pagination.LinkedPageBase }

// IsEmpty reports whether the page holds no instance.
func (p InstancePage) IsEmpty() (bool, error) {
	if p.StatusCode == 204 {
		return true, nil
	}
	is, err := ExtractInstances(p)
	return len(is) == 0, err
}

// NextPageURL follows the rel=next link of instances_links.
func (p InstancePage) NextPageURL() (string, error) {
	var s struct {
		Links []gophercloud.Link `json:"instances_links"`
	}
	if err := p.ExtractInto(&s); err != nil {
		return "", err
	}
	return gophercloud.ExtractNextURL(s.Links)
}

// ExtractInstances returns the instances of a page.
func ExtractInstances(r pagination.Page) ([]Instance, error) {
	var s struct {
		Instances []Instance `json:"instances"`
	}
	err := (r.(InstancePage)).ExtractInto(&s)
	return s.Instances, err
}
