package testing

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"opendev.org/openstack/vmmon/vmmon/api"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/client/v1/hosts"
	"opendev.org/openstack/vmmon/vmmon/client/v1/instances"
	"opendev.org/openstack/vmmon/vmmon/client/v1/measures"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// setup serves the API (noauth: an admin) on a store of 5 instances and
// returns a client of it.
func setup(t *testing.T) *gophercloud.ServiceClient {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		id := "00000000-0000-4000-8000-00000000000" + string(rune('1'+i))
		_ = st.PutInstance(ctx, storage.Instance{ID: id, ProjectID: "admin", Name: "vm", Host: "cmp1", State: "active", UpdatedAt: now})
		_ = st.WriteSamples(ctx, []storage.Sample{{InstanceID: id, Metric: "cpu_util", Time: now.Add(-time.Minute), Value: float64(i), Unit: "%", Kind: "rate"}})
	}
	_ = st.PutHeartbeat(ctx, storage.Host{Name: "cmp1", LastHeartbeat: now, Interval: 10})
	pol, _ := policy.New("")
	srv := httptest.NewServer(api.New(api.Config{Store: st, Validator: auth.NoAuth{}, Policy: pol, StaleAfter: 3, DownAfter: 10,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}).Handler())
	t.Cleanup(srv.Close)
	provider := &gophercloud.ProviderClient{}
	provider.SetToken("token")
	return &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: srv.URL + "/v1/", ResourceBase: srv.URL + "/v1/"}
}

func TestListFollowsNextLinks(t *testing.T) {
	c := setup(t)
	var ids []string
	all, err := instances.List(c, instances.ListOpts{Limit: 2}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	list, err := instances.ExtractInstances(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list {
		ids = append(ids, in.ID)
	}
	if len(ids) != 5 || ids[0] != "00000000-0000-4000-8000-000000000001" || ids[4] != "00000000-0000-4000-8000-000000000005" {
		t.Errorf("ids over pages of 2: %v", ids)
	}
}

func TestGetMeasuresHosts(t *testing.T) {
	c := setup(t)
	ctx := context.Background()
	d, err := instances.Get(ctx, c, "00000000-0000-4000-8000-000000000003").Extract()
	if err != nil || d.Instance.Name != "vm" || d.Agent.Status != "up" || len(d.Latest) != 1 || d.Latest[0].LastValue != 2 {
		t.Errorf("get: %+v, %v", d, err)
	}
	_, err = instances.Get(ctx, c, "00000000-0000-4000-8000-000000000009").Extract()
	if !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("unknown instance: %v", err)
	}
	m, err := measures.Get(ctx, c, "00000000-0000-4000-8000-000000000003", "cpu_util",
		measures.GetOpts{Start: now.Add(-time.Hour), End: now, Raw: true}).Extract()
	if err != nil || len(m.Series) != 1 || len(m.Series[0].Points) != 1 || m.Series[0].Points[0].Value != 2 {
		t.Errorf("measures: %+v, %v", m, err)
	}
	_, err = measures.Get(ctx, c, "00000000-0000-4000-8000-000000000003", "cpu_util", measures.GetOpts{Granularity: 90}).Extract()
	if !gophercloud.ResponseCodeIs(err, 400) {
		t.Errorf("bad granularity: %v", err)
	}
	pages, err := hosts.List(c, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hosts.ExtractHosts(pages)
	if err != nil || len(hs) != 1 || hs[0].Status != "up" {
		t.Errorf("hosts: %+v, %v", hs, err)
	}
}
