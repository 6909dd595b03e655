package testing

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"opendev.org/openstack/vmmon/vmmon/api"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/client/v1/aggregates"
	th "opendev.org/openstack/vmmon/vmmon/client/v1/testhelper"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

func TestListFollowsNextLinks(t *testing.T) {
	s := th.Setup(t)
	HandleListSuccessfully(t, s)
	opts := aggregates.ListOpts{Metric: "cpu_util", Limit: 2}
	pages, err := aggregates.List(s.Client(), opts).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := aggregates.ExtractAggregates(pages)
	if err != nil || !reflect.DeepEqual(got, []aggregates.Aggregate{a2, a1, a3}) {
		t.Errorf("groups: %+v, %v", got, err)
	}
	if len(s.Requests) != 2 || url.Values(s.Requests[0].Query).Encode() != "limit=2&metric=cpu_util" ||
		url.Values(s.Requests[1].Query).Get("marker") != a1.InstanceID {
		t.Errorf("the API read %v", s.Requests)
	}
}

func TestTopReadsOnePage(t *testing.T) {
	s := th.Setup(t)
	HandleListSuccessfully(t, s)
	got, err := aggregates.Top(context.Background(), s.Client(), aggregates.ListOpts{Metric: "cpu_util", Limit: 2}).Extract()
	if err != nil || !reflect.DeepEqual(got, []aggregates.Aggregate{a2, a1}) || len(s.Requests) != 1 {
		t.Errorf("top: %+v, %v; %d requests", got, err, len(s.Requests))
	}
}

func TestQueries(t *testing.T) {
	east := time.FixedZone("east", 5*3600+1800)
	start := time.Date(2026, 11, 28, 15, 30, 0, 0, east)
	q, err := aggregates.ListOpts{Metric: "disk.device.read.bytes.rate", Aggregation: "max", GroupBy: "host", Start: start, End: start.Add(time.Hour),
		Ascending: true, Limit: 5, Marker: "cmp 1", ProjectID: "p&q", AllProjects: true, Host: "cmp+2", State: "active", Flavor: "m1.small"}.ToAggregateListQuery()
	want := url.Values{"metric": {"disk.device.read.bytes.rate"}, "aggregation": {"max"}, "group_by": {"host"}, "start": {"2026-11-28T10:00:00Z"},
		"end": {"2026-11-28T11:00:00Z"}, "sort": {"value:asc"}, "limit": {"5"}, "marker": {"cmp 1"}, "project_id": {"p&q"}, "all_projects": {"true"},
		"host": {"cmp+2"}, "state": {"active"}, "flavor": {"m1.small"}}
	if got, perr := url.ParseQuery(q[1:]); err != nil || perr != nil || got.Encode() != want.Encode() {
		t.Errorf("list query %q, %v", q, err)
	}
	q, err = aggregates.MeasuresOpts{ListOpts: aggregates.ListOpts{Metric: "cpu_util"}, Granularity: 300}.ToAggregateMeasuresQuery()
	if err != nil || q != "?granularity=300&metric=cpu_util" {
		t.Errorf("measures query %q, %v", q, err)
	}
}

func TestListMeasures(t *testing.T) {
	s := th.Setup(t)
	HandleMeasuresSuccessfully(t, s)
	opts := aggregates.MeasuresOpts{ListOpts: aggregates.ListOpts{Metric: "cpu_util", GroupBy: "host", Aggregation: "sum"}, Granularity: 60}
	var got []aggregates.Series
	err := aggregates.ListMeasures(s.Client(), opts).EachPage(context.Background(), func(_ context.Context, p pagination.Page) (bool, error) {
		s, err := aggregates.ExtractSeries(p)
		got = append(got, s...)
		return true, err
	})
	if err != nil || !reflect.DeepEqual(got, []aggregates.Series{cmp1}) {
		t.Errorf("series: %+v, %v", got, err)
	}
}

// The client against vmmon's API handler: an admin's hosts, and a
// project's instances, from latest values.
func TestAgainstTheAPI(t *testing.T) {
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute)
	var samples []storage.Sample
	for i, p := range []struct{ project, host string }{{"p-a", "cmp1"}, {"p-a", "cmp2"}, {"p-b", "cmp1"}} {
		id := []string{"aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002", "bbbbbbbb-0000-4000-8000-000000000003"}[i]
		_ = st.PutInstance(ctx, storage.Instance{ID: id, ProjectID: p.project, Host: p.host, Name: id[:2], UpdatedAt: now})
		for m := 1; m <= 3; m++ {
			samples = append(samples, storage.Sample{InstanceID: id, Metric: "cpu_util", Time: now.Add(-time.Duration(m) * time.Minute),
				Value: float64(10 * (i + 1)), Unit: "%", Kind: "rate", ProjectID: p.project, Host: p.host})
		}
	}
	if err := st.WriteSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	pol, _ := policy.New("")
	srv := httptest.NewServer(api.New(api.Config{Store: st, Validator: auth.NoAuth{}, Policy: pol,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	defer srv.Close()
	c := &gophercloud.ServiceClient{ProviderClient: &gophercloud.ProviderClient{}, Endpoint: srv.URL + "/v1/", ResourceBase: srv.URL + "/v1/"}
	top, err := aggregates.Top(ctx, c, aggregates.ListOpts{Metric: "cpu_util", ProjectID: "p-a", Limit: 1}).Extract()
	if err != nil || len(top) != 1 || top[0].Name != "aa" || top[0].Value != 20 || top[0].Host != "cmp2" || top[0].Timestamp == nil {
		t.Errorf("top of p-a: %+v, %v", top, err)
	}
	pages, err := aggregates.ListMeasures(c, aggregates.MeasuresOpts{ListOpts: aggregates.ListOpts{Metric: "cpu_util", GroupBy: "host",
		Aggregation: "sum", Start: now.Add(-3 * time.Minute), End: now}, Granularity: 60}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	series, err := aggregates.ExtractSeries(pages)
	if err != nil || len(series) != 2 || series[0].Host != "cmp1" || series[0].Value != 40 || len(series[0].Points) != 3 || series[0].Series != 2 {
		t.Errorf("hosts: %+v, %v", series, err)
	}
}
