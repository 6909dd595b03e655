//go:build functional

package functional

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/client/v1/aggregates"
	"opendev.org/openstack/vmmon/vmmon/client/v1/instances"
	"opendev.org/openstack/vmmon/vmmon/client/v1/metrics"
	"opendev.org/openstack/vmmon/vmmon/client/v1/versions"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/storagetest"
)

// The Go client against the vmmon-api binary on Cassandra (noauth: a
// system administrator): fleet views of six instances on two hosts in two
// projects, from latest values and over a range, and a listing sorted by a
// metric's latest value.
func TestClientFleetViews(t *testing.T) {
	env := bedenv.Load(t)
	s := openCassandra(t)
	ctx := context.Background()
	end := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
	var samples []storage.Sample
	for k := 1; k <= 6; k++ {
		id := fmt.Sprintf("c1e47000-0000-4000-8000-%012d", k)
		project, host := fmt.Sprintf("cp%d", k%2), fmt.Sprintf("ch%d", k%3%2)
		if err := s.PutInstance(ctx, storage.Instance{ID: id, Name: fmt.Sprintf("vm-%d", k), ProjectID: project, Host: host, State: "active",
			UpdatedAt: end}); err != nil {
			t.Fatal(err)
		}
		for m := 3; m >= 1; m-- {
			samples = append(samples, storage.Sample{InstanceID: id, Metric: "cpu_util", Time: end.Add(-time.Duration(m) * time.Minute),
				Value: float64(10 * k), Unit: "%", Kind: "rate", ProjectID: project, Host: host})
		}
	}
	storagetest.Write(t, s, samples)
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf("[DEFAULT]\nauth_strategy = noauth\ntransport_url = %s\n[api]\nbind_host = 127.0.0.1\nbind_port = %d\n",
		env.Get(t, "VMMON_TRANSPORT_URL"), port)+cassandraSection(t, env, s.Keyspace()))
	base, _, _ := runAPI(t, cfg, port)
	c := &gophercloud.ServiceClient{ProviderClient: &gophercloud.ProviderClient{}, Endpoint: base + "/v1/", ResourceBase: base + "/v1/"}

	top, err := aggregates.Top(ctx, c, aggregates.ListOpts{Metric: "cpu_util", Limit: 2}).Extract()
	if err != nil || len(top) != 2 || top[0].Name != "vm-6" || top[0].Value != 60 || top[1].Name != "vm-5" || top[0].Unit != "%" ||
		top[0].Timestamp == nil || !top[0].Timestamp.Equal(end.Add(-time.Minute)) {
		t.Errorf("top 2: %+v, %v", top, err)
	}
	pages, err := aggregates.List(c, aggregates.ListOpts{Metric: "cpu_util", GroupBy: "host", Aggregation: "sum", Limit: 1}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := aggregates.ExtractAggregates(pages)
	// ch0: k = 2, 3, 5, 6 (160); ch1: k = 1, 4 (50).
	if err != nil || len(hosts) != 2 || hosts[0].Host != "ch0" || hosts[0].Value != 160 || hosts[0].Series != 4 || hosts[1].Value != 50 {
		t.Errorf("hosts, a page at a time: %+v, %v", hosts, err)
	}
	pages, err = aggregates.ListMeasures(c, aggregates.MeasuresOpts{ListOpts: aggregates.ListOpts{Metric: "cpu_util", GroupBy: "project",
		Aggregation: "max", Start: end.Add(-3 * time.Minute), End: end}, Granularity: 60}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	series, err := aggregates.ExtractSeries(pages)
	if err != nil || len(series) != 2 || series[0].ProjectID != "cp0" || series[0].Value != 60 || len(series[0].Points) != 3 {
		t.Errorf("projects per minute: %+v, %v", series, err)
	}
	pages, err = instances.List(c, instances.ListOpts{AllProjects: true, Limit: 4}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all, err := instances.ExtractInstances(pages); err != nil || len(all) != 6 {
		t.Errorf("instances: %d, %v", len(all), err)
	}
	pages, err = instances.List(c, instances.ListOpts{AllProjects: true, Sort: "cpu_util:desc", Limit: 4}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all, err := instances.ExtractInstances(pages); err != nil || len(all) != 6 || all[0].Name != "vm-6" || all[5].Name != "vm-1" {
		t.Errorf("instances by their latest cpu_util: %+v, %v", all, err)
	}
	if ms, err := metrics.List(ctx, c, "c1e47000-0000-4000-8000-000000000001").Extract(); err != nil || len(ms) != 1 || ms[0].Name != "cpu_util" {
		t.Errorf("metrics: %+v, %v", ms, err)
	}
	if vs, err := versions.List(ctx, c).Extract(); err != nil || len(vs) != 1 || vs[0].ID != "v1.0" {
		t.Errorf("versions: %+v, %v", vs, err)
	}
}
