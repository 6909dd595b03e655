package agentmsg

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"opendev.org/openstack/vmmon/vmmon/messaging"
)

// The agent writes a batch's JSON itself, field by field, byte for byte as
// encoding/json writes it (TestAppendBatchIsJSONMarshal holds it to that,
// every field included): a batch of 200 instances holds some 5,000 metrics,
// and reflection costs the agent more than reading them.

// AppendPayload appends data in its versioned payload — what [Wrap] returns —
// to dst with w (plain, or escaped as the inside of the envelope's string). A
// *Batch or a [LazyBatch] is written directly; anything else through
// encoding/json.
func AppendPayload(dst []byte, w messaging.JSONWriter, name string, data any) ([]byte, error) {
	dst = w.Text(dst, `{"vmmon_object.name":`)
	dst = w.String(dst, name)
	dst = w.Text(dst, `,"vmmon_object.version":`)
	dst = w.String(dst, Version)
	dst = w.Text(dst, `,"vmmon_object.data":`)
	var err error
	switch d := data.(type) {
	case *Batch:
		dst, err = appendBatch(dst, w, d, nil)
	case Batch:
		dst, err = appendBatch(dst, w, &d, nil)
	case LazyBatch:
		dst, err = appendBatch(dst, w, d.Batch, d.Metrics)
	default:
		var b []byte
		if b, err = json.Marshal(data); err == nil {
			dst = w.JSON(dst, b)
		}
	}
	if err != nil {
		return dst, fmt.Errorf("agentmsg: encoding %s: %w", name, err)
	}
	return append(dst, '}'), nil
}

// A LazyBatch is a batch whose metrics are made while it is written, one
// instance at a time, so that a whole batch's metrics (some 5,000 for 200
// instances) are never in memory at once. It is written as the [Batch] would
// be whose instance i has, after its own Metrics, those Metrics(i, dst)
// appends to dst. Metrics is called once for each instance, in order; dst's
// memory is reused from instance to instance.
type LazyBatch struct {
	*Batch
	Metrics func(i int, dst []Metric) []Metric
}

// AppendBatch appends b as JSON to dst, as json.Marshal(b) writes it.
func AppendBatch(dst []byte, b *Batch) ([]byte, error) {
	return appendBatch(dst, messaging.JSONWriter{}, b, nil)
}

func appendBatch(dst []byte, w messaging.JSONWriter, b *Batch, metrics func(int, []Metric) []Metric) ([]byte, error) {
	if b == nil {
		return append(dst, "null"...), nil
	}
	var err error
	dst = w.Text(dst, `{"host":`)
	dst = w.String(dst, b.Host)
	dst = w.Text(dst, `,"stream":`)
	dst = w.String(dst, b.Stream)
	dst = w.Text(dst, `,"seq":`)
	dst = strconv.AppendUint(dst, b.Seq, 10)
	dst = w.Text(dst, `,"agent_version":`)
	dst = w.String(dst, b.AgentVersion)
	dst = w.Text(dst, `,"timestamp":`)
	if dst, err = appendTime(dst, w, b.Time); err != nil {
		return dst, err
	}
	dst = w.Text(dst, `,"interval_s":`)
	if dst, err = appendFloat(dst, b.Interval); err != nil {
		return dst, err
	}
	dst = w.Text(dst, `,"duration_ms":`)
	if dst, err = appendFloat(dst, b.DurationMS); err != nil {
		return dst, err
	}
	dst = w.Text(dst, `,"instances":`)
	if b.Instances == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		var more []Metric
		for i := range b.Instances {
			if i > 0 {
				dst = append(dst, ',')
			}
			if metrics != nil {
				more = metrics(i, more[:0])
			}
			if dst, err = appendInstance(dst, w, &b.Instances[i], more); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

// appendInstance writes in with more after its metrics.
func appendInstance(dst []byte, w messaging.JSONWriter, in *Instance, more []Metric) ([]byte, error) {
	var err error
	dst = w.Text(dst, `{"uuid":`)
	dst = w.String(dst, in.UUID)
	dst = w.Text(dst, `,"domain_name":`)
	dst = w.String(dst, in.Name)
	dst = w.Text(dst, `,"nova":`)
	dst = appendNova(dst, w, in.Nova)
	dst = w.Text(dst, `,"state":`)
	dst = w.String(dst, in.State)
	dst = w.Text(dst, `,"state_reason":`)
	dst = strconv.AppendInt(dst, int64(in.Reason), 10)
	dst = w.Text(dst, `,"timestamp":`)
	if dst, err = appendTime(dst, w, in.Time); err != nil {
		return dst, err
	}
	dst = w.Text(dst, `,"monotonic_ns":`)
	dst = strconv.AppendInt(dst, in.MonoNS, 10)
	dst = w.Text(dst, `,"metrics":`)
	if in.Metrics == nil && len(more) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		first := true
		for _, ms := range [2][]Metric{in.Metrics, more} {
			for i := range ms {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				if dst, err = appendMetric(dst, w, &ms[i]); err != nil {
					return dst, err
				}
			}
		}
		dst = append(dst, ']')
	}
	if in.TimedOut {
		dst = w.Text(dst, `,"timed_out":true`)
	}
	if len(in.Errors) > 0 {
		dst = w.Text(dst, `,"errors":`)
		dst = appendStrings(dst, w, in.Errors)
	}
	return append(dst, '}'), nil
}

func appendMetric(dst []byte, w messaging.JSONWriter, m *Metric) ([]byte, error) {
	var err error
	dst = keyName.put(dst, w)
	dst = w.String(dst, m.Name)
	if m.Device != "" {
		dst = keyDevice.put(dst, w)
		dst = w.String(dst, m.Device)
	}
	dst = keyValue.put(dst, w)
	if dst, err = appendFloat(dst, m.Value); err != nil {
		return dst, err
	}
	dst = keyUnit.put(dst, w)
	dst = w.String(dst, m.Unit)
	dst = keyKind.put(dst, w)
	dst = w.String(dst, m.Kind)
	return append(dst, '}'), nil
}

// text is JSON text written plain and quoted, both made once: a metric's
// keys are written some 5,000 times a batch.
type text [2]string

func newText(s string) text { return text{s, string(messaging.JSONWriter{Quoted: true}.Text(nil, s))} }

func (t *text) put(dst []byte, w messaging.JSONWriter) []byte {
	if w.Quoted {
		return append(dst, t[1]...)
	}
	return append(dst, t[0]...)
}

var (
	keyName   = newText(`{"name":`)
	keyDevice = newText(`,"device":`)
	keyValue  = newText(`,"value":`)
	keyUnit   = newText(`,"unit":`)
	keyKind   = newText(`,"kind":`)
)

func appendNova(dst []byte, w messaging.JSONWriter, n *Nova) []byte {
	if n == nil {
		return append(dst, "null"...)
	}
	dst = w.Text(dst, `{"name":`)
	dst = w.String(dst, n.Name)
	dst = w.Text(dst, `,"project_id":`)
	dst = w.String(dst, n.ProjectID)
	dst = w.Text(dst, `,"project_name":`)
	dst = w.String(dst, n.ProjectName)
	dst = w.Text(dst, `,"user_id":`)
	dst = w.String(dst, n.UserID)
	dst = w.Text(dst, `,"user_name":`)
	dst = w.String(dst, n.UserName)
	f := &n.Flavor
	dst = w.Text(dst, `,"flavor":{"name":`)
	dst = w.String(dst, f.Name)
	for _, kv := range [...]struct {
		key string
		v   int
	}{{`,"vcpus":`, f.VCPUs}, {`,"memory_mb":`, f.MemoryMB}, {`,"disk_gb":`, f.DiskGB}, {`,"swap_mb":`, f.SwapMB}, {`,"ephemeral_gb":`, f.Ephemeral}} {
		dst = w.Text(dst, kv.key)
		dst = strconv.AppendInt(dst, int64(kv.v), 10)
	}
	dst = append(dst, '}')
	dst = appendOmitEmpty(dst, w, `,"root_type":`, n.RootType)
	dst = appendOmitEmpty(dst, w, `,"root_id":`, n.RootID)
	if len(n.Ports) > 0 {
		dst = w.Text(dst, `,"ports":[`)
		for i := range n.Ports {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = w.Text(dst, `{"id":`)
			dst = w.String(dst, n.Ports[i].ID)
			if len(n.Ports[i].IPs) > 0 {
				dst = w.Text(dst, `,"ips":`)
				dst = appendStrings(dst, w, n.Ports[i].IPs)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = appendOmitEmpty(dst, w, `,"created":`, n.Created)
	dst = appendOmitEmpty(dst, w, `,"package":`, n.Package)
	dst = w.Text(dst, `,"namespace":`)
	dst = w.String(dst, n.Namespace)
	return append(dst, '}')
}

func appendOmitEmpty(dst []byte, w messaging.JSONWriter, key, s string) []byte {
	if s == "" {
		return dst
	}
	return w.String(w.Text(dst, key), s)
}

func appendStrings(dst []byte, w messaging.JSONWriter, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = w.String(dst, s)
	}
	return append(dst, ']')
}

// appendFloat writes f as encoding/json writes a float64 (as ES6 does:
// exponents below 1e-6 and from 1e21 on); NaN and infinities are errors.
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // e-09 to e-9
		dst = dst[:n-1]
	}
	return dst, nil
}

// appendTime writes t as its MarshalJSON does (RFC 3339 with nanoseconds).
func appendTime(dst []byte, w messaging.JSONWriter, t time.Time) ([]byte, error) {
	if y := t.Year(); t.Location() == time.UTC && y >= 0 && y <= 9999 {
		dst = w.Text(dst, `"`)
		dst = t.AppendFormat(dst, time.RFC3339Nano)
		return w.Text(dst, `"`), nil
	}
	b, err := t.MarshalJSON() // zones and out-of-range years, with its checks
	return w.JSON(dst, b), err
}
