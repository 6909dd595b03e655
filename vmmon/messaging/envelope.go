package messaging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
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
// driver does: the message's keys sorted, as a JSON string under
// "oslo.message".
func Encode(m *Message) ([]byte, error) {
	var e Encoder
	return e.Encode(m, nil)
}

// An Encoder writes messages as [Encode] does, byte for byte. With a payload
// writer it writes in one pass: the inner message straight in its escaped
// form, as the string it is in the envelope, the payload included, so that
// nothing is validated, compacted, copied or escaped again. The zero Encoder
// is ready; it is not safe for concurrent use.
type Encoder struct {
	inner []byte         // for messages whose payload is m.Payload
	sizes map[string]int // of the last message of each event type: the next one's first guess
}

// A JSONWriter writes JSON as encoding/json does (HTML characters, U+2028
// and U+2029 escaped, invalid UTF-8 replaced), plain or, when Quoted, escaped
// once more as the inside of a JSON string (quotes and backslashes escaped).
type JSONWriter struct{ Quoted bool }

// Text appends JSON text that holds no backslash: keys and punctuation.
func (w JSONWriter) Text(dst []byte, text string) []byte {
	if !w.Quoted {
		return append(dst, text...)
	}
	for {
		i := strings.IndexByte(text, '"')
		if i < 0 {
			return append(dst, text...)
		}
		dst = append(append(dst, text[:i]...), '\\', '"')
		text = text[i+1:]
	}
}

// String appends s as a JSON string.
func (w JSONWriter) String(dst []byte, s string) []byte {
	if !w.Quoted {
		return AppendJSONString(dst, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || !htmlSafe[c] {
			var tmp [128]byte
			return w.JSON(dst, AppendJSONString(tmp[:0], s))
		}
	}
	dst = append(dst, '\\', '"')
	dst = append(dst, s...)
	return append(dst, '\\', '"')
}

// JSON appends JSON text that encoding/json wrote.
func (w JSONWriter) JSON(dst, text []byte) []byte {
	if !w.Quoted {
		return append(dst, text...)
	}
	// Such text holds no control character, no HTML character, no U+2028
	// or U+2029 and no invalid UTF-8 outside escapes: only its quotes and
	// backslashes need escaping again.
	for {
		i := 0
		for i < len(text) && text[i] != '"' && text[i] != '\\' {
			i++
		}
		dst = append(dst, text[:i]...)
		if i == len(text) {
			return dst
		}
		dst = append(dst, '\\', text[i])
		text = text[i+1:]
	}
}

// PayloadWriter appends a message's payload, compact JSON, to dst with w.
type PayloadWriter func(dst []byte, w JSONWriter) ([]byte, error)

// Encode returns m in the oslo 2.0 envelope, in a new slice the caller may
// keep. The payload is what payload writes when it is not nil, else m.Payload
// ({} when nil).
func (e *Encoder) Encode(m *Message, payload PayloadWriter) ([]byte, error) {
	if m.EventType == "" {
		return nil, errors.New("messaging: a message needs an event_type")
	}
	const head, tail = `{"oslo.version":"2.0","oslo.message":"`, `"}`
	if e.sizes == nil {
		e.sizes = map[string]int{}
	}
	var (
		out = make([]byte, 0, e.reserve(m.EventType))
		err error
	)
	out = append(out, head...)
	if payload != nil {
		out, err = appendInner(out, m, payload, JSONWriter{Quoted: true})
	} else {
		// m.Payload may hold what JSONWriter.JSON does not expect (invalid
		// UTF-8): the inner message is written, then escaped as a whole.
		e.inner, err = appendInner(e.inner[:0], m, nil, JSONWriter{})
		out = AppendJSONString(out[:len(head)-1], e.inner)
		out = out[:len(out)-1]
		if cap(e.inner) > 1<<20 {
			e.inner = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("messaging: encoding %s: %w", m.EventType, err)
	}
	out = append(out, tail...)
	e.sizes[m.EventType] = len(out)
	return out, nil
}

// headroom is how much larger than the last message of its event type an
// [Encoder] expects the next to be, in percent: the body is written into a
// buffer of that size. A body that outgrows its buffer is copied into a larger
// one while both are in memory, so for a large message (an agent's batch,
// hundreds of KiB) a buffer too small costs far more memory, for that moment,
// than one too large. An agent's second batch is the first with rates (9 of
// its 25 meters), larger than the first by as many metrics.
const headroom = 50

// reserve is the size of the buffer for the next body of eventType.
func (e *Encoder) reserve(eventType string) int {
	size := e.sizes[eventType]
	return max(size+size*headroom/100, 512)
}

// appendInner writes the message's keys in the order encoding/json writes a
// map's: sorted, so _context_* and _unique_id come first.
func appendInner(b []byte, m *Message, payload PayloadWriter, w JSONWriter) ([]byte, error) {
	b = append(b, '{')
	if len(m.Context) > 0 {
		keys := make([]string, 0, len(m.Context))
		for k := range m.Context {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, err := json.Marshal(m.Context[k])
			if err != nil {
				return b, err
			}
			b = w.String(b, "_context_"+k)
			b = append(b, ':')
			b = w.JSON(b, v)
			b = append(b, ',')
		}
	}
	if m.UniqueID != "" {
		b = w.Text(b, `"_unique_id":`)
		b = w.String(b, m.UniqueID)
		b = append(b, ',')
	}
	b = w.Text(b, `"event_type":`)
	b = w.String(b, m.EventType)
	b = w.Text(b, `,"message_id":`)
	b = w.String(b, m.MessageID)
	b = w.Text(b, `,"payload":`)
	var err error
	switch {
	case payload != nil:
		b, err = payload(b, w)
	case m.Payload == nil:
		b = append(b, "{}"...)
	default:
		var p []byte
		if p, err = json.Marshal(m.Payload); err == nil { // validated and compacted, as Encode always did
			b = w.JSON(b, p)
		}
	}
	if err != nil {
		return b, err
	}
	b = w.Text(b, `,"priority":`)
	b = w.String(b, strings.ToUpper(m.Priority))
	b = w.Text(b, `,"publisher_id":`)
	b = w.String(b, m.PublisherID)
	b = w.Text(b, `,"timestamp":"`)
	b = m.Timestamp.UTC().AppendFormat(b, TimestampLayout)
	return w.Text(b, `"}`), nil
}

const hexDigits = "0123456789abcdef"

// htmlSafe marks the ASCII bytes encoding/json writes as they are in a string
// (it escapes the others, HTML's <, > and & included).
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// AppendJSONString appends s as a JSON string exactly as encoding/json writes
// it: HTML characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced.
func AppendJSONString[S []byte | string](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
