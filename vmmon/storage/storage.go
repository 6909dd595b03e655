// Package storage is where vmmon keeps what it knows: measures (raw points and
// rollups), instances, lifecycle events, hosts and control actions. [Store] is
// the one interface the collector and the API use; storage/cassandra (Apache
// Cassandra, production) and storage/embedded (a single file, for the
// all-in-one and small installs) implement it and pass the same conformance
// suite (storage/storagetest).
//
// Every write is idempotent: writing the same sample, event or instance again
// leaves the same rows. Times of samples and events are kept to the
// millisecond (Cassandra's timestamp precision).
package storage

import (
	"context"
	"strings"
	"time"
)

// Sample is one value of one metric (of one device) of an instance at a time.
type Sample struct {
	InstanceID string
	Metric     string
	Device     string // "" for instance-wide metrics
	Time       time.Time
	Value      float64
	Unit       string
	Kind       string // cumulative, gauge, rate
	// The pairing at the moment of the sample.
	ProjectID string
	Host      string
}

// Granularities that are stored; others must be multiples of one of them.
const (
	Raw    time.Duration = 0
	Minute               = time.Minute
	Hour                 = time.Hour
)

// Aggregations a measures query may ask for.
var Aggregations = []string{"mean", "min", "max", "last", "sum", "count"}

// MeasureQuery asks for one metric of one instance between two times.
type MeasureQuery struct {
	InstanceID  string
	Metric      string
	Device      string // "" with AllDevices false: the instance-wide series
	AllDevices  bool   // one series per device
	Start, End  time.Time
	Granularity time.Duration // Raw, or a multiple of a minute
	Aggregation string
	// MaxPoints bounds the points of all the series together (0: no bound).
	MaxPoints int
	// Retention, when set, bounds the range to what the resolution read keeps.
	Retention Retention
}

// Point is one value of a series.
type Point struct {
	Time  time.Time `json:"timestamp"`
	Value float64   `json:"value"`
}

// Series is the points of one device (or of the instance).
type Series struct {
	Device string  `json:"device,omitempty"`
	Unit   string  `json:"unit"`
	Points []Point `json:"points"`
}

// MetricInfo describes a metric an instance has, with its latest value.
type MetricInfo struct {
	Name      string    `json:"name"`
	Device    string    `json:"device,omitempty"`
	Unit      string    `json:"unit"`
	Kind      string    `json:"kind"`
	LastTime  time.Time `json:"last_timestamp"`
	LastValue float64   `json:"last_value"`
}

// Instance is what vmmon knows of a Nova instance.
type Instance struct {
	ID             string     `json:"id"`
	ProjectID      string     `json:"project_id"`
	UserID         string     `json:"user_id"`
	Name           string     `json:"name"`
	Host           string     `json:"host"`
	Node           string     `json:"node"`
	State          string     `json:"state"`
	PowerState     string     `json:"power_state"`
	TaskState      string     `json:"task_state"`
	FlavorName     string     `json:"flavor_name"`
	FlavorVCPUs    int        `json:"flavor_vcpus"`
	FlavorMemoryMB int        `json:"flavor_memory_mb"`
	FlavorDiskGB   int        `json:"flavor_disk_gb"`
	ImageID        string     `json:"image_id"`
	IPs            []string   `json:"ips"`
	CreatedAt      *time.Time `json:"created_at"`
	LaunchedAt     *time.Time `json:"launched_at"`
	DeletedAt      *time.Time `json:"deleted_at"`
	UpdatedAt      time.Time  `json:"updated_at"` // of the information: orders updates
	Deleted        bool       `json:"deleted"`
	// Source says who described the instance last: "nova" (a notification)
	// or "agent" (only the domain's metadata is known so far).
	Source string `json:"source"`
}

// InstanceQuery filters and pages a listing, ordered by id.
type InstanceQuery struct {
	ProjectID string // "" is every project
	Host      string
	State     string
	// NameContains keeps instances whose name holds it, whatever the case.
	NameContains string
	Flavor       string // the flavor's name
	// ChangesSince keeps instances whose information changed at or after it.
	ChangesSince time.Time
	Deleted      DeletedFilter
	Limit        int
	Marker       string // the last id of the previous page
}

// DeletedFilter says what a listing does with deleted instances.
type DeletedFilter int

// What a listing does with deleted instances; the zero value keeps them.
const (
	WithDeleted DeletedFilter = iota
	HideDeleted
	OnlyDeleted
)

// Match reports whether inst passes the query's filters (not its paging).
func (q InstanceQuery) Match(inst Instance) bool {
	switch {
	case q.ProjectID != "" && inst.ProjectID != q.ProjectID,
		q.Host != "" && inst.Host != q.Host,
		q.State != "" && inst.State != q.State,
		q.Flavor != "" && inst.FlavorName != q.Flavor,
		q.NameContains != "" && !strings.Contains(strings.ToLower(inst.Name), strings.ToLower(q.NameContains)),
		!q.ChangesSince.IsZero() && inst.UpdatedAt.Before(q.ChangesSince),
		q.Deleted == HideDeleted && inst.Deleted,
		q.Deleted == OnlyDeleted && !inst.Deleted:
		return false
	}
	return true
}

// Event is one entry of an instance's lifecycle timeline.
type Event struct {
	InstanceID string    `json:"instance_id"`
	ID         string    `json:"id"` // unique with Time: the message id
	Time       time.Time `json:"timestamp"`
	Source     string    `json:"source"` // nova, libvirt, vmmon
	Type       string    `json:"event_type"`
	RequestID  string    `json:"request_id,omitempty"`
	UserID     string    `json:"user_id,omitempty"`
	ProjectID  string    `json:"project_id,omitempty"`
	Host       string    `json:"host,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	Fault      string    `json:"fault,omitempty"`
}

// EventQuery selects events of an instance, newest first; a zero Start or
// End leaves that side open.
type EventQuery struct {
	InstanceID string
	Start, End time.Time
	Limit      int
}

// Bounds returns the query's range with open sides closed.
func (q EventQuery) Bounds() (time.Time, time.Time) {
	start, end := q.Start, q.End
	if start.IsZero() {
		start = time.Unix(0, 0)
	}
	if end.IsZero() {
		end = time.Unix(0, 1<<62) // 2116, within UnixNano
	}
	return start.UTC(), end.UTC()
}

// Host is an agent's host and how it fares.
type Host struct {
	Name          string    `json:"name"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Interval      float64   `json:"interval_s"`
	Heartbeat     string    `json:"heartbeat"` // the last heartbeat, as JSON
	// ClockSkew is the agent's clock minus the collector's, in seconds (to
	// the millisecond), measured on the last heartbeat when it was beyond
	// the collector's [collector] max_clock_skew; 0 when it was within. It is
	// stored with the heartbeat fields.
	ClockSkew float64 `json:"clock_skew_s,omitempty"`
	// From the batches of the agent's current stream (since it started),
	// over the last BatchWindow: the highest sequence number, and how many
	// below it never arrived.
	Stream  string `json:"stream"`
	LastSeq uint64 `json:"last_seq"`
	SeqGaps uint64 `json:"seq_gaps"`
}

// BatchWindow is how long batch arrivals are remembered for gap counting.
const BatchWindow = 24 * time.Hour

// Action is a control action requested through vmmon.
type Action struct {
	ID             string    `json:"id"`
	InstanceID     string    `json:"instance_id"`
	ProjectID      string    `json:"project_id"`
	UserID         string    `json:"user_id"`
	Action         string    `json:"action"`
	Params         string    `json:"params"` // JSON
	Status         string    `json:"status"` // pending, succeeded, failed, unknown
	RequestID      string    `json:"request_id"`
	NovaRequestID  string    `json:"nova_request_id"`
	Message        string    `json:"message"`
	IdempotencyKey string    `json:"-"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Store is vmmon's storage.
type Store interface {
	// WriteSamples stores raw points and marks their rollups for processing.
	WriteSamples(ctx context.Context, samples []Sample) error
	// ProcessRollups computes pending rollups (at most limit buckets) and
	// returns how many it computed; 0 means none is pending.
	ProcessRollups(ctx context.Context, limit int) (int, error)
	Measures(ctx context.Context, q MeasureQuery) ([]Series, error)
	Metrics(ctx context.Context, instanceID string) ([]MetricInfo, error)

	// PutInstance stores inst unless what is stored has a later UpdatedAt.
	PutInstance(ctx context.Context, inst Instance) error
	GetInstance(ctx context.Context, id string) (Instance, error)
	ListInstances(ctx context.Context, q InstanceQuery) ([]Instance, error)
	// Aggregates folds the series of a metric into one value, or one
	// series, per group of instances (see AggregateQuery).
	Aggregates(ctx context.Context, q AggregateQuery) ([]Aggregate, error)

	AddEvent(ctx context.Context, e Event) error
	Events(ctx context.Context, q EventQuery) ([]Event, error)

	// PutHeartbeat stores h's heartbeat fields unless a newer heartbeat is stored.
	PutHeartbeat(ctx context.Context, h Host) error
	// RecordBatch notes that batch seq of stream arrived from host (at is the
	// batch's time); a later stream becomes the host's current one.
	RecordBatch(ctx context.Context, host, stream string, seq uint64, at time.Time) error
	GetHost(ctx context.Context, name string) (Host, error)
	ListHosts(ctx context.Context) ([]Host, error)

	// PutAction stores a new action, or returns ErrConflict with the stored
	// one when its IdempotencyKey was used already (within IdempotencyTTL).
	PutAction(ctx context.Context, a Action) (Action, error)
	UpdateAction(ctx context.Context, a Action) error
	// SetNovaRequestID records Nova's request id on an action, keeping its
	// status (the end notification may have arrived first).
	SetNovaRequestID(ctx context.Context, instanceID, id, novaRequestID string) error
	GetAction(ctx context.Context, instanceID, id string) (Action, error)
	ListActions(ctx context.Context, instanceID string) ([]Action, error)
	ActionByRequestID(ctx context.Context, requestID string) (Action, error)

	Alarms

	Close() error
}

// IdempotencyTTL is how long an action's idempotency key is remembered.
const IdempotencyTTL = 24 * time.Hour

// Retention says how long each resolution is kept.
type Retention struct {
	Raw, Minute, Hour time.Duration
}

// Longest returns the longest of the retentions: how long a deleted
// instance is remembered.
func (r Retention) Longest() time.Duration { return max(r.Raw, r.Minute, r.Hour) }

// DefaultRetention keeps raw points 7 days, minute rollups 30 days and hour
// rollups 400 days.
var DefaultRetention = Retention{Raw: 7 * 24 * time.Hour, Minute: 30 * 24 * time.Hour, Hour: 400 * 24 * time.Hour}
