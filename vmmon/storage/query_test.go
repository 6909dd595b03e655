package storage

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A measures query is bounded by what its resolution keeps and by the
// points of all its series together.
func TestMeasureQueryBounds(t *testing.T) {
	end := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		span        time.Duration
		granularity time.Duration
		wantParam   string // "" accepted
		wantText    string
	}{
		{"raw within a week", 6 * 24 * time.Hour, Raw, "", ""},
		{"raw over the week kept", 8 * 24 * time.Hour, Raw, "start", "raw points are kept only 7 days"},
		{"minutes within 30 days", 29 * 24 * time.Hour, 15 * Minute, "", ""},
		{"minutes over 30 days", 31 * 24 * time.Hour, 15 * Minute, "start", "one-minute rollups are kept only 30 days"},
		{"a coarse granularity over centuries", 200 * 365 * 24 * time.Hour, 922380 * time.Second, "start", "kept only 30 days"},
		{"hours within 400 days", 399 * 24 * time.Hour, Hour, "", ""},
		{"hours over 400 days", 500 * 24 * time.Hour, 24 * Hour, "start", "one-hour rollups are kept only 400 days"},
		{"too many points", 3 * 24 * time.Hour, Minute, "granularity", "more than the limit of 1000"},
	}
	for _, c := range cases {
		q := MeasureQuery{Metric: "cpu_util", Start: end.Add(-c.span), End: end, Granularity: c.granularity, MaxPoints: 1000,
			Retention: DefaultRetention}
		if c.name != "too many points" {
			q.MaxPoints = 0
		}
		_, err := q.Validate()
		var ie *InvalidError
		switch {
		case c.wantParam == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantParam != "" && (!errors.As(err, &ie) || ie.Param != c.wantParam || !strings.Contains(ie.Detail, c.wantText)):
			t.Errorf("%s: %v; want %s: …%s…", c.name, err, c.wantParam, c.wantText)
		}
	}
	// Points are counted over every series a query selects.
	q := MeasureQuery{InstanceID: "i", Metric: "disk.device.read.bytes", AllDevices: true, Start: end.Add(-10 * time.Hour), End: end,
		Granularity: Minute, MaxPoints: 1000}
	devices := []MetricInfo{{Name: "disk.device.read.bytes", Device: "vda"}, {Name: "disk.device.read.bytes", Device: "vdb"}}
	if _, err := q.Select(devices[:1]); err != nil {
		t.Errorf("one device of 600 points: %v", err)
	}
	var ie *InvalidError
	if _, err := q.Select(devices); !errors.As(err, &ie) || !strings.Contains(ie.Detail, "over 2 devices") {
		t.Errorf("two devices of 600 points each: %v", err)
	}
}
