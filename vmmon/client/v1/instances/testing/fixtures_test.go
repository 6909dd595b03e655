package testing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"opendev.org/openstack/vmmon/vmmon/client/v1/instances"
	"opendev.org/openstack/vmmon/vmmon/client/v1/measures"
)

// Bodies as vmmon-api writes them.
const (
	listBody = `{"instances":[{"id":"aaaaaaaa-0000-4000-8000-000000000001","project_id":"p-a","user_id":"","name":"a & b","host":"cmp1","node":"","state":"active","power_state":"","task_state":"","flavor_name":"","flavor_vcpus":0,"flavor_memory_mb":0,"flavor_disk_gb":0,"image_id":"","ips":null,"created_at":null,"launched_at":null,"deleted_at":null,"updated_at":"2026-11-28T12:00:00Z","deleted":false,"source":"nova"}]}
`
	// getBody is an instance whose host vmmon has never heard from: the
	// agent has no heartbeat fields.
	getBody = `{"agent":{"host":"cmp9","status":"unknown"},"data_stale":true,"instance":{"id":"cccccccc-0000-4000-8000-000000000004","project_id":"p-a","user_id":"","name":"c","host":"cmp9","node":"","state":"active","power_state":"","task_state":"","flavor_name":"","flavor_vcpus":0,"flavor_memory_mb":0,"flavor_disk_gb":0,"image_id":"","ips":null,"created_at":null,"launched_at":null,"deleted_at":null,"updated_at":"2026-11-28T12:00:00Z","deleted":false,"source":"nova"},"latest":[]}
`
	measuresBody = `{"measures":{"aggregation":"max","end":"2026-11-28T12:00:00Z","granularity":3600,"metric":"disk.read.bytes.rate","series":[{"device":"vd a&b+c","unit":"B/s","points":[{"timestamp":"2026-11-28T11:00:00Z","value":1.5}]}],"start":"2026-11-28T10:00:00Z"}}
`
)

// fixture serves body at path and records the query of each request.
func fixture(t *testing.T, path, body string) (*gophercloud.ServiceClient, *[]url.Values) {
	t.Helper()
	var queries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		queries = append(queries, r.URL.Query())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	provider := &gophercloud.ProviderClient{}
	provider.SetToken("token")
	return &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: srv.URL + "/v1/", ResourceBase: srv.URL + "/v1/"}, &queries
}

// awkward needs escaping in a query: '&' and '+' would be read as a
// separator and a space, a space is not allowed.
const awkward = "a&b c+d=e"

func TestListEscapesQuery(t *testing.T) {
	c, queries := fixture(t, "/v1/instances", listBody)
	q, err := instances.ListOpts{State: awkward, Host: "cmp 1"}.ToInstanceListQuery()
	if err != nil || q != "?host=cmp+1&state=a%26b+c%2Bd%3De" {
		t.Errorf("query %q, %v", q, err)
	}
	pages, err := instances.List(c, instances.ListOpts{State: awkward, AllProjects: true, Limit: 3}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	list, err := instances.ExtractInstances(pages)
	if err != nil || len(list) != 1 || list[0].Name != "a & b" || list[0].CreatedAt != nil {
		t.Errorf("instances: %+v, %v", list, err)
	}
	want := url.Values{"state": {awkward}, "all_projects": {"true"}, "limit": {"3"}}
	if len(*queries) != 1 || (*queries)[0].Encode() != want.Encode() {
		t.Errorf("the API read %v; want %v", *queries, want)
	}
}

func TestGetDecodesUnknownAgent(t *testing.T) {
	c, _ := fixture(t, "/v1/instances/cccccccc-0000-4000-8000-000000000004", getBody)
	d, err := instances.Get(context.Background(), c, "cccccccc-0000-4000-8000-000000000004").Extract()
	if err != nil || d.Agent.Status != "unknown" || d.Agent.Host != "cmp9" || !d.Agent.LastHeartbeat.IsZero() || !d.DataStale || d.Latest == nil {
		t.Errorf("get: %+v, %v", d, err)
	}
}

func TestMeasuresEscapesQuery(t *testing.T) {
	id := "aaaaaaaa-0000-4000-8000-000000000001"
	c, queries := fixture(t, "/v1/instances/"+id+"/metrics/disk.read.bytes.rate/measures", measuresBody)
	east := time.FixedZone("east", 5*3600+1800)
	start := time.Date(2026, 11, 28, 15, 30, 0, 0, east)
	opts := measures.GetOpts{Start: start, End: start.Add(time.Hour), Granularity: 3600, Aggregation: "max", Device: "vd a&b+c"}
	q, err := opts.ToMeasuresGetQuery()
	if err != nil || q != "?aggregation=max&device=vd+a%26b%2Bc&end=2026-11-28T11%3A00%3A00Z&granularity=3600&start=2026-11-28T10%3A00%3A00Z" {
		t.Errorf("query %q, %v", q, err)
	}
	m, err := measures.Get(context.Background(), c, id, "disk.read.bytes.rate", opts).Extract()
	if err != nil || m.Granularity != 3600 || len(m.Series) != 1 || m.Series[0].Device != "vd a&b+c" || m.Series[0].Points[0].Value != 1.5 {
		t.Errorf("measures: %+v, %v", m, err)
	}
	want := url.Values{"start": {"2026-11-28T10:00:00Z"}, "end": {"2026-11-28T11:00:00Z"}, "granularity": {"3600"},
		"aggregation": {"max"}, "device": {"vd a&b+c"}}
	if len(*queries) != 1 || (*queries)[0].Encode() != want.Encode() {
		t.Errorf("the API read %v; want %v", *queries, want)
	}
	if q, _ := (measures.GetOpts{Raw: true, Granularity: 60, AllDevices: true}).ToMeasuresGetQuery(); q != "?all_devices=true&granularity=raw" {
		t.Errorf("raw, all devices: %q", q)
	}
	if q, _ := (measures.GetOpts{}).ToMeasuresGetQuery(); q != "" {
		t.Errorf("no options: %q", q)
	}
	if _, err := measures.Get(context.Background(), c, id, "disk.read.bytes.rate", nil).Extract(); err != nil || len(*queries) != 2 || len((*queries)[1]) != 0 {
		t.Errorf("nil options: %v, queries %v", err, *queries)
	}
}

func TestListSortsAndFilters(t *testing.T) {
	q, err := instances.ListOpts{Sort: "cpu_util:desc,name", Name: "web", Flavor: "m1.small", Deleted: "false",
		ChangesSince: time.Date(2026, 11, 28, 15, 30, 0, 0, time.FixedZone("east", 5*3600+1800))}.ToInstanceListQuery()
	want := url.Values{"sort": {"cpu_util:desc,name"}, "name": {"web"}, "flavor": {"m1.small"}, "deleted": {"false"},
		"changes-since": {"2026-11-28T10:00:00Z"}}
	if got, perr := url.ParseQuery(q[1:]); err != nil || perr != nil || got.Encode() != want.Encode() {
		t.Errorf("query %q, %v", q, err)
	}
}
