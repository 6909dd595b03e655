//go:build functional

package functional

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

// keystoneAPIConfig is a vmmon-api configuration with Keystone
// authentication as the vmmon service user on an embedded store (synced),
// plus extra lines; it returns the file, the port and the store's path.
func keystoneAPIConfig(t *testing.T, env bedenv.Env, extra string) (string, int, string) {
	t.Helper()
	port := freePort(t)
	store := filepath.Join(t.TempDir(), "store")
	cfg := writeConfig(t, fmt.Sprintf("[DEFAULT]\ntransport_url = %s\n%s\n[api]\nbind_host = 127.0.0.1\nbind_port = %d\n"+
		"[storage]\ndriver = embedded\npath = %s\n"+
		"[keystone_authtoken]\nauth_url = %s\nusername = vmmon\npassword = %s\nproject_name = service\n",
		env.Get(t, "VMMON_TRANSPORT_URL"), extra, port, store, env.Get(t, "VMMON_KEYSTONE_URL"), env.Get(t, "VMMON_TEST_PASSWORD")))
	if out, err := exec.Command(buildCmd(t, "vmmon/cmd/vmmon-manage"), "db", "sync", "--config-file", cfg).CombinedOutput(); err != nil {
		t.Fatalf("db sync: %v %s", err, out)
	}
	return cfg, port, store
}

// seedInstances writes instances into an embedded store before vmmon-api opens it.
func seedInstances(t *testing.T, store string, list ...storage.Instance) {
	t.Helper()
	st, err := embedded.Open(store, storage.DefaultRetention)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, in := range list {
		if err := st.PutInstance(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
}

// openStream opens an instance's live stream with token.
func openStream(t *testing.T, base, id, token string) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/instances/"+id+"/stream", nil)
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body)
}

// nextSample reads Server-Sent Events until a sample arrives and returns
// its fields, or fails after d.
func nextSample(t *testing.T, rd *bufio.Reader, d time.Duration) map[string]string {
	t.Helper()
	got := make(chan map[string]string, 1)
	go func() {
		ev := map[string]string{}
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				got <- ev
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				if ev["event"] == "sample" {
					got <- ev
					return
				}
				ev = map[string]string{}
				continue
			}
			if k, v, ok := strings.Cut(line, ": "); ok && k != "" {
				ev[k] = v
			}
		}
	}()
	select {
	case ev := <-got:
		return ev
	case <-time.After(d):
		t.Fatalf("no sample within %v", d)
		return nil
	}
}

// The live stream of the vmmon-api binary, fed through its own RabbitMQ
// queue by a real agent reading the bed's QEMU guest: a member of the
// guest's project receives its samples without the host, an administrator
// with it, and another project's member gets 404.
func TestAPILiveStreamFromAgent(t *testing.T) {
	env := bedenv.Load(t)
	ra := startAgent(t, env.Get(t, "VMMON_LIBVIRT_URI"), 2*time.Second)
	cfg, port, store := keystoneAPIConfig(t, env, "control_exchange = "+ra.exchange+"\n[oslo_messaging_rabbit]\namqp_durable_queues = true")
	guest := env.Get(t, "VMMON_GUEST_UUID")
	seedInstances(t, store, storage.Instance{ID: guest, ProjectID: env.Get(t, "VMMON_PROJECT_DEMO_ID"), Name: "guest", Host: ra.host,
		State: "active", UpdatedAt: time.Now(), Source: "nova"})
	base, _, apiLog := runAPI(t, cfg, port)
	pw := env.Get(t, "VMMON_TEST_PASSWORD")

	member, mrd := openStream(t, base, guest, tokenFor(t, env, "demo-member", "demo", pw))
	admin, ard := openStream(t, base, guest, tokenFor(t, env, "admin", "admin", env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD")))
	if member.StatusCode != 200 || admin.StatusCode != 200 {
		t.Fatalf("streams: member %d, admin %d\n%s", member.StatusCode, admin.StatusCode, apiLog.String())
	}
	if alt, _ := openStream(t, base, guest, tokenFor(t, env, "alt-member", "alt-demo", pw)); alt.StatusCode != 404 {
		t.Errorf("another project's stream: %d; want 404", alt.StatusCode)
	}
	ev := nextSample(t, mrd, 20*time.Second)
	if !strings.Contains(ev["data"], `"instance_id":"`+guest+`"`) || !strings.Contains(ev["data"], "cpu") || ev["id"] == "" {
		t.Errorf("member's sample: %v", ev)
	}
	if strings.Contains(ev["data"], ra.host) {
		t.Errorf("a member's sample shows the host: %s", ev["data"])
	}
	if ev := nextSample(t, ard, 20*time.Second); !strings.Contains(ev["data"], `"host":"`+ra.host+`"`) {
		t.Errorf("administrator's sample has no host: %v", ev)
	}
	// The samples keep coming, with increasing ids.
	if next := nextSample(t, mrd, 20*time.Second); next["id"] == ev["id"] {
		t.Errorf("ids do not advance: %v then %v", ev, next)
	}
}
