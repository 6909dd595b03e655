package collector

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Reasons a message, an instance or a metric is refused. They label the
// collector's metrics, so the set is small and fixed.
const (
	reasonUndecodable = "undecodable"         // not an oslo notification, or a payload of the wrong shape
	reasonVersion     = "unsupported_version" // a payload of another major version or object
	reasonRoutingKey  = "unknown_routing_key"
	reasonUUID        = "invalid_uuid"
	reasonName        = "invalid_name"  // a host, metric, device, project, ... name beyond the limits
	reasonText        = "invalid_text"  // free text (names shown to people, states) beyond the limits
	reasonValue       = "invalid_value" // NaN, ±Inf, beyond ±MaxValue, or a negative count
	reasonTime        = "invalid_timestamp"
	reasonTooOld      = "too_old"
	reasonTooNew      = "too_new"
	reasonTooLarge    = "too_large"
	reasonStorage     = "storage_refused" // storage says the write can never succeed
	reasonPanic       = "panic"
	reasonOther       = "other"
)

// Limits bound what the collector accepts; see the package documentation.
type Limits struct {
	// MaxAge: samples and events older than this are refused (the raw
	// retention: they would be expired, or be unreadable, as soon as written).
	MaxAge time.Duration
	// MaxFuture: samples and events further ahead of the collector's clock
	// are refused.
	MaxFuture time.Duration
	// MaxClockSkew: an agent whose heartbeat's time is further than this from
	// the collector's clock has its skew recorded on its host.
	MaxClockSkew time.Duration
}

// DefaultLimits are the limits of New.
var DefaultLimits = Limits{MaxAge: storage.DefaultRetention.Raw, MaxFuture: time.Hour, MaxClockSkew: 30 * time.Second}

// Bounds of names, text, values and sizes. Names become Cassandra keys (at
// most 65,535 bytes) and routing keys (255 bytes); text is stored in rows
// that must stay far below Cassandra's batch and mutation limits.
const (
	MaxNameBytes          = 255
	MaxTextBytes          = 1024
	MaxFaultBytes         = 4096
	MaxValue              = 1e300 // so that rollup sums of a bucket stay finite
	MaxInstancesPerBatch  = 10000
	MaxMetricsPerInstance = 1000
	MaxIPsPerInstance     = 256
	MaxHeartbeatBytes     = 64 << 10
	maxDetails            = 5 // dropped items named in one log line
)

// parkError is a message that can never be handled, and why.
type parkError struct {
	reason string
	err    error
}

func (e *parkError) Error() string { return e.err.Error() }
func (e *parkError) Unwrap() error { return e.err }

// park returns a parkError with a formatted message.
func park(reason, format string, a ...any) error {
	return &parkError{reason: reason, err: fmt.Errorf(format, a...)}
}

// parkWith marks err as a reason to park its message.
func parkWith(reason string, err error) error { return &parkError{reason: reason, err: err} }

// reasonOf returns why err parks its message.
func reasonOf(err error) string {
	var pe *parkError
	switch {
	case errors.As(err, &pe):
		return pe.reason
	case errors.Is(err, storage.ErrInvalid):
		return reasonStorage
	}
	return reasonOther
}

// invalid is a field that fails validation: its reason and a description.
type invalid struct {
	reason, detail string
}

func (v *invalid) Error() string { return v.detail }

func bad(reason, format string, a ...any) *invalid {
	return &invalid{reason: reason, detail: fmt.Sprintf(format, a...)}
}

// canonicalUUID returns s as a lower-case 8-4-4-4-12 UUID, or false.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return "", false
		}
	}
	return strings.ToLower(s), true
}

func checkUUID(field, s string) (string, *invalid) {
	u, ok := canonicalUUID(s)
	if !ok {
		return "", bad(reasonUUID, "%s %q is not a canonical UUID", field, clip(s))
	}
	return u, nil
}

// checkName accepts 1 to MaxNameBytes bytes of printable ASCII other than
// space, '/' and '\' (host, stream, metric, device, project and user names).
func checkName(field, s string) *invalid {
	if s == "" {
		return bad(reasonName, "%s is empty", field)
	}
	if len(s) > MaxNameBytes {
		return bad(reasonName, "%s of %d bytes exceeds %d", field, len(s), MaxNameBytes)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '/' || c == '\\' {
			return bad(reasonName, "%s %q holds %q", field, clip(s), c)
		}
	}
	return nil
}

// checkOptionalName is checkName for a name that may be absent.
func checkOptionalName(field, s string) *invalid {
	if s == "" {
		return nil
	}
	return checkName(field, s)
}

// checkText accepts up to max bytes of UTF-8 without control characters
// (names shown to people, states, units).
func checkText(field, s string, max int) *invalid {
	if len(s) > max {
		return bad(reasonText, "%s of %d bytes exceeds %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return bad(reasonText, "%s is not UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return bad(reasonText, "%s %q holds a control character", field, clip(s))
		}
	}
	return nil
}

// clipText bounds free text that is only shown (faults), on a rune boundary.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// clip shortens a refused value for logs.
func clip(s string) string {
	if len(s) > 64 {
		return clipText(s, 64) + "..."
	}
	return s
}

func checkValue(field string, v float64) *invalid {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > MaxValue {
		return bad(reasonValue, "%s %v is not a finite value within ±%g", field, v, MaxValue)
	}
	return nil
}

func checkCount(field string, n int) *invalid {
	if n < 0 || n > 1<<40 {
		return bad(reasonValue, "%s %d is out of range", field, n)
	}
	return nil
}

// checkTime accepts a time within [now-MaxAge, now+MaxFuture].
func (l Limits) checkTime(field string, t, now time.Time) *invalid {
	switch {
	case t.IsZero():
		return bad(reasonTime, "%s is missing", field)
	case l.MaxAge > 0 && t.Before(now.Add(-l.MaxAge)):
		return bad(reasonTooOld, "%s %s is older than %s", field, t.UTC().Format(time.RFC3339), l.MaxAge)
	case l.MaxFuture > 0 && t.After(now.Add(l.MaxFuture)):
		return bad(reasonTooNew, "%s %s is more than %s ahead of this collector's clock", field, t.UTC().Format(time.RFC3339), l.MaxFuture)
	}
	return nil
}

func checkIP(field, s string) *invalid {
	if _, err := netip.ParseAddr(s); err != nil {
		return bad(reasonText, "%s %q is not an IP address", field, clip(s))
	}
	return nil
}

// first returns the first failed check, or nil.
func first(checks ...*invalid) *invalid {
	for _, c := range checks {
		if c != nil {
			return c
		}
	}
	return nil
}

// drop is an instance or a metric left out of a batch, and why.
type drop struct {
	item   string // "instance" or "metric"
	reason string
	detail string
}

// validBatch checks a batch against l at now. What identifies the batch
// (host, stream, sequence number, time) must be valid, or the whole batch is
// refused. Invalid instances and metrics are left out of b and returned;
// when nothing of what the batch carried is left, the batch is refused with
// the reason of its first drop. Instance UUIDs are put in canonical form.
func (l Limits) validBatch(b *agentmsg.Batch, now time.Time) ([]drop, error) {
	if v := first(checkName("host", b.Host), checkName("stream", b.Stream), l.checkTime("batch timestamp", b.Time, now),
		checkValue("interval_s", b.Interval), checkValue("duration_ms", b.DurationMS),
		checkText("agent_version", b.AgentVersion, MaxNameBytes)); v != nil {
		return nil, parkWith(v.reason, v)
	}
	if b.Seq == 0 || b.Seq > math.MaxInt64 {
		return nil, park(reasonValue, "sequence number %d is out of range", b.Seq)
	}
	if len(b.Instances) > MaxInstancesPerBatch {
		return nil, park(reasonTooLarge, "%d instances exceed %d", len(b.Instances), MaxInstancesPerBatch)
	}
	var drops []drop
	kept, metrics, keptMetrics := b.Instances[:0], 0, 0
	for i := range b.Instances {
		in := b.Instances[i]
		metrics += len(in.Metrics)
		if v := l.validInstance(&in, now); v != nil {
			drops = append(drops, drop{"instance", v.reason, fmt.Sprintf("instance %d (%s): %s", i, clip(in.UUID), v.detail)})
			continue
		}
		good := in.Metrics[:0]
		for j, m := range in.Metrics {
			if v := validMetric(m); v != nil {
				drops = append(drops, drop{"metric", v.reason, fmt.Sprintf("instance %s metric %d: %s", in.UUID, j, v.detail)})
				continue
			}
			good = append(good, m)
		}
		in.Metrics = good
		keptMetrics += len(good)
		kept = append(kept, in)
	}
	b.Instances = kept
	if len(drops) > 0 && (len(kept) == 0 || metrics > 0 && keptMetrics == 0) {
		return drops, park(drops[0].reason, "nothing valid in the batch: %s", drops[0].detail)
	}
	return drops, nil
}

// validInstance checks one instance of a batch and canonicalises its UUID.
func (l Limits) validInstance(in *agentmsg.Instance, now time.Time) *invalid {
	u, v := checkUUID("uuid", in.UUID)
	if v != nil {
		return v
	}
	in.UUID = u
	if len(in.Metrics) > MaxMetricsPerInstance {
		return bad(reasonTooLarge, "%d metrics exceed %d", len(in.Metrics), MaxMetricsPerInstance)
	}
	if v := first(l.checkTime("timestamp", in.Time, now), checkText("domain_name", in.Name, MaxTextBytes),
		checkText("state", in.State, MaxNameBytes)); v != nil {
		return v
	}
	if n := in.Nova; n != nil {
		if v := first(checkText("nova name", n.Name, MaxTextBytes), checkOptionalName("project_id", n.ProjectID),
			checkOptionalName("user_id", n.UserID), checkText("flavor name", n.Flavor.Name, MaxNameBytes),
			checkCount("flavor vcpus", n.Flavor.VCPUs), checkCount("flavor memory_mb", n.Flavor.MemoryMB),
			checkCount("flavor disk_gb", n.Flavor.DiskGB), checkText("root_type", n.RootType, MaxNameBytes),
			checkText("root_id", n.RootID, MaxNameBytes)); v != nil {
			return v
		}
		ips := 0
		for _, p := range n.Ports {
			for _, ip := range p.IPs {
				if v := checkIP("port address", ip); v != nil {
					return v
				}
				ips++
			}
		}
		if ips > MaxIPsPerInstance {
			return bad(reasonTooLarge, "%d addresses exceed %d", ips, MaxIPsPerInstance)
		}
	}
	return nil
}

func validMetric(m agentmsg.Metric) *invalid {
	return first(checkName("metric name", m.Name), checkOptionalName("device", m.Device), checkValue("value", m.Value),
		checkText("unit", m.Unit, 64), checkName("kind", m.Kind))
}

// validHeartbeat checks a heartbeat. Its time may be off by any amount (that
// is recorded as the host's clock skew) but must be there.
func validHeartbeat(hb *agentmsg.Heartbeat) *invalid {
	if hb.Time.IsZero() {
		return bad(reasonTime, "heartbeat timestamp is missing")
	}
	if v := first(checkName("host", hb.Host), checkOptionalName("stream", hb.Stream), checkValue("interval_s", hb.Interval)); v != nil {
		return v
	}
	if hb.Interval < 0 || hb.Interval > 86400 {
		return bad(reasonValue, "interval_s %v is out of range", hb.Interval)
	}
	return nil
}

// validEvent checks a lifecycle event from an agent and canonicalises its UUID.
func (l Limits) validEvent(e *agentmsg.Event, now time.Time) *invalid {
	u, v := checkUUID("uuid", e.UUID)
	if v != nil {
		return v
	}
	e.UUID = u
	return first(checkName("host", e.Host), checkName("event", e.Event), checkText("detail", e.Detail, MaxNameBytes),
		checkText("domain_name", e.Name, MaxTextBytes), l.checkTime("timestamp", e.Time, now))
}

// validNova checks what a Nova notification says of an instance before it
// is written, canonicalising the instance's UUID and clipping the fault.
func (l Limits) validNova(u *novaUpdate, now time.Time) *invalid {
	id, v := checkUUID("instance uuid", u.inst.ID)
	if v != nil {
		return v
	}
	u.inst.ID, u.event.InstanceID = id, id
	in, e := &u.inst, &u.event
	if v := first(l.checkTime("timestamp", e.Time, now), checkOptionalName("host", in.Host), checkOptionalName("node", in.Node),
		checkOptionalName("project_id", in.ProjectID), checkOptionalName("user_id", in.UserID),
		checkText("display_name", in.Name, MaxTextBytes), checkText("state", in.State, MaxNameBytes),
		checkText("power_state", in.PowerState, MaxNameBytes), checkText("task_state", in.TaskState, MaxNameBytes),
		checkText("flavor name", in.FlavorName, MaxNameBytes), checkCount("flavor vcpus", in.FlavorVCPUs),
		checkCount("flavor memory_mb", in.FlavorMemoryMB), checkCount("flavor root_gb", in.FlavorDiskGB),
		checkText("image", in.ImageID, MaxNameBytes), checkText("message_id", e.ID, MaxNameBytes),
		checkText("event_type", e.Type, MaxNameBytes), checkText("request_id", e.RequestID, MaxNameBytes),
		checkText("global_request_id", u.globalRequestID, MaxNameBytes), checkOptionalName("context user_id", e.UserID),
		checkOptionalName("context project_id", e.ProjectID)); v != nil {
		return v
	}
	if len(in.IPs) > MaxIPsPerInstance {
		return bad(reasonTooLarge, "%d addresses exceed %d", len(in.IPs), MaxIPsPerInstance)
	}
	for _, ip := range in.IPs {
		if v := checkIP("address", ip); v != nil {
			return v
		}
	}
	e.Fault = clipText(e.Fault, MaxFaultBytes)
	return nil
}
