// Package measures reads an instance's measures and metrics.
//
// Example to read a day of cpu_util at one-minute resolution:
//
//	m, err := measures.Get(ctx, client, instanceID, "cpu_util", measures.GetOpts{
//		Start: time.Now().Add(-24 * time.Hour), Granularity: 60, Aggregation: "mean"}).Extract()
package measures

import (
	"context"
	"strconv"
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

// GetOptsBuilder builds the query of Get.
type GetOptsBuilder interface {
	ToMeasuresGetQuery() (string, error)
}

// GetOpts select the points.
type GetOpts struct {
	Start       time.Time
	End         time.Time
	Granularity int // seconds; 0 with Raw unset means the API's default (60)
	Raw         bool
	Aggregation string
	Device      string
	AllDevices  bool
}

// getQuery is GetOpts as the API's query parameters.
type getQuery struct {
	Start       string `q:"start"`
	End         string `q:"end"`
	Granularity string `q:"granularity"`
	Aggregation string `q:"aggregation"`
	Device      string `q:"device"`
	AllDevices  bool   `q:"all_devices"`
}

// ToMeasuresGetQuery formats the options as a query string, times in UTC.
func (o GetOpts) ToMeasuresGetQuery() (string, error) {
	q := getQuery{Aggregation: o.Aggregation, Device: o.Device, AllDevices: o.AllDevices}
	if !o.Start.IsZero() {
		q.Start = o.Start.UTC().Format(time.RFC3339)
	}
	if !o.End.IsZero() {
		q.End = o.End.UTC().Format(time.RFC3339)
	}
	switch {
	case o.Raw:
		q.Granularity = "raw"
	case o.Granularity > 0:
		q.Granularity = strconv.Itoa(o.Granularity)
	}
	u, err := gophercloud.BuildQueryString(q)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// Point is one value.
type Point struct {
	Time  time.Time `json:"timestamp"`
	Value float64   `json:"value"`
}

// Series is one device's points.
type Series struct {
	Device string  `json:"device"`
	Unit   string  `json:"unit"`
	Points []Point `json:"points"`
}

// Measures is the answer to Get.
type Measures struct {
	Metric      string   `json:"metric"`
	Granularity int      `json:"granularity"`
	Aggregation string   `json:"aggregation"`
	Series      []Series `json:"series"`
}

// GetResult is the answer to Get.
type GetResult struct{ gophercloud.Result }

// Extract returns the measures.
func (r GetResult) Extract() (*Measures, error) {
	var s struct {
		Measures Measures `json:"measures"`
	}
	err := r.ExtractInto(&s)
	return &s.Measures, err
}

// Get reads one metric of one instance.
func Get(ctx context.Context, c *gophercloud.ServiceClient, instanceID, metric string, opts GetOptsBuilder) (r GetResult) {
	url := c.ServiceURL("instances", instanceID, "metrics", metric, "measures")
	if opts != nil {
		q, err := opts.ToMeasuresGetQuery()
		if err != nil {
			r.Err = err
			return
		}
		url += q
	}
	resp, err := c.Get(ctx, url, &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
