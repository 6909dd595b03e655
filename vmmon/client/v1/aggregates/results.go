package aggregates

import (
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Aggregate is one group: an instance (its id, name, project, host_id, and
// host for administrators), a host or a project; its value; how many
// series it covers. Timestamp is, for latest values, the minute the value
// is from.
type Aggregate struct {
	InstanceID string     `json:"instance_id"`
	Name       string     `json:"name"`
	ProjectID  string     `json:"project_id"`
	Host       string     `json:"host"`
	HostID     string     `json:"host_id"`
	Value      float64    `json:"value"`
	Series     int        `json:"series"`
	Unit       string     `json:"unit"`
	Timestamp  *time.Time `json:"timestamp"`
}

// Point is one value of a series.
type Point struct {
	Time  time.Time `json:"timestamp"`
	Value float64   `json:"value"`
}

// Series is a group's series; Value is over the whole range.
type Series struct {
	Aggregate
	Points []Point `json:"points"`
}

// TopResult is the answer to Top.
type TopResult struct{ gophercloud.Result }

// Extract returns the groups.
func (r TopResult) Extract() ([]Aggregate, error) {
	var s struct {
		Aggregates []Aggregate `json:"aggregates"`
	}
	err := r.ExtractInto(&s)
	return s.Aggregates, err
}

// AggregatePage is one page of groups.
type AggregatePage struct{ pagination.LinkedPageBase }

// IsEmpty reports whether the page holds no group.
func (p AggregatePage) IsEmpty() (bool, error) {
	if p.StatusCode == 204 {
		return true, nil
	}
	var s struct {
		Aggregates []struct{} `json:"aggregates"`
	}
	err := p.ExtractInto(&s)
	return len(s.Aggregates) == 0, err
}

// NextPageURL follows the rel=next link of aggregates_links.
func (p AggregatePage) NextPageURL() (string, error) {
	var s struct {
		Links []gophercloud.Link `json:"aggregates_links"`
	}
	if err := p.ExtractInto(&s); err != nil {
		return "", err
	}
	return gophercloud.ExtractNextURL(s.Links)
}

// ExtractAggregates returns the groups of a page of List.
func ExtractAggregates(r pagination.Page) ([]Aggregate, error) {
	var s struct {
		Aggregates []Aggregate `json:"aggregates"`
	}
	err := (r.(AggregatePage)).ExtractInto(&s)
	return s.Aggregates, err
}

// SeriesPage is one page of groups' series.
type SeriesPage struct{ AggregatePage }

// ExtractSeries returns the series of a page of ListMeasures.
func ExtractSeries(r pagination.Page) ([]Series, error) {
	var s struct {
		Aggregates []Series `json:"aggregates"`
	}
	err := (r.(SeriesPage)).ExtractInto(&s)
	return s.Aggregates, err
}

// ResourceKey names the list of a page's body.
func (p AggregatePage) ResourceKey() string { return "aggregates" }
