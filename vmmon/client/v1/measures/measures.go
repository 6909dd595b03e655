// Package measures reads an instance's measures and metrics.
//
// Example to read a day of cpu_util at one-minute resolution:
//
//	m, err := measures.Get(ctx, client, instanceID, "cpu_util", measures.GetOpts{
//		Start: time.Now().Add(-24 * time.Hour), Granularity: 60, Aggregation: "mean"}).Extract()
package measures

import (
	"context"
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

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

func (o GetOpts) query() string {
	q := map[string]string{}
	if !o.Start.IsZero() {
		q["start"] = o.Start.UTC().Format(time.RFC3339)
	}
	if !o.End.IsZero() {
		q["end"] = o.End.UTC().Format(time.RFC3339)
	}
	switch {
	case o.Raw:
		q["granularity"] = "raw"
	case o.Granularity > 0:
		q["granularity"] = itoa(o.Granularity)
	}
	if o.Aggregation != "" {
		q["aggregation"] = o.Aggregation
	}
	if o.Device != "" {
		q["device"] = o.Device
	}
	if o.AllDevices {
		q["all_devices"] = "true"
	}
	s := ""
	for _, k := range []string{"start", "end", "granularity", "aggregation", "device", "all_devices"} {
		if v, ok := q[k]; ok {
			if s == "" {
				s = "?"
			} else {
				s += "&"
			}
			s += k + "=" + v
		}
	}
	return s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
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
func Get(ctx context.Context, c *gophercloud.ServiceClient, instanceID, metric string, opts GetOpts) (r GetResult) {
	resp, err := c.Get(ctx, c.ServiceURL("instances", instanceID, "metrics", metric, "measures")+opts.query(), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
