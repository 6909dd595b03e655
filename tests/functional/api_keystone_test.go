//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/api"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

const (
	demoInst = "de000000-0000-4000-8000-000000000001"
	altInst  = "a1700000-0000-4000-8000-000000000001"
)

type apiBed struct {
	url   string
	clock *atomic.Int64 // unix nanoseconds the validator sees
	env   bedenv.Env
}

// startAPI serves the API with the real Keystone validator (as the vmmon
// service user) on an embedded store with one instance in each test project.
func startAPI(t *testing.T, cacheTime time.Duration) *apiBed {
	t.Helper()
	env := bedenv.Load(t)
	clock := &atomic.Int64{}
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	v, err := auth.NewKeystone(context.Background(), auth.KeystoneOptions{
		AuthURL: env.Get(t, "VMMON_KEYSTONE_URL"), Username: "vmmon", Password: env.Get(t, "VMMON_TEST_PASSWORD"),
		UserDomainName: "Default", ProjectName: "service", ProjectDomainName: "Default", CacheTime: cacheTime, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for _, in := range []storage.Instance{
		{ID: demoInst, ProjectID: env.Get(t, "VMMON_PROJECT_DEMO_ID"), Name: "demo-vm", Host: "cmp1", State: "active", UpdatedAt: time.Now()},
		{ID: altInst, ProjectID: env.Get(t, "VMMON_PROJECT_ALT_DEMO_ID"), Name: "alt-vm", Host: "cmp1", State: "active", UpdatedAt: time.Now()},
	} {
		if err := st.PutInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
		if err := st.WriteSamples(ctx, []storage.Sample{{InstanceID: in.ID, Metric: "cpu_util", Time: time.Now().Add(-time.Minute), Value: 1, Unit: "%", Kind: "rate"}}); err != nil {
			t.Fatal(err)
		}
	}
	_ = st.PutHeartbeat(ctx, storage.Host{Name: "cmp1", LastHeartbeat: time.Now(), Interval: 10})
	pol, _ := policy.New("")
	srv := httptest.NewServer(api.New(api.Config{Store: st, Validator: v, Policy: pol, AuthURI: env.Get(t, "VMMON_KEYSTONE_URL"),
		StaleAfter: 3, DownAfter: 10, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	t.Cleanup(srv.Close)
	return &apiBed{url: srv.URL, clock: clock, env: env}
}

// adminProvider is a client of the bed's cloud authenticated as its admin,
// scoped to the admin project.
func adminProvider(ctx context.Context, t *testing.T, env bedenv.Env) *gophercloud.ProviderClient {
	t.Helper()
	p, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{IdentityEndpoint: env.Get(t, "VMMON_KEYSTONE_URL"),
		Username: "admin", Password: env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD"), DomainName: "Default",
		Scope: &gophercloud.AuthScope{ProjectName: "admin", DomainName: "Default"}})
	if err != nil {
		t.Fatalf("authenticating as the bed's admin: %v", err)
	}
	return p
}

func tokenFor(t *testing.T, env bedenv.Env, user, project, password string) string {
	t.Helper()
	p, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{
		IdentityEndpoint: env.Get(t, "VMMON_KEYSTONE_URL"), Username: user, Password: password, DomainName: "Default",
		Scope: &gophercloud.AuthScope{ProjectName: project, DomainName: "Default"},
	})
	if err != nil {
		t.Fatalf("token for %s: %v", user, err)
	}
	return p.Token()
}

func (b *apiBed) get(t *testing.T, path, token string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", b.url+path, nil)
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func (b *apiBed) post(t *testing.T, path, token, body, idempotencyKey string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", b.url+path, strings.NewReader(body))
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// Every role against every resource, on its own project's instance and on
// another project's, with tokens from the real Keystone.
func TestAPIKeystoneMatrix(t *testing.T) {
	b := startAPI(t, 300*time.Second)
	pw := b.env.Get(t, "VMMON_TEST_PASSWORD")
	tok := map[string]string{
		"admin":       tokenFor(t, b.env, "admin", "admin", b.env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD")),
		"demo-member": tokenFor(t, b.env, "demo-member", "demo", pw),
		"demo-reader": tokenFor(t, b.env, "demo-reader", "demo", pw),
		"alt-member":  tokenFor(t, b.env, "alt-member", "alt-demo", pw),
	}
	resources := []string{"/v1/instances/%s", "/v1/instances/%s/metrics", "/v1/instances/%s/events",
		"/v1/instances/%s/metrics/cpu_util/measures"}
	own := map[string]string{"demo-member": demoInst, "demo-reader": demoInst, "alt-member": altInst}
	foreign := map[string]string{"demo-member": altInst, "demo-reader": altInst, "alt-member": demoInst}
	cells := 0
	for user, token := range tok {
		for _, r := range resources {
			for _, c := range []struct {
				inst string
				want int
			}{{own[user], 200}, {foreign[user], 404}} {
				if user == "admin" {
					c.inst, c.want = demoInst, 200
				}
				path := strings.Replace(r, "%s", c.inst, 1)
				code, _, body := b.get(t, path, token)
				cells++
				if code != c.want {
					t.Errorf("%s GET %s = %d; want %d: %s", user, path, code, c.want, body)
				}
			}
		}
		wantHosts, wantAll := 403, 403
		if user == "admin" {
			wantHosts, wantAll = 200, 200
		}
		for path, want := range map[string]int{"/v1/hosts": wantHosts, "/v1/hosts/cmp1": wantHosts,
			"/v1/instances?all_projects=true": wantAll, "/v1/instances": 200} {
			code, _, body := b.get(t, path, token)
			cells++
			if code != want {
				t.Errorf("%s GET %s = %d; want %d: %s", user, path, code, want, body)
			}
		}
	}
	// A member lists only its own project's instance.
	_, _, body := b.get(t, "/v1/instances", tok["demo-member"])
	var list struct{ Instances []struct{ ID string } }
	_ = json.Unmarshal([]byte(body), &list)
	if len(list.Instances) != 1 || list.Instances[0].ID != demoInst {
		t.Errorf("demo-member's list: %s", body)
	}
	t.Logf("%d cells of the matrix checked", cells)
}

// Garbage, revoked and expired tokens are refused with 401 and a
// WWW-Authenticate header; a revoked token is refused once the cache time
// has passed.
func TestAPIKeystoneBadTokens(t *testing.T) {
	b := startAPI(t, time.Second)
	pw := b.env.Get(t, "VMMON_TEST_PASSWORD")
	code, hdr, _ := b.get(t, "/v1/instances", "garbage")
	if code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Keystone uri=") {
		t.Errorf("garbage token: %d %q", code, hdr.Get("WWW-Authenticate"))
	}
	if code, _, _ := b.get(t, "/v1/instances", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	// Revoked.
	token := tokenFor(t, b.env, "demo-member", "demo", pw)
	if code, _, _ := b.get(t, "/v1/instances", token); code != 200 {
		t.Fatalf("fresh token: %d", code)
	}
	ident, _ := openstack.NewIdentityV3(adminProvider(context.Background(), t, b.env), gophercloud.EndpointOpts{})
	if err := tokens.Revoke(context.Background(), ident, token).Err; err != nil {
		t.Fatalf("revoking: %v", err)
	}
	b.clock.Add(int64(1500 * time.Millisecond))
	if code, _, _ := b.get(t, "/v1/instances", token); code != 401 {
		t.Errorf("revoked token after the cache time: %d", code)
	}
	// Expired: the validator's clock moves past the token's expiry (Keystone
	// still accepts it, vmmon must not).
	token = tokenFor(t, b.env, "demo-reader", "demo", pw)
	if code, _, _ := b.get(t, "/v1/instances", token); code != 200 {
		t.Fatalf("fresh token: %d", code)
	}
	b.clock.Add(int64(2 * time.Hour))
	if code, _, _ := b.get(t, "/v1/instances", token); code != 401 {
		t.Errorf("expired token: %d", code)
	}
}

// unreachable is a transport that refuses every request while down is set.
type unreachable struct{ down atomic.Bool }

func (u *unreachable) RoundTrip(r *http.Request) (*http.Response, error) {
	if u.down.Load() {
		return nil, errors.New("connection refused (simulated)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Keystone unreachable is 503, not 401. (TestAPIKeystoneStopped stops the
// bed's real Keystone; this one covers the validator alone.)
func TestAPIKeystoneUnreachable(t *testing.T) {
	env := bedenv.Load(t)
	tr := &unreachable{}
	v, err := auth.NewKeystone(context.Background(), auth.KeystoneOptions{
		AuthURL: env.Get(t, "VMMON_KEYSTONE_URL"), Username: "vmmon", Password: env.Get(t, "VMMON_TEST_PASSWORD"),
		UserDomainName: "Default", ProjectName: "service", ProjectDomainName: "Default", CacheTime: time.Minute, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	tr.down.Store(true)
	_, err = v.Validate(context.Background(), "some-token")
	if !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("unreachable Keystone: %v; want ErrUnavailable", err)
	}
}

// The service user's own token is renewed before it expires.
func TestKeystoneServiceTokenRenewal(t *testing.T) {
	env := bedenv.Load(t)
	clock := &atomic.Int64{}
	clock.Store(time.Now().UnixNano())
	v, err := auth.NewKeystone(context.Background(), auth.KeystoneOptions{
		AuthURL: env.Get(t, "VMMON_KEYSTONE_URL"), Username: "vmmon", Password: env.Get(t, "VMMON_TEST_PASSWORD"),
		UserDomainName: "Default", ProjectName: "service", ProjectDomainName: "Default", CacheTime: time.Second,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	first := v.ServiceToken()
	user := tokenFor(t, env, "demo-reader", "demo", env.Get(t, "VMMON_TEST_PASSWORD"))
	if _, err := v.Validate(context.Background(), user); err != nil {
		t.Fatal(err)
	}
	if v.ServiceToken() != first {
		t.Fatal("renewed a fresh service token")
	}
	// One minute before the service token's expiry (Keystone issues them for an hour).
	clock.Add(int64(59 * time.Minute))
	if _, err := v.Validate(context.Background(), user); err != nil {
		t.Fatal(err)
	}
	if v.ServiceToken() == first {
		t.Error("the service token was not renewed before its expiry")
	}
}
