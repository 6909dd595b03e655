package metrics

import (
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

// Metric is one series of an instance (a device's, or the instance's) with
// its latest value.
type Metric struct {
	Name      string    `json:"name"`
	Device    string    `json:"device"`
	Unit      string    `json:"unit"`
	Kind      string    `json:"kind"` // cumulative, gauge, rate
	LastTime  time.Time `json:"last_timestamp"`
	LastValue float64   `json:"last_value"`
}

// ListResult is the answer to List.
type ListResult struct{ gophercloud.Result }

// Extract returns the metrics.
func (r ListResult) Extract() ([]Metric, error) {
	var s struct {
		Metrics []Metric `json:"metrics"`
	}
	err := r.ExtractInto(&s)
	return s.Metrics, err
}
