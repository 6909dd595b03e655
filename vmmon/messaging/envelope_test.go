package messaging

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// wireSample wraps one of Nova's published samples the way oslo.messaging's
// messagingv2 driver puts it on the wire.
func wireSample(t *testing.T, v1 bool) ([]byte, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile("testdata/instance-power_off-end.json")
	if err != nil {
		t.Fatal(err)
	}
	var inner map[string]any
	if err := json.Unmarshal(raw, &inner); err != nil {
		t.Fatal(err)
	}
	inner["message_id"] = "0c6b0d3e-4b57-4a6e-9a43-f7a0dd4ac2a1"
	inner["timestamp"] = "2026-11-28 01:02:03.456789"
	inner["_unique_id"] = "8b5c8f5d2f3c4f0f9f1e5d6c7b8a9f00"
	inner["_context_request_id"] = "req-5a1c2b3d-0000-4000-8000-000000000001"
	inner["_context_project_id"] = "6f70656e737461636b20342065766572"
	inner["_context_roles"] = []any{"member", "reader"}
	b, _ := json.Marshal(inner)
	if v1 {
		return b, inner
	}
	s, _ := json.Marshal(string(b))
	return []byte(`{"oslo.version": "2.0", "oslo.message": ` + string(s) + `}`), inner
}

func TestDecodeNovaSample(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		body, inner := wireSample(t, v1)
		m, err := Decode(body)
		if err != nil {
			t.Fatalf("v1=%v: %v", v1, err)
		}
		if m.EventType != "instance.power_off.end" || m.Priority != "INFO" ||
			m.PublisherID != inner["publisher_id"] || m.MessageID != "0c6b0d3e-4b57-4a6e-9a43-f7a0dd4ac2a1" ||
			m.UniqueID != "8b5c8f5d2f3c4f0f9f1e5d6c7b8a9f00" {
			t.Errorf("v1=%v: header fields wrong: %+v", v1, m)
		}
		if want := time.Date(2026, 11, 28, 1, 2, 3, 456789000, time.UTC); !m.Timestamp.Equal(want) {
			t.Errorf("timestamp = %v; want %v", m.Timestamp, want)
		}
		if m.RequestID() != "req-5a1c2b3d-0000-4000-8000-000000000001" {
			t.Errorf("request id = %q", m.RequestID())
		}
		if roles, _ := m.Context["roles"].([]any); len(roles) != 2 {
			t.Errorf("context roles = %v", m.Context["roles"])
		}
		want, _ := json.Marshal(inner["payload"])
		var got any
		_ = json.Unmarshal(m.Payload, &got)
		gotb, _ := json.Marshal(got)
		if !bytes.Equal(gotb, want) {
			t.Errorf("payload differs")
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	m, err := NewMessage("vmmon-agent:host1", "vmmon.samples", PriorityInfo, map[string]any{"seq": 7})
	if err != nil {
		t.Fatal(err)
	}
	m.Context["request_id"] = "req-1"
	body, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil || env["oslo.version"] != "2.0" {
		t.Fatalf("envelope = %s (%v)", body, err)
	}
	if _, ok := env["oslo.message"].(string); !ok {
		t.Fatalf("oslo.message is not a string: %s", body)
	}
	back, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if back.MessageID != m.MessageID || back.EventType != m.EventType || back.PublisherID != m.PublisherID ||
		back.Priority != "INFO" || back.RequestID() != "req-1" || string(back.Payload) != `{"seq":7}` ||
		back.UniqueID != m.UniqueID || len(back.UniqueID) != 32 ||
		!back.Timestamp.Equal(m.Timestamp.Truncate(time.Microsecond)) {
		t.Errorf("round trip: %+v\n   from %+v", back, m)
	}
	if len(m.MessageID) != 36 || m.MessageID[14] != '4' {
		t.Errorf("message id %q is not a version 4 UUID", m.MessageID)
	}
}

func TestDecodeErrors(t *testing.T) {
	huge := `{"event_type": "x", "payload": "` + strings.Repeat("a", MaxBodyBytes) + `"}`
	cases := map[string]string{
		"truncated":          `{"oslo.version": "2.0", "oslo.message": "{\"event_type\"`,
		"not json":           `hello`,
		"array":              `[1, 2]`,
		"wrong version":      `{"oslo.version": "1.0", "oslo.message": "{}"}`,
		"message not string": `{"oslo.version": "2.0", "oslo.message": {"event_type": "x"}}`,
		"inner truncated":    `{"oslo.version": "2.0", "oslo.message": "{\"event_type\": "}`,
		"no event type":      `{"payload": {}}`,
		"event type number":  `{"event_type": 5}`,
		"bad timestamp":      `{"event_type": "x", "timestamp": "yesterday"}`,
		"priority object":    `{"event_type": "x", "priority": {}}`,
		"huge":               huge,
	}
	for name, body := range cases {
		if _, err := Decode([]byte(body)); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: err = %v; want ErrDecode", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	body, _ := os.ReadFile("testdata/instance-power_off-end.json")
	f.Add(body)
	f.Add([]byte(`{"oslo.version": "2.0", "oslo.message": "{\"event_type\": \"a\"}"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if m.EventType == "" {
			t.Fatal("decoded a message without event_type")
		}
		if _, err := Encode(m); err != nil {
			t.Fatalf("re-encoding a decoded message: %v", err)
		}
	})
}

func TestBackoff(t *testing.T) {
	o := Options{RetryInterval: time.Second, RetryBackoff: 2 * time.Second, IntervalMax: 6 * time.Second}
	var got []time.Duration
	for i := 0; i < 5; i++ {
		got = append(got, o.backoff(i))
	}
	want := []time.Duration{1 * time.Second, 3 * time.Second, 5 * time.Second, 6 * time.Second, 6 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff = %v; want %v", got, want)
		}
	}
}
