package alarms

import (
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// ActionView is an alarm's action as vmmon shows it: a webhook's secret is
// never returned, only whether one is set.
type ActionView struct {
	Type       string `json:"type"`
	URL        string `json:"url,omitempty"`
	SecretSet  bool   `json:"secret_set,omitempty"`
	Action     string `json:"action,omitempty"`
	RebootType string `json:"reboot_type,omitempty"`
}

// Alarm is an alarm with its state.
type Alarm struct {
	ID                string             `json:"id"`
	Name              string             `json:"name"`
	Description       string             `json:"description"`
	ProjectID         string             `json:"project_id"`
	UserID            string             `json:"user_id"`
	Metric            string             `json:"metric"`
	Target            string             `json:"target"` // instance, project or host
	InstanceID        string             `json:"instance_id"`
	Host              string             `json:"host"`
	Aggregation       string             `json:"aggregation"`
	Window            int                `json:"window"`
	Comparison        string             `json:"comparison"`
	Threshold         float64            `json:"threshold"`
	EvaluationPeriods int                `json:"evaluation_periods"`
	Severity          string             `json:"severity"`
	Enabled           bool               `json:"enabled"`
	RepeatActions     bool               `json:"repeat_actions"`
	Actions           []ActionView       `json:"actions"`
	State             string             `json:"state"`
	StateReason       string             `json:"state_reason"`
	StateTimestamp    time.Time          `json:"state_timestamp"`
	Value             *float64           `json:"value"`
	CreatedAt         time.Time          `json:"created_at"`
	UpdatedAt         time.Time          `json:"updated_at"`
	Links             []gophercloud.Link `json:"links"`
}

// HistoryEntry is one entry of an alarm's history.
type HistoryEntry struct {
	AlarmID  string    `json:"alarm_id"`
	ID       string    `json:"id"`
	Time     time.Time `json:"timestamp"`
	Type     string    `json:"type"` // creation, rule_change, state_transition, action
	Previous string    `json:"previous"`
	Current  string    `json:"current"`
	Reason   string    `json:"reason"`
	Value    *float64  `json:"value"`
	Detail   string    `json:"detail"`
	Outcome  string    `json:"outcome"` // of an action: succeeded or failed
	UserID   string    `json:"user_id"`
}

type alarmResult struct{ gophercloud.Result }

// Extract returns the alarm.
func (r alarmResult) Extract() (*Alarm, error) {
	var s struct {
		Alarm Alarm `json:"alarm"`
	}
	err := r.ExtractInto(&s)
	return &s.Alarm, err
}

// CreateResult is the answer to Create; its Location header names the alarm.
type CreateResult struct{ alarmResult }

// GetResult is the answer to Get.
type GetResult struct{ alarmResult }

// UpdateResult is the answer to Update.
type UpdateResult struct{ alarmResult }

// DeleteResult is the answer to Delete; ExtractErr says how it went.
type DeleteResult struct{ gophercloud.ErrResult }

// AlarmPage is one page of alarms.
type AlarmPage struct{ pagination.LinkedPageBase }

// IsEmpty reports whether the page holds no alarm.
func (p AlarmPage) IsEmpty() (bool, error) {
	if p.StatusCode == 204 {
		return true, nil
	}
	as, err := ExtractAlarms(p)
	return len(as) == 0, err
}

// NextPageURL follows the rel=next link of alarms_links.
func (p AlarmPage) NextPageURL() (string, error) {
	var s struct {
		Links []gophercloud.Link `json:"alarms_links"`
	}
	if err := p.ExtractInto(&s); err != nil {
		return "", err
	}
	return gophercloud.ExtractNextURL(s.Links)
}

// ExtractAlarms returns the alarms of a page.
func ExtractAlarms(r pagination.Page) ([]Alarm, error) {
	var s struct {
		Alarms []Alarm `json:"alarms"`
	}
	err := (r.(AlarmPage)).ExtractInto(&s)
	return s.Alarms, err
}

// HistoryPage is one page of an alarm's history.
type HistoryPage struct{ pagination.LinkedPageBase }

// IsEmpty reports whether the page holds no entry.
func (p HistoryPage) IsEmpty() (bool, error) {
	if p.StatusCode == 204 {
		return true, nil
	}
	h, err := ExtractHistory(p)
	return len(h) == 0, err
}

// NextPageURL follows the rel=next link of history_links.
func (p HistoryPage) NextPageURL() (string, error) {
	var s struct {
		Links []gophercloud.Link `json:"history_links"`
	}
	if err := p.ExtractInto(&s); err != nil {
		return "", err
	}
	return gophercloud.ExtractNextURL(s.Links)
}

// ExtractHistory returns the entries of a page.
func ExtractHistory(r pagination.Page) ([]HistoryEntry, error) {
	var s struct {
		History []HistoryEntry `json:"history"`
	}
	err := (r.(HistoryPage)).ExtractInto(&s)
	return s.History, err
}
