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

// encodeBefore is Encode as it was written until the Encoder: through maps,
// json.RawMessage and a second json.Marshal of the inner message as a string.
// The Encoder must write the same bytes.
func encodeBefore(m *Message) ([]byte, error) {
	inner := map[string]any{
		"message_id":   m.MessageID,
		"publisher_id": m.PublisherID,
		"event_type":   m.EventType,
		"priority":     strings.ToUpper(m.Priority),
		"timestamp":    m.Timestamp.UTC().Format(TimestampLayout),
		"payload":      m.Payload,
	}
	if m.Payload == nil {
		inner["payload"] = map[string]any{}
	}
	if m.UniqueID != "" {
		inner["_unique_id"] = m.UniqueID
	}
	for k, v := range m.Context {
		inner["_context_"+k] = v
	}
	b, err := json.Marshal(inner)
	if err != nil {
		return nil, err
	}
	s, _ := json.Marshal(string(b))
	return json.Marshal(envelope{Version: "2.0", Message: s})
}

func TestEncoderWritesWhatEncodeWrote(t *testing.T) {
	ts := time.Date(2026, 11, 28, 1, 2, 3, 456789123, time.FixedZone("x", 3600))
	payloads := []string{`{"a":1,"b":[true,null,"x"]}`, ` { "spaced" : "<&>" , "u":"\u2028 é \ud83d\ude00" } `, `"just a string"`, `[]`, `{}`}
	contexts := []map[string]any{nil, {}, {"request_id": "req-1", "roles": []any{"a", "<b>"}, "is_admin": true, "zeta": 1.5e-7}}
	var e Encoder
	n := 0
	for _, p := range payloads {
		for _, ctx := range contexts {
			for _, uid := range []string{"", "8b5c8f5d2f3c4f0f9f1e5d6c7b8a9f00"} {
				m := &Message{MessageID: "m-1", PublisherID: "vmmon-agent:h<1>", EventType: "vmmon.samples",
					Priority: "info", Timestamp: ts, Payload: json.RawMessage(p), Context: ctx, UniqueID: uid}
				want, err := encodeBefore(m)
				if err != nil {
					t.Fatal(err)
				}
				// Encode, the Encoder with the payload taken from the message,
				// and with the payload written by a writer.
				got1, err1 := Encode(m)
				got2, err2 := e.Encode(m, nil)
				compact, _ := json.Marshal(json.RawMessage(p))
				got3, err3 := e.Encode(m, func(dst []byte, w JSONWriter) ([]byte, error) { return w.JSON(dst, compact), nil })
				if err := errors.Join(err1, err2, err3); err != nil {
					t.Fatal(err)
				}
				for i, got := range [][]byte{got1, got2, got3} {
					if !bytes.Equal(got, want) {
						t.Errorf("payload %s, context %v, unique id %q, way %d:\n got %s\nwant %s", p, ctx, uid, i, got, want)
					}
				}
				n++
			}
		}
	}
	m := &Message{EventType: "x", Timestamp: ts}
	want, _ := encodeBefore(m)
	if got, _ := Encode(m); !bytes.Equal(got, want) {
		t.Errorf("nil payload:\n got %s\nwant %s", got, want)
	}
	if _, err := Encode(&Message{EventType: "x", Context: map[string]any{"c": make(chan int)}}); err == nil {
		t.Error("an unencodable context value was accepted")
	}
	if _, err := e.Encode(&Message{EventType: "x"}, func(dst []byte, _ JSONWriter) ([]byte, error) { return dst, errors.New("no") }); err == nil {
		t.Error("a payload writer's error was dropped")
	}
}

// The bodies an Encoder returns stay intact after its next call.
func TestEncoderBodiesAreTheCallers(t *testing.T) {
	var e Encoder
	a, _ := e.Encode(&Message{EventType: "a", Payload: json.RawMessage(`{"n":1}`)}, nil)
	keep := append([]byte(nil), a...)
	_, _ = e.Encode(&Message{EventType: "b", Payload: json.RawMessage(`{"n":2222222}`)}, nil)
	if !bytes.Equal(a, keep) {
		t.Errorf("first body changed to %s", a)
	}
}

// A body up to headroom percent larger than the last of its event type is
// written into the buffer reserved for it, never copied into a larger one.
func TestEncoderReservesHeadroom(t *testing.T) {
	payload := func(n int) PayloadWriter {
		return func(dst []byte, _ JSONWriter) ([]byte, error) {
			dst = append(dst, '"')
			for range n {
				dst = append(dst, 'x')
			}
			return append(dst, '"'), nil
		}
	}
	for _, c := range []struct {
		name          string
		first, second int
		fits          bool
	}{
		{"the same size", 100_000, 100_000, true},
		{"larger by a third, as a second batch by its rates", 100_000, 134_000, true},
		{"larger than the headroom", 100_000, 100_000 * (100 + headroom + 5) / 100, false},
		{"smaller", 100_000, 10_000, true},
	} {
		var e Encoder
		first, err := e.Encode(&Message{EventType: "vmmon.samples"}, payload(c.first))
		if err != nil {
			t.Fatal(err)
		}
		reserved := e.reserve("vmmon.samples")
		if reserved < len(first)*(100+headroom)/100 {
			t.Errorf("%s: %d bytes reserved after a body of %d", c.name, reserved, len(first))
		}
		second, err := e.Encode(&Message{EventType: "vmmon.samples"}, payload(c.second))
		if err != nil {
			t.Fatal(err)
		}
		if fits := cap(second) == reserved; fits != c.fits {
			t.Errorf("%s: a body of %d bytes after one of %d: written in its reserved buffer %v, want %v (cap %d, reserved %d)",
				c.name, len(second), len(first), fits, c.fits, cap(second), reserved)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>\"\\\b\f\n\r\t\x00\x1f\x7f", "é\u2028\u2029😀", "\xff\xfe", "a\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
		if got := AppendJSONString([]byte("x"), []byte(s)); !bytes.Equal(got[1:], want) {
			t.Errorf("%q as bytes: got %s, want %s", s, got[1:], want)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	var p bytes.Buffer
	p.WriteString(`{"instances":[`)
	for i := 0; i < 4000; i++ {
		if i > 0 {
			p.WriteByte(',')
		}
		p.WriteString(`{"name":"disk.device.read.bytes.rate","device":"vda","value":12345.678,"unit":"B/s","kind":"rate"}`)
	}
	p.WriteString(`]}`)
	m := &Message{MessageID: NewUUID(), PublisherID: "vmmon-agent:h", EventType: "vmmon.samples", Priority: PriorityInfo,
		Timestamp: time.Now(), Payload: p.Bytes(), Context: map[string]any{}}
	b.Run("before", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = encodeBefore(m)
		}
	})
	b.Run("encoder", func(b *testing.B) {
		var e Encoder
		w := func(dst []byte, jw JSONWriter) ([]byte, error) { return jw.JSON(dst, m.Payload), nil }
		for i := 0; i < b.N; i++ {
			_, _ = e.Encode(m, w)
		}
	})
}

// A quoted JSONWriter writes what escaping plain JSON as a string gives.
func FuzzJSONWriter(f *testing.F) {
	for _, s := range []string{`{"a":"b\\"c","d":1}`, "<\u00e9>", "plain", "a\xffb\"", "\"\\\u2028\x00"} {
		f.Add(s)
	}
	quoted := func(text []byte) string { b, _ := json.Marshal(string(text)); return string(b[1 : len(b)-1]) }
	f.Fuzz(func(t *testing.T, s string) {
		plain, _ := json.Marshal(s)
		q := JSONWriter{Quoted: true}
		if got := q.String([]byte("pre"), s); string(got) != "pre"+quoted(plain) {
			t.Errorf("String(%q) = %s, want %s", s, got[3:], quoted(plain))
		}
		if got := q.JSON(nil, plain); string(got) != quoted(plain) {
			t.Errorf("JSON(%s) = %s, want %s", plain, got, quoted(plain))
		}
		if got := (JSONWriter{}).String(nil, s); !bytes.Equal(got, plain) {
			t.Errorf("plain String(%q) = %s", s, got)
		}
	})
}
