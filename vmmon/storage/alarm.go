package storage

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"
)

// Alarm states.
const (
	AlarmOK               = "ok"
	AlarmAlarm            = "alarm"
	AlarmInsufficientData = "insufficient_data"
)

// AlarmShards spreads alarms over shards, the unit of evaluation work that
// collectors lease.
const AlarmShards = 16

// AlarmShard is the shard of an alarm.
func AlarmShard(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % AlarmShards)
}

// Alarm is a rule on a metric and what to do when its state changes. It
// watches one instance (InstanceID), all the instances of a project
// (ProjectOnly: no instance, no host) or one compute host (Host).
type Alarm struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// ProjectID owns the alarm (the creator's project); for a project
	// alarm it is also what is watched.
	ProjectID         string        `json:"project_id"`
	UserID            string        `json:"user_id"`
	Metric            string        `json:"metric"`
	InstanceID        string        `json:"instance_id,omitempty"`
	Host              string        `json:"host,omitempty"`
	Aggregation       string        `json:"aggregation"`
	Window            int           `json:"window"` // seconds
	Comparison        string        `json:"comparison"`
	Threshold         float64       `json:"threshold"`
	EvaluationPeriods int           `json:"evaluation_periods"`
	Severity          string        `json:"severity"`
	Enabled           bool          `json:"enabled"`
	RepeatActions     bool          `json:"repeat_actions"`
	Actions           []AlarmAction `json:"actions"`
	// TrustID is the Keystone trust instance actions run with (never shown).
	TrustID   string    `json:"trust_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Target is what the alarm watches: "instance", "host" or "project".
func (a Alarm) Target() string {
	switch {
	case a.InstanceID != "":
		return "instance"
	case a.Host != "":
		return "host"
	}
	return "project"
}

// AlarmAction is one thing done on a transition.
type AlarmAction struct {
	Type string `json:"type"` // webhook, notification, instance_action
	// webhook
	URL    string `json:"url,omitempty"`
	Secret string `json:"secret,omitempty"`
	// instance_action
	Action     string `json:"action,omitempty"`
	RebootType string `json:"reboot_type,omitempty"`
}

// AlarmState is an alarm's evaluated state. Version grows by one with every
// write, which is conditional on the version read (see SetAlarmState).
type AlarmState struct {
	AlarmID string `json:"alarm_id"`
	State   string `json:"state"`
	// Previous is the state before the last transition.
	Previous string    `json:"previous,omitempty"`
	Reason   string    `json:"reason"`
	Value    *float64  `json:"value,omitempty"`
	Time     time.Time `json:"timestamp"` // of the last transition
	Version  int64     `json:"version"`
	// Transition is the version at which the state was entered (later
	// versions settle its actions): what names the transition.
	Transition int64 `json:"transition,omitempty"`
	// Pending are the actions of the last transition(s) not yet carried
	// out: recorded with the transition, removed as they complete.
	Pending []PendingAction `json:"pending,omitempty"`
}

// PendingAction is an action owed for a transition.
type PendingAction struct {
	ID         string      `json:"id"`
	Action     AlarmAction `json:"action"`
	Previous   string      `json:"previous"`
	Current    string      `json:"current"`
	Reason     string      `json:"reason"`
	Value      *float64    `json:"value,omitempty"`
	Time       time.Time   `json:"timestamp"`
	Attempts   int         `json:"attempts"`
	NotBefore  time.Time   `json:"not_before"`
	InstanceID string      `json:"instance_id,omitempty"`
}

// AlarmHistory is one entry of an alarm's history.
type AlarmHistory struct {
	AlarmID string    `json:"alarm_id"`
	ID      string    `json:"id"`
	Time    time.Time `json:"timestamp"`
	// Type: creation, rule_change, state_transition, action.
	Type     string   `json:"type"`
	Previous string   `json:"previous,omitempty"`
	Current  string   `json:"current,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Value    *float64 `json:"value,omitempty"`
	// Detail is what changed (JSON) or what an action did.
	Detail string `json:"detail,omitempty"`
	// Outcome of an action: succeeded or failed.
	Outcome string `json:"outcome,omitempty"`
	UserID  string `json:"user_id,omitempty"`
}

// AlarmQuery filters and pages a listing, ordered by id.
type AlarmQuery struct {
	ProjectID  string // "" is every project
	InstanceID string
	Limit      int
	Marker     string
}

// Match reports whether a passes the query's filters (not its paging).
func (q AlarmQuery) Match(a Alarm) bool {
	return (q.ProjectID == "" || a.ProjectID == q.ProjectID) && (q.InstanceID == "" || a.InstanceID == q.InstanceID)
}

// Alarms is the storage of alarms, their states and histories.
type Alarms interface {
	// PutAlarm creates or replaces an alarm's definition; a new alarm
	// starts in insufficient_data.
	PutAlarm(ctx context.Context, a Alarm) error
	GetAlarm(ctx context.Context, id string) (Alarm, error)
	ListAlarms(ctx context.Context, q AlarmQuery) ([]Alarm, error)
	// AlarmsOfShard lists every alarm of a shard (see AlarmShard).
	AlarmsOfShard(ctx context.Context, shard int) ([]Alarm, error)
	// DeleteAlarm forgets an alarm, its state and its history.
	DeleteAlarm(ctx context.Context, id string) error

	GetAlarmState(ctx context.Context, id string) (AlarmState, error)
	// SetAlarmState writes st if the stored state's version is still
	// st.Version-1 (0: none stored), or returns ErrConflict: of two
	// writers of the same transition only one succeeds.
	SetAlarmState(ctx context.Context, st AlarmState) error

	AddAlarmHistory(ctx context.Context, h AlarmHistory) error
	// AlarmHistory lists an alarm's history, newest first, before the
	// marker entry (its id) when given.
	AlarmHistory(ctx context.Context, alarmID string, limit int, marker string) ([]AlarmHistory, error)

	// LeaseAlarmShard takes a shard of alarms for owner, or renews owner's
	// lease, for ttl; it reports false while another owner holds it.
	LeaseAlarmShard(ctx context.Context, shard int, owner string, ttl time.Duration) (bool, error)
	// ReleaseAlarmShard gives owner's lease of a shard back.
	ReleaseAlarmShard(ctx context.Context, shard int, owner string) error
	// AlarmShardOwners returns the owner of every shard leased now.
	AlarmShardOwners(ctx context.Context) (map[int]string, error)
	// AlarmShardChanges returns, for each shard whose alarms were ever
	// created, changed or deleted, a mark that differs after every such
	// change: evaluators read again only the shards whose mark moved.
	AlarmShardChanges(ctx context.Context) (map[int]string, error)
}

// HistoryID makes the id of a history entry at t: ids sort as their times,
// then by the random tail.
func HistoryID(t time.Time, random string) string {
	return fmt.Sprintf("%016x-%s", t.UnixNano(), random)
}
