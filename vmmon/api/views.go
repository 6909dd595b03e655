package api

import (
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// The response bodies. Fields are in the order of their JSON names, the
// order encoding/json wrote the maps these replace, so that the bodies stay
// byte for byte what they were. openapi_test.go checks each against the
// schema openapi.yaml gives it.

// link is one entry of a links list.
type link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

// mediaType is one entry of a version's media-types.
type mediaType struct {
	Base string `json:"base"`
	Type string `json:"type"`
}

// versionView is one version of the API (components/schemas/Version).
type versionView struct {
	ID         string      `json:"id"`
	Links      []link      `json:"links"`
	MaxVersion string      `json:"max_version"`
	MediaTypes []mediaType `json:"media-types"`
	MinVersion string      `json:"min_version"`
	Status     string      `json:"status"`
	Updated    string      `json:"updated"`
}

// versionsResponse answers GET /.
type versionsResponse struct {
	Versions []versionView `json:"versions"`
}

// versionResponse answers GET /v1.
type versionResponse struct {
	Version versionView `json:"version"`
}

// instancesResponse answers GET /v1/instances; the next link is given only
// on a full page.
type instancesResponse struct {
	Instances      []instanceView `json:"instances"`
	InstancesLinks []link         `json:"instances_links"`
}

// instanceView is an instance as a caller sees it: host and node only for
// those the host rule allows, host_id (a per-project hash of the host) for
// everyone.
type instanceView struct {
	storage.Instance
	Host   string `json:"host,omitempty"`
	Node   string `json:"node,omitempty"`
	HostID string `json:"host_id"`
}

// agentView is the freshness of the agent of an instance's host; the
// heartbeat fields are there only when the host is known.
type agentView struct {
	HeartbeatAge  *float64   `json:"heartbeat_age_s,omitempty"`
	Host          string     `json:"host,omitempty"`
	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
	Status        string     `json:"status"`
}

// instanceResponse answers GET /v1/instances/{id}.
type instanceResponse struct {
	Agent     agentView            `json:"agent"`
	Alarms    []instanceAlarmView  `json:"alarms"`
	DataStale bool                 `json:"data_stale"`
	Instance  instanceView         `json:"instance"`
	Latest    []storage.MetricInfo `json:"latest"`
}

// metricsResponse answers GET /v1/instances/{id}/metrics.
type metricsResponse struct {
	Metrics []storage.MetricInfo `json:"metrics"`
}

// eventsResponse answers GET /v1/instances/{id}/events.
type eventsResponse struct {
	Events      []storage.Event `json:"events"`
	EventsLinks []link          `json:"events_links"`
}

// actionResponse answers POST /v1/instances/{id}/actions and
// GET /v1/instances/{id}/actions/{action_id}.
type actionResponse struct {
	Action storage.Action `json:"action"`
}

// actionsResponse answers GET /v1/instances/{id}/actions.
type actionsResponse struct {
	Actions      []storage.Action `json:"actions"`
	ActionsLinks []link           `json:"actions_links"`
}

// hostView is a compute host and its agent (components/schemas/Host); the
// last heartbeat itself is given by GET /v1/hosts/{host} only.
type hostView struct {
	// ClockSkew is the agent's clock minus the collector's, in seconds, when
	// it was beyond the collector's max_clock_skew at the last heartbeat.
	ClockSkew     float64   `json:"clock_skew_s,omitempty"`
	Heartbeat     *jsonRaw  `json:"heartbeat,omitempty"`
	HeartbeatAge  float64   `json:"heartbeat_age_s"`
	Interval      float64   `json:"interval_s"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	LastSeq       uint64    `json:"last_seq"`
	Name          string    `json:"name"`
	SeqGaps       uint64    `json:"seq_gaps"`
	Status        string    `json:"status"`
	Stream        string    `json:"stream"`
}

// hostsResponse answers GET /v1/hosts.
type hostsResponse struct {
	Hosts      []hostView `json:"hosts"`
	HostsLinks []link     `json:"hosts_links"`
}

// hostResponse answers GET /v1/hosts/{host}.
type hostResponse struct {
	Host hostView `json:"host"`
}

// errorsResponse is an error in the API-SIG format.
type errorsResponse struct {
	Errors []apiError `json:"errors"`
}

// jsonRaw is JSON kept as text; empty is null.
type jsonRaw string

func (j jsonRaw) MarshalJSON() ([]byte, error) {
	if j == "" {
		return []byte("null"), nil
	}
	return []byte(j), nil
}

// measuresResponse answers GET /v1/instances/{id}/metrics/{name}/measures.
// appendMeasures writes it without reflection; openapi_test.go checks that
// the two agree.
type measuresResponse struct {
	Measures measuresView `json:"measures"`
}

type measuresView struct {
	Aggregation string           `json:"aggregation"`
	End         time.Time        `json:"end"`
	Granularity int64            `json:"granularity"`
	Metric      string           `json:"metric"`
	Series      []storage.Series `json:"series"`
	Start       time.Time        `json:"start"`
}

// aggregateView is one group of GET /v1/aggregates: what it is (an
// instance, with host only for those the host rule allows; a host; a
// project), its value and how many series it covers; timestamp is the
// minute of latest values.
type aggregateView struct {
	HostID     string     `json:"host_id,omitempty"`
	Host       string     `json:"host,omitempty"`
	InstanceID string     `json:"instance_id,omitempty"`
	Name       string     `json:"name,omitempty"`
	ProjectID  string     `json:"project_id,omitempty"`
	Series     int        `json:"series"`
	Timestamp  *time.Time `json:"timestamp,omitempty"`
	Unit       string     `json:"unit"`
	Value      float64    `json:"value"`
}

// aggregatesResponse answers GET /v1/aggregates; start and end are absent
// for latest values.
type aggregatesResponse struct {
	Aggregates      []aggregateView `json:"aggregates"`
	AggregatesLinks []link          `json:"aggregates_links"`
	Aggregation     string          `json:"aggregation"`
	End             *time.Time      `json:"end,omitempty"`
	GroupBy         string          `json:"group_by"`
	Metric          string          `json:"metric"`
	Start           *time.Time      `json:"start,omitempty"`
}

// aggregateSeriesView is one group of GET /v1/aggregates/measures: an
// aggregateView (its value over the whole range) with its points.
type aggregateSeriesView struct {
	aggregateView
	Points []storage.Point `json:"points"`
}

// aggregateMeasuresResponse answers GET /v1/aggregates/measures.
type aggregateMeasuresResponse struct {
	Aggregates      []aggregateSeriesView `json:"aggregates"`
	AggregatesLinks []link                `json:"aggregates_links"`
	Aggregation     string                `json:"aggregation"`
	End             time.Time             `json:"end"`
	Granularity     int64                 `json:"granularity"`
	GroupBy         string                `json:"group_by"`
	Metric          string                `json:"metric"`
	Start           time.Time             `json:"start"`
}

// alarmActionView is an action of an alarm: a webhook's secret is never
// shown, only whether one is set.
type alarmActionView struct {
	Action     string `json:"action,omitempty"`
	RebootType string `json:"reboot_type,omitempty"`
	SecretSet  bool   `json:"secret_set,omitempty"`
	Type       string `json:"type"`
	URL        string `json:"url,omitempty"`
}

// alarmView is an alarm with its current state (components/schemas/Alarm).
type alarmView struct {
	Actions           []alarmActionView `json:"actions"`
	Aggregation       string            `json:"aggregation"`
	Comparison        string            `json:"comparison"`
	CreatedAt         time.Time         `json:"created_at"`
	Description       string            `json:"description"`
	Enabled           bool              `json:"enabled"`
	EvaluationPeriods int               `json:"evaluation_periods"`
	Host              string            `json:"host,omitempty"`
	ID                string            `json:"id"`
	InstanceID        string            `json:"instance_id,omitempty"`
	Links             []link            `json:"links"`
	Metric            string            `json:"metric"`
	Name              string            `json:"name"`
	ProjectID         string            `json:"project_id"`
	RepeatActions     bool              `json:"repeat_actions"`
	Severity          string            `json:"severity"`
	State             string            `json:"state"`
	StateReason       string            `json:"state_reason"`
	StateTimestamp    time.Time         `json:"state_timestamp"`
	Target            string            `json:"target"`
	Threshold         float64           `json:"threshold"`
	UpdatedAt         time.Time         `json:"updated_at"`
	UserID            string            `json:"user_id"`
	Value             *float64          `json:"value"`
	Window            int               `json:"window"`
}

// alarmResponse answers POST /v1/alarms and GET/PATCH /v1/alarms/{id}.
type alarmResponse struct {
	Alarm alarmView `json:"alarm"`
}

// alarmsResponse answers GET /v1/alarms.
type alarmsResponse struct {
	Alarms      []alarmView `json:"alarms"`
	AlarmsLinks []link      `json:"alarms_links"`
}

// alarmHistoryResponse answers GET /v1/alarms/{id}/history.
type alarmHistoryResponse struct {
	History      []storage.AlarmHistory `json:"history"`
	HistoryLinks []link                 `json:"history_links"`
}

// instanceAlarmView is an alarm on an instance, as GET /v1/instances/{id} shows it.
type instanceAlarmView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Severity string `json:"severity"`
	State    string `json:"state"`
}
