package messaging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TimestampLayout is how oslo.messaging writes a notification's timestamp
// (UTC, no zone).
const TimestampLayout = "2006-01-02 15:04:05.000000"

// Priorities oslo.messaging uses for notifications, lower-cased as on the wire.
const (
	PriorityAudit    = "AUDIT"
	PriorityDebug    = "DEBUG"
	PriorityInfo     = "INFO"
	PriorityWarn     = "WARN"
	PriorityError    = "ERROR"
	PriorityCritical = "CRITICAL"
	PrioritySample   = "SAMPLE"
)

// Message is one oslo.messaging notification.
type Message struct {
	MessageID   string
	PublisherID string
	EventType   string
	Priority    string
	Timestamp   time.Time
	Payload     json.RawMessage
	// Context holds the _context_* keys without their prefix (request_id,
	// project_id, user_id, global_request_id, ...).
	Context map[string]any
	// UniqueID is oslo's _unique_id, used by it to drop duplicates.
	UniqueID string
}

// RequestID returns the context's request_id, or "".
func (m *Message) RequestID() string { s, _ := m.Context["request_id"].(string); return s }

// ErrDecode is wrapped by every decoding error.
var ErrDecode = errors.New("not an oslo.messaging notification")

// MaxBodyBytes is the largest body [Decode] accepts.
const MaxBodyBytes = 16 << 20

type envelope struct {
	Version string          `json:"oslo.version"`
	Message json.RawMessage `json:"oslo.message"`
}

// Decode reads a message in the oslo 2.0 envelope or the bare (1.0) form.
func Decode(body []byte) (*Message, error) {
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrDecode, len(body), MaxBodyBytes)
	}
	inner := body
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	if env.Version != "" || env.Message != nil {
		if !strings.HasPrefix(env.Version, "2.") {
			return nil, fmt.Errorf("%w: unsupported oslo.version %q", ErrDecode, env.Version)
		}
		var s string
		if err := json.Unmarshal(env.Message, &s); err != nil {
			return nil, fmt.Errorf("%w: oslo.message is not a JSON string", ErrDecode)
		}
		inner = []byte(s)
	}
	return decodeInner(inner)
}

func decodeInner(b []byte) (*Message, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	m := &Message{Context: map[string]any{}}
	str := func(key string, dst *string) error {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%w: %s is not a string", ErrDecode, key)
		}
		return nil
	}
	var ts string
	for key, dst := range map[string]*string{
		"message_id": &m.MessageID, "publisher_id": &m.PublisherID, "event_type": &m.EventType,
		"priority": &m.Priority, "timestamp": &ts, "_unique_id": &m.UniqueID,
	} {
		if err := str(key, dst); err != nil {
			return nil, err
		}
	}
	if m.EventType == "" {
		return nil, fmt.Errorf("%w: no event_type", ErrDecode)
	}
	m.Priority = strings.ToUpper(m.Priority)
	if ts != "" {
		t, err := parseTimestamp(ts)
		if err != nil {
			return nil, fmt.Errorf("%w: timestamp %q: %v", ErrDecode, ts, err)
		}
		m.Timestamp = t
	}
	m.Payload = raw["payload"]
	for key, v := range raw {
		if name, ok := strings.CutPrefix(key, "_context_"); ok {
			var val any
			if err := json.Unmarshal(v, &val); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrDecode, key, err)
			}
			m.Context[name] = val
		}
	}
	return m, nil
}

func parseTimestamp(s string) (time.Time, error) {
	for _, layout := range []string{TimestampLayout, "2006-01-02 15:04:05", time.RFC3339Nano, "2006-01-02T15:04:05.999999"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a timestamp oslo writes")
}

// Encode writes m in the oslo 2.0 envelope, as oslo.messaging's messagingv2
// driver does.
func Encode(m *Message) ([]byte, error) {
	if m.EventType == "" {
		return nil, errors.New("messaging: a message needs an event_type")
	}
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
		return nil, fmt.Errorf("messaging: encoding %s: %w", m.EventType, err)
	}
	return json.Marshal(envelope{Version: "2.0", Message: mustJSONString(b)})
}

func mustJSONString(b []byte) json.RawMessage {
	s, _ := json.Marshal(string(b)) // marshalling a string cannot fail
	return s
}
