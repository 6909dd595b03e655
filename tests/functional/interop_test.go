//go:build functional

package functional

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/messaging"
)

const python = "/usr/bin/python3" // Debian's, which sees python3-oslo.messaging

func samplesDir(t *testing.T) string {
	t.Helper()
	// Nova's versioned notification samples, with their common payloads
	// resolved, as the collector's unit tests read them.
	d := filepath.Join(bedenv.RepoRoot(), "vmmon", "collector", "testdata")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("Nova's notification samples: %v", err)
	}
	return d
}

// A real oslo.messaging Notifier publishes every instance.* sample of Nova, as
// Nova would on the nova exchange, and our consumer decodes each exactly.
func TestOsloNotifierToVmmon(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	paths, err := filepath.Glob(filepath.Join(samplesDir(t), "instance-*.json"))
	if err != nil || len(paths) < 50 {
		t.Fatalf("found %d instance samples (%v)", len(paths), err)
	}
	sort.Strings(paths)
	topic := uniqueName(t)
	q := topic + "-vmmon"
	cleanup(t, url, nil, []string{q})
	opts := rabbitOptions(t, url)
	got := newCollected()
	startConsumer(t, opts, messaging.Queue{Name: q, Bindings: []messaging.Binding{{
		Exchange:    messaging.Exchange{Name: "nova"},
		RoutingKeys: []string{topic + ".info", topic + ".error"},
	}}}, got.handler(t))

	args := append([]string{filepath.Join(bedenv.RepoRoot(), "tests", "interop", "oslo_notify.py"), url, "nova", topic}, paths...)
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Fatalf("oslo notifier: %v\n%s", err, out)
	}
	msgs := got.wait(t, len(paths), 60*time.Second)
	for i, m := range msgs {
		var sample struct {
			EventType   string          `json:"event_type"`
			Priority    string          `json:"priority"`
			PublisherID string          `json:"publisher_id"`
			Payload     json.RawMessage `json:"payload"`
		}
		raw, _ := os.ReadFile(paths[i])
		if err := json.Unmarshal(raw, &sample); err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(paths[i])
		if m.EventType != sample.EventType || m.PublisherID != sample.PublisherID ||
			m.Priority != strings.ToUpper(sample.Priority) {
			t.Errorf("%s: got %s/%s/%s; want %s/%s/%s", name, m.EventType, m.PublisherID, m.Priority,
				sample.EventType, sample.PublisherID, sample.Priority)
		}
		if !jsonEqual(t, m.Payload, sample.Payload) {
			t.Errorf("%s: payload differs after the trip through oslo.messaging", name)
		}
		if want := "req-interop-" + pad4(i); m.RequestID() != want {
			t.Errorf("%s: request id %q; want %q", name, m.RequestID(), want)
		}
		if m.MessageID == "" || m.Timestamp.IsZero() || time.Since(m.Timestamp) > 10*time.Minute {
			t.Errorf("%s: message id %q, timestamp %v", name, m.MessageID, m.Timestamp)
		}
		if wantKey := topic + "." + strings.ToLower(sample.Priority); got.keys[i] != wantKey {
			t.Errorf("%s: routing key %q; want %q", name, got.keys[i], wantKey)
		}
	}
}

func pad4(i int) string { s := "0000" + itoa(i); return s[len(s)-4:] }
func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// Our publisher's messages reach a real oslo.messaging notification listener
// with event_type, publisher_id, priority, payload and context intact.
func TestVmmonToOsloListener(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	topic := uniqueName(t)
	priorities := []string{messaging.PriorityInfo, messaging.PriorityError, messaging.PrioritySample, messaging.PriorityWarn}
	cmd := exec.Command(python, filepath.Join(bedenv.RepoRoot(), "tests", "interop", "oslo_listen.py"),
		url, "vmmon", topic, itoa(len(priorities)), "30")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	if !lines.Scan() || lines.Text() != "READY" {
		cmd.Wait()
		t.Fatalf("listener did not get ready: %q\n%s", lines.Text(), stderr.String())
	}

	pub := messaging.NewPublisher(rabbitOptions(t, url), messaging.Exchange{Name: "vmmon"})
	defer pub.Close()
	type sentMsg struct {
		m       *messaging.Message
		payload any
	}
	var sent []sentMsg
	for i, p := range priorities {
		payload := map[string]any{
			"vmmon_object.name": "SampleBatch", "vmmon_object.version": "1.0",
			"vmmon_object.data": map[string]any{"seq": i, "host": "host1", "values": []any{1.5, "x", nil, true}},
		}
		m, err := messaging.NewMessage("vmmon-agent:host1", "vmmon.samples."+strings.ToLower(p), p, payload)
		if err != nil {
			t.Fatal(err)
		}
		m.Context["request_id"] = "req-vmmon-" + itoa(i)
		if err := pub.Publish(context.Background(), topic+"."+strings.ToLower(p), m); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, sentMsg{m, payload})
	}
	var received []map[string]any
	for lines.Scan() {
		var r map[string]any
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			t.Fatalf("listener line %q: %v", lines.Text(), err)
		}
		received = append(received, r)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("listener: %v\n%s", err, stderr.String())
	}
	if len(received) != len(sent) {
		t.Fatalf("oslo listener received %d of %d messages\n%s", len(received), len(sent), stderr.String())
	}
	byID := map[string]map[string]any{}
	for _, r := range received {
		id, _ := r["message_id"].(string)
		byID[id] = r
	}
	for _, s := range sent {
		r, ok := byID[s.m.MessageID]
		if !ok {
			t.Errorf("message %s (%s) not received", s.m.MessageID, s.m.EventType)
			continue
		}
		wantPayload, _ := json.Marshal(s.payload)
		gotPayload, _ := json.Marshal(r["payload"])
		if r["event_type"] != s.m.EventType || r["publisher_id"] != s.m.PublisherID ||
			r["priority"] != s.m.Priority || !jsonEqual(t, gotPayload, wantPayload) {
			t.Errorf("oslo received %v; sent %+v", r, s.m)
		}
		if ctxt, _ := r["ctxt"].(map[string]any); ctxt["request_id"] != s.m.Context["request_id"] {
			t.Errorf("context %v; want request_id %v", r["ctxt"], s.m.Context["request_id"])
		}
		if ts, _ := r["timestamp"].(string); ts != s.m.Timestamp.UTC().Format(messaging.TimestampLayout) {
			t.Errorf("timestamp %q; want %q", ts, s.m.Timestamp.UTC().Format(messaging.TimestampLayout))
		}
	}
}
