//go:build functional

package functional

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/actions"
	"opendev.org/openstack/vmmon/vmmon/api"
	"opendev.org/openstack/vmmon/vmmon/auth"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

func postAction(t *testing.T, base, id, token, body, key string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/instances/"+id+"/actions", bytes.NewBufferString(body))
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

// A real Nova (fake virt driver) driven through vmmon's API by a project
// member: every action ends "succeeded" from Nova's own notification; an
// action in the wrong state gives Nova's 409; another project's member gets
// 404 and Nova is not called; a reader gets 403 but may read the actions; a
// repeated Idempotency-Key returns the first action, with another body 422,
// and from another caller it is that caller's own action.
func TestNovaActions(t *testing.T) {
	env := bedenv.Load(t)
	env.Get(t, "VMMON_NOVA_URL")
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	ctx := context.Background()
	st, err := embedded.Open(t.TempDir(), storage.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A collector reading Nova's versioned notifications from a queue of its own.
	q := testQueues(t, uniqueName(t)+"-vmmon", "versioned_notifications")
	cleanupQueues(t, url, q)
	cleanup(t, url, nil, []string{"versioned_notifications.info", "versioned_notifications.error"})
	startCollector(t, st, rabbitOptions(t, url), q)
	v, err := auth.NewKeystone(ctx, auth.KeystoneOptions{AuthURL: env.Get(t, "VMMON_KEYSTONE_URL"), Username: "vmmon",
		Password: env.Get(t, "VMMON_TEST_PASSWORD"), UserDomainName: "Default", ProjectName: "service", ProjectDomainName: "Default",
		CacheTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := policy.New("")
	srv := httptest.NewServer(api.New(api.Config{Store: st, Validator: v, Policy: pol, StaleAfter: 3, DownAfter: 10,
		Actions: &actions.Runner{Store: st, Now: time.Now, Timeout: 5 * time.Minute},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	defer srv.Close()

	pw := env.Get(t, "VMMON_TEST_PASSWORD")
	member, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{IdentityEndpoint: env.Get(t, "VMMON_KEYSTONE_URL"),
		Username: "demo-member", Password: pw, DomainName: "Default", Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"}})
	if err != nil {
		t.Fatal(err)
	}
	compute, err := openstack.NewComputeV2(member, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	compute.Microversion = "2.37"
	t0 := time.Now()
	server, err := servers.Create(ctx, compute, servers.CreateOpts{Name: "vmmon-actions", ImageRef: env.Get(t, "VMMON_NOVA_IMAGE_ID"),
		FlavorRef: env.Get(t, "VMMON_NOVA_FLAVOR_ID"), Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	t.Cleanup(func() { _ = servers.Delete(context.Background(), compute, server.ID).ExtractErr() })
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := servers.WaitForStatus(wctx, compute, server.ID, "ACTIVE"); err != nil {
		t.Fatalf("server not ACTIVE: %v", err)
	}
	t.Logf("server ACTIVE %v after boot", time.Since(t0).Round(time.Millisecond))
	until(t, 30*time.Second, "the collector knows the server", func() bool {
		inst, err := st.GetInstance(ctx, server.ID)
		return err == nil && inst.State == "active"
	})

	token := member.Token()
	base := srv.URL
	run := func(body, wantStatus string) {
		t.Helper()
		t1 := time.Now()
		code, out := postAction(t, base, server.ID, token, body, "")
		if code != 202 {
			t.Fatalf("%s: %d %v", body, code, out)
		}
		a := out["action"].(map[string]any)
		id := a["id"].(string)
		if (a["status"] != "pending" && a["status"] != "succeeded") || a["request_id"] == "" {
			t.Errorf("%s: accepted action %v", body, a)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := st.GetAction(ctx, server.ID, id)
			if err == nil && got.Status == "succeeded" {
				break
			}
			if time.Now().After(deadline) {
				evs, _ := st.Events(ctx, storage.EventQuery{InstanceID: server.ID, Limit: 5})
				t.Fatalf("%s: action %+v not succeeded within 60 s; latest events %+v", body, got, evs)
			}
			time.Sleep(200 * time.Millisecond)
		}
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := servers.WaitForStatus(sctx, compute, server.ID, wantStatus); err != nil {
			t.Fatalf("%s: server not %s: %v", body, wantStatus, err)
		}
		t.Logf("%s: succeeded from Nova's notification in %v", body, time.Since(t1).Round(time.Millisecond))
	}
	run(`{"action": "stop"}`, "SHUTOFF")
	run(`{"action": "start"}`, "ACTIVE")
	run(`{"action": "reboot", "type": "SOFT"}`, "ACTIVE")
	run(`{"action": "reboot", "type": "HARD"}`, "ACTIVE")
	run(`{"action": "pause"}`, "PAUSED")
	run(`{"action": "unpause"}`, "ACTIVE")
	run(`{"action": "suspend"}`, "SUSPENDED")
	run(`{"action": "resume"}`, "ACTIVE")
	run(`{"action": "lock", "reason": "maintenance"}`, "ACTIVE")
	run(`{"action": "unlock"}`, "ACTIVE")
	run(`{"action": "shelve"}`, "SHELVED_OFFLOADED")
	run(`{"action": "unshelve"}`, "ACTIVE")

	// Nova's own refusal comes back: unpausing an active server is 409.
	code, out := postAction(t, base, server.ID, token, `{"action": "unpause"}`, "")
	if code != 409 || !strings.Contains(fmt.Sprint(out), "Nova refused") {
		t.Errorf("unpause while active: %d %v", code, out)
	}
	// Another project's member: 404, and nothing reaches Nova.
	before, _ := st.ListActions(ctx, server.ID)
	alt := tokenFor(t, env, "alt-member", "alt-demo", pw)
	if code, out := postAction(t, base, server.ID, alt, `{"action": "stop"}`, ""); code != 404 {
		t.Errorf("alt-member: %d %v", code, out)
	}
	// A reader of the project: 403.
	reader := tokenFor(t, env, "demo-reader", "demo", pw)
	if code, out := postAction(t, base, server.ID, reader, `{"action": "stop"}`, ""); code != 403 {
		t.Errorf("reader: %d %v", code, out)
	}
	after, _ := st.ListActions(ctx, server.ID)
	if len(after) != len(before) {
		t.Errorf("refused callers left %d actions", len(after)-len(before))
	}
	// Unknown action or body: 400 naming what is valid.
	if code, out := postAction(t, base, server.ID, token, `{"action": "explode"}`, ""); code != 400 || !strings.Contains(fmt.Sprint(out), "unshelve") {
		t.Errorf("unknown action: %d %v", code, out)
	}
	// The same Idempotency-Key twice: one action.
	c1, o1 := postAction(t, base, server.ID, token, `{"action": "stop"}`, "key-1")
	c2, o2 := postAction(t, base, server.ID, token, `{"action": "stop"}`, "key-1")
	if c1 != 202 || c2 != 202 || o1["action"].(map[string]any)["id"] != o2["action"].(map[string]any)["id"] {
		t.Errorf("idempotency: %d %v / %d %v", c1, o1, c2, o2)
	}
	// The same key with another body is refused.
	if code, out := postAction(t, base, server.ID, token, `{"action": "pause"}`, "key-1"); code != 422 ||
		!strings.Contains(fmt.Sprint(out), "idempotency_key_reused") {
		t.Errorf("same key, another body: %d %v; want 422", code, out)
	}
	sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
	defer scancel()
	if err := servers.WaitForStatus(sctx, compute, server.ID, "SHUTOFF"); err != nil {
		t.Fatal(err)
	}
	// Keys belong to their user and project: another caller's "key-1" is an
	// action of its own, which reaches Nova (and Nova refuses to stop a
	// stopped server), not the member's action handed back.
	adminToken := tokenFor(t, env, "admin", "admin", env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD"))
	if code, out := postAction(t, base, server.ID, adminToken, `{"action": "stop"}`, "key-1"); code != 409 ||
		!strings.Contains(fmt.Sprint(out), "Nova refused") {
		t.Errorf("another caller's key-1: %d %v; want Nova's own 409", code, out)
	}
	// A reader may read the actions (not run them).
	if code, _, body := (&apiBed{url: base}).get(t, "/v1/instances/"+server.ID+"/actions", reader); code != 200 ||
		!strings.Contains(body, `"actions_links"`) {
		t.Errorf("reader reading actions: %d %s", code, body)
	}

	// A token vmmon still trusts (cached) but Keystone revoked: Nova rejects
	// it, and the caller gets 401.
	revoked := tokenFor(t, env, "demo-member", "demo", pw)
	req, _ := http.NewRequest("GET", base+"/v1/instances/"+server.ID, nil)
	req.Header.Set("X-Auth-Token", revoked)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("caching the token: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	ident, _ := openstack.NewIdentityV3(adminProvider(ctx, t, env), gophercloud.EndpointOpts{})
	if err := tokens.Revoke(ctx, ident, revoked).Err; err != nil {
		t.Fatal(err)
	}
	if code, out := postAction(t, base, server.ID, revoked, `{"action": "start"}`, ""); code != 401 || !strings.Contains(fmt.Sprint(out), "vmmon.nova.unauthorized") {
		t.Errorf("token Nova rejects: %d %v", code, out)
	}

	// A server Nova deleted while vmmon still lists it: Nova's 404.
	if err := servers.Delete(ctx, compute, server.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	until(t, 60*time.Second, "the server gone from Nova", func() bool {
		return gophercloud.ResponseCodeIs(servers.Get(ctx, compute, server.ID).Err, http.StatusNotFound)
	})
	if code, out := postAction(t, base, server.ID, token, `{"action": "start"}`, ""); code != 404 || !strings.Contains(fmt.Sprint(out), "vmmon.nova.not_found") {
		t.Errorf("server deleted in Nova: %d %v", code, out)
	}
}
