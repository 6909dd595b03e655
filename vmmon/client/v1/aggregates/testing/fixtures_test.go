package testing

import (
	"net/http"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/client/v1/aggregates"
	th "opendev.org/openstack/vmmon/vmmon/client/v1/testhelper"
)

// Bodies as vmmon-api writes them.
const (
	// topBody is a page of two instances of latest values, with a next link.
	topBody = `{"aggregates":[{"host_id":"19ca","instance_id":"aaaaaaaa-0000-4000-8000-000000000003","name":"a2","project_id":"p-a","series":1,"timestamp":"2026-11-28T11:59:00Z","unit":"%","value":20},{"host_id":"bf06","instance_id":"aaaaaaaa-0000-4000-8000-000000000001","name":"a1","project_id":"p-a","series":1,"timestamp":"2026-11-28T11:59:00Z","unit":"%","value":10}],"aggregates_links":[{"href":"%s/v1/aggregates?limit=2&metric=cpu_util","rel":"self"},{"href":"%s/v1/aggregates?limit=2&marker=aaaaaaaa-0000-4000-8000-000000000001&metric=cpu_util","rel":"next"}],"aggregation":"mean","group_by":"instance","metric":"cpu_util"}
`
	// lastBody is the page after topBody: one instance, no next link.
	lastBody = `{"aggregates":[{"host_id":"77aa","instance_id":"aaaaaaaa-0000-4000-8000-000000000005","name":"a3","project_id":"p-a","series":1,"timestamp":"2026-11-28T11:59:00Z","unit":"%","value":5}],"aggregates_links":[{"href":"%s/v1/aggregates?limit=2&marker=aaaaaaaa-0000-4000-8000-000000000001&metric=cpu_util","rel":"self"}],"aggregation":"mean","group_by":"instance","metric":"cpu_util"}
`
	// hostsBody is a host's sum over two minutes.
	hostsBody = `{"aggregates":[{"host":"cmp1","series":2,"unit":"%","value":60,"points":[{"timestamp":"2026-11-28T11:58:00Z","value":50},{"timestamp":"2026-11-28T11:59:00Z","value":70}]}],"aggregates_links":[{"href":"%s/v1/aggregates/measures","rel":"self"}],"aggregation":"sum","end":"2026-11-28T12:00:00Z","granularity":60,"group_by":"host","metric":"cpu_util","start":"2026-11-28T11:58:00Z"}
`
)

var minute = time.Date(2026, 11, 28, 11, 59, 0, 0, time.UTC)

// The groups of topBody and lastBody.
var (
	a2 = aggregates.Aggregate{InstanceID: "aaaaaaaa-0000-4000-8000-000000000003", Name: "a2", ProjectID: "p-a", HostID: "19ca", Value: 20, Series: 1,
		Unit: "%", Timestamp: &minute}
	a1 = aggregates.Aggregate{InstanceID: "aaaaaaaa-0000-4000-8000-000000000001", Name: "a1", ProjectID: "p-a", HostID: "bf06", Value: 10, Series: 1,
		Unit: "%", Timestamp: &minute}
	a3 = aggregates.Aggregate{InstanceID: "aaaaaaaa-0000-4000-8000-000000000005", Name: "a3", ProjectID: "p-a", HostID: "77aa", Value: 5, Series: 1,
		Unit: "%", Timestamp: &minute}
	cmp1 = aggregates.Series{Aggregate: aggregates.Aggregate{Host: "cmp1", Series: 2, Unit: "%", Value: 60},
		Points: []aggregates.Point{{Time: minute.Add(-time.Minute), Value: 50}, {Time: minute, Value: 70}}}
)

// HandleListSuccessfully serves GET /v1/aggregates: topBody, then lastBody.
func HandleListSuccessfully(t *testing.T, s *th.Server) {
	s.Handle(t, http.MethodGet, "/v1/aggregates", http.StatusOK, topBody, lastBody)
}

// HandleMeasuresSuccessfully serves GET /v1/aggregates/measures: hostsBody.
func HandleMeasuresSuccessfully(t *testing.T, s *th.Server) {
	s.Handle(t, http.MethodGet, "/v1/aggregates/measures", http.StatusOK, hostsBody)
}
