//go:build functional

package functional

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/trusts"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// trustDomainXML is a libvirt test-driver node with one domain standing for
// a server Nova booted on its fake driver: same UUID, Nova's metadata.
func trustDomainXML(id, project string) string {
	return `<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
<domain type='test'>
  <name>instance-trust</name><uuid>` + id + `</uuid>
  <metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
    <nova:name>vmmon-trust</nova:name>
    <nova:owner><nova:project uuid="` + project + `">demo</nova:project></nova:owner>
  </nova:instance></metadata>
  <memory>131072</memory><currentMemory>131072</currentMemory><vcpu>1</vcpu>
  <os><type arch='i686'>hvm</type></os>
</domain>
</node>
`
}

// demoTrusts lists the trusts demo-member made (their ids).
func demoTrusts(t *testing.T, ident *gophercloud.ServiceClient, userID string) map[string]bool {
	t.Helper()
	pages, err := trusts.List(ident, trusts.ListOpts{TrustorUserID: userID}).AllPages(context.Background())
	if err != nil {
		t.Fatalf("listing demo-member's trusts: %v", err)
	}
	list, err := trusts.ExtractTrusts(pages)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, tr := range list {
		out[tr.ID] = true
	}
	return out
}

// newTrust is the one trust in after that is not in before.
func newTrust(t *testing.T, before, after map[string]bool) string {
	t.Helper()
	var found []string
	for id := range after {
		if !before[id] {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d new trusts in Keystone (%v); want 1", len(found), found)
	}
	return found[0]
}

// An alarm's instance action, with the bed's real Keystone, Nova and
// vmmon-api and vmmon-collector processes: demo-member creates an alarm
// that pauses a server booted on Nova's fake driver; vmmon-api makes a
// Keystone trust from demo-member to vmmon (an application credential's
// token cannot, and is told why); the samples of a libvirt test-driver
// domain with the server's UUID cross the threshold; the collector pauses
// the server through Nova with a token of the trust, and Nova's
// notification settles the action in the instance's actions. A second
// alarm whose trust demo-member revoked records the failure and the
// collector goes on; deleting an alarm deletes its trust; another project
// can neither see nor touch the alarms.
func TestAlarmTrustActionThroughNova(t *testing.T) {
	env := bedenv.Load(t)
	rawURL := env.Get(t, "VMMON_TRANSPORT_URL")
	keystoneURL := env.Get(t, "VMMON_KEYSTONE_URL")
	pw := env.Get(t, "VMMON_TEST_PASSWORD")
	project := env.Get(t, "VMMON_PROJECT_DEMO_ID")
	demoUser := env.Get(t, "VMMON_USER_DEMO_MEMBER_ID")
	ctx := context.Background()

	member, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{IdentityEndpoint: keystoneURL, Username: "demo-member",
		Password: pw, DomainName: "Default", Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"}})
	if err != nil {
		t.Fatal(err)
	}
	compute, err := openstack.NewComputeV2(member, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	compute.Microversion = "2.37" // "networks": "none"
	ident, err := openstack.NewIdentityV3(member, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	ident.Endpoint = gophercloud.NormalizeURL(keystoneURL)
	token := member.Token()
	alt := tokenFor(t, env, "alt-member", "alt-demo", pw)

	// vmmon: a keyspace, exchange and queues of the test's own; the
	// collector reads Nova's real notifications and acts with Keystone.
	store := openCassandra(t)
	prefix := uniqueName(t)
	ex := prefix + "-vmmon"
	cleanup(t, rawURL, []string{ex, prefix + "-parked.exchange"}, []string{prefix + "-agent", prefix + "-nova", prefix + "-parked"})
	keystone := fmt.Sprintf("[keystone_authtoken]\nauth_url = %s\nusername = vmmon\npassword = %s\nproject_name = service\n", keystoneURL, pw)
	ccfg := writeConfig(t, fmt.Sprintf("[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n[oslo_messaging_notifications]\n"+
		"topics = versioned_notifications\n[collector]\nagent_queue = %s-agent\nnotification_queue = %s-nova\nparking_queue = %s-parked\n"+
		"rollup_interval = 1\n[alarms]\nlease_ttl = 6\nrefresh_interval = 1\n", rawURL, ex, prefix, prefix, prefix)+
		keystone+cassandraSection(t, env, store.Keyspace()))
	coll := collectorProcess(t, buildCmd(t, "vmmon/cmd/vmmon-collector"), ccfg)
	t.Cleanup(func() { _ = coll.Process.Kill(); _ = coll.Wait() })
	waitQueue(t, rawURL, prefix+"-nova")
	port := freePort(t)
	acfg := writeConfig(t, fmt.Sprintf("[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n[api]\nbind_host = 127.0.0.1\nbind_port = %d\n",
		rawURL, ex, port)+keystone+cassandraSection(t, env, store.Keyspace()))
	base, _, apiLog := runAPI(t, acfg, port)
	b := &apiBed{url: base, env: env}

	// The server, on Nova's fake driver.
	server, err := servers.Create(ctx, compute, servers.CreateOpts{Name: "vmmon-trust", ImageRef: env.Get(t, "VMMON_NOVA_IMAGE_ID"),
		FlavorRef: env.Get(t, "VMMON_NOVA_FLAVOR_ID"), Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	id := server.ID
	t.Cleanup(func() { _ = servers.Delete(context.Background(), compute, id).ExtractErr() })
	waitStatus(t, compute, id, "ACTIVE", 90*time.Second)

	// Until Nova's notifications reach the collector, the instance is unknown.
	until(t, 60*time.Second, "the server in vmmon", func() bool {
		in, err := store.GetInstance(ctx, id)
		return err == nil && in.ProjectID == project
	})

	alarmBody := func(action string, enabled bool) string {
		return fmt.Sprintf(`{"name": "pause-when-busy", "metric": "cpu_util", "instance_id": %q, "aggregation": "mean", "window": 10,
			"comparison": "gt", "threshold": 50, "evaluation_periods": 1, "enabled": %t,
			"actions": [{"type": "instance_action", "action": %q}]}`, id, enabled, action)
	}
	// An application credential's token cannot make a trust: refused with why.
	if code, out := b.do(t, "POST", "/v1/alarms", appCredToken(t, env, nil), alarmBody("pause", true)); code != 403 ||
		!strings.Contains(out, "vmmon.alarm.trust_refused") || !strings.Contains(out, "application credential") {
		t.Errorf("an application credential's alarm with an instance action: %d %s", code, out)
	}
	// A reader may not have an alarm act.
	if code, out := b.do(t, "POST", "/v1/alarms", tokenFor(t, env, "demo-reader", "demo", pw), alarmBody("pause", true)); code != 403 {
		t.Errorf("a reader's alarm with an instance action: %d %s", code, out)
	}
	before := demoTrusts(t, ident, demoUser)

	// The second alarm first, disabled: its trust is revoked before it fires.
	code, out := b.do(t, "POST", "/v1/alarms", token, alarmBody("stop", false))
	if code != 201 {
		t.Fatalf("create: %d %s", code, out)
	}
	var revokedAlarm struct{ Alarm struct{ ID string } }
	_ = json.Unmarshal([]byte(out), &revokedAlarm)
	mid := demoTrusts(t, ident, demoUser)
	revokedTrust := newTrust(t, before, mid)
	tr, err := trusts.Get(ctx, ident, revokedTrust).Extract()
	if err != nil || tr.TrustorUserID != demoUser || !tr.Impersonation || tr.TrusteeUserID != env.Get(t, "VMMON_USER_VMMON_ID") {
		t.Errorf("the trust vmmon made: %+v, %v", tr, err)
	}
	if strings.Contains(out, revokedTrust) {
		t.Errorf("the alarm shows its trust: %s", out)
	}
	if err := trusts.Delete(ctx, ident, revokedTrust).ExtractErr(); err != nil {
		t.Fatalf("revoking the trust: %v", err)
	}

	// The alarm that pauses the server.
	tCreate := time.Now()
	code, out = b.do(t, "POST", "/v1/alarms", token, alarmBody("pause", true))
	if code != 201 {
		t.Fatalf("create: %d %s", code, out)
	}
	var pause struct{ Alarm struct{ ID string } }
	_ = json.Unmarshal([]byte(out), &pause)
	pauseTrust := newTrust(t, mid, demoTrusts(t, ident, demoUser))

	// Samples of the server's domain: the test driver's cpu time runs with
	// the clock, so cpu_util is 100 % and the alarm fires.
	xml := filepath.Join(t.TempDir(), "server.xml")
	if err := os.WriteFile(xml, []byte(trustDomainXML(id, project)), 0o600); err != nil {
		t.Fatal(err)
	}
	runAgent(t, rabbitOptions(t, rawURL), ex, agent.Config{Host: env.Get(t, "VMMON_NOVA_FAKE_HOST"), LibvirtURI: "test://" + xml,
		Interval: time.Second, Timeout: 5 * time.Second})

	var acts []storage.Action
	until(t, 90*time.Second, "the alarm's pause settled by Nova's notification", func() bool {
		acts, _ = store.ListActions(ctx, id)
		return len(acts) == 1 && acts[0].Status == "succeeded"
	})
	tSettled := time.Now()
	waitStatus(t, compute, id, "PAUSED", 30*time.Second)
	if a := acts[0]; a.Action != "pause" || a.UserID != demoUser || a.ProjectID != project || a.NovaRequestID == "" {
		t.Errorf("the action: %+v", a)
	}
	// It is the instance's action for its readers too, through the API.
	if code, out := b.do(t, "GET", "/v1/instances/"+id+"/actions", token, ""); code != 200 || !strings.Contains(out, `"succeeded"`) {
		t.Errorf("GET actions: %d %s", code, out)
	}
	var hist struct {
		History []storage.AlarmHistory `json:"history"`
	}
	until(t, 30*time.Second, "the action's outcome in the alarm's history", func() bool {
		_, out := b.do(t, "GET", "/v1/alarms/"+pause.Alarm.ID+"/history", token, "")
		_ = json.Unmarshal([]byte(out), &hist)
		for _, h := range hist.History {
			if h.Type == "action" {
				return true
			}
		}
		return false
	})
	for _, h := range hist.History {
		if h.Type == "action" && (h.Outcome != "succeeded" || !strings.Contains(h.Detail, "instance_action pause")) {
			t.Errorf("the action's history entry: %+v", h)
		}
	}
	t.Logf("alarm created → pause settled by Nova's notification in %v", tSettled.Sub(tCreate).Round(time.Millisecond))

	// The revoked trust: its alarm fires, the action fails for good and is
	// recorded; the collector goes on.
	if code, out := b.do(t, "PATCH", "/v1/alarms/"+revokedAlarm.Alarm.ID, token, `{"enabled": true}`); code != 200 {
		t.Fatalf("enable: %d %s", code, out)
	}
	var failed storage.AlarmHistory
	until(t, 60*time.Second, "the revoked trust's failure in the alarm's history", func() bool {
		_, out := b.do(t, "GET", "/v1/alarms/"+revokedAlarm.Alarm.ID+"/history", token, "")
		_ = json.Unmarshal([]byte(out), &hist)
		for _, h := range hist.History {
			if h.Type == "action" {
				failed = h
				return true
			}
		}
		return false
	})
	if failed.Outcome != "failed" || !strings.Contains(failed.Detail, "trust") || !strings.Contains(failed.Detail, "1 attempt") {
		t.Errorf("the revoked trust's outcome: %+v", failed)
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", coll.Process.Pid)); err != nil || strings.Contains(string(stat), ") Z ") {
		t.Fatalf("the collector stopped: %v %s", err, stat)
	}
	if acts, _ := store.ListActions(ctx, id); len(acts) != 1 {
		t.Errorf("%d actions on the server; the revoked trust must not act", len(acts))
	}
	if s, err := servers.Get(ctx, compute, id).Extract(); err != nil || s.Status != "PAUSED" {
		t.Errorf("server after the revoked trust's alarm: %v %v", s.Status, err)
	}

	// Another project can neither see nor touch the alarm.
	for _, c := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"enabled": false}`}, {"DELETE", ""}} {
		if code, out := b.do(t, c.method, "/v1/alarms/"+pause.Alarm.ID, alt, c.body); code != 404 {
			t.Errorf("alt-member %s: %d %s", c.method, code, out)
		}
	}

	// Deleting the alarm deletes its trust.
	if code, out := b.do(t, "DELETE", "/v1/alarms/"+pause.Alarm.ID, token, ""); code != 204 {
		t.Fatalf("delete: %d %s", code, out)
	}
	if _, err := trusts.Get(ctx, ident, pauseTrust).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("the deleted alarm's trust: %v; want 404", err)
	}
	if t.Failed() {
		t.Logf("vmmon-api's log:\n%s", apiLog.String())
	}
}
