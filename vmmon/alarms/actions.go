package alarms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Runner carries out one action owed for a transition.
type Runner interface {
	Run(ctx context.Context, a storage.Alarm, p storage.PendingAction) error
}

// Payload is what a webhook receives and a notification carries.
type Payload struct {
	AlarmID    string    `json:"alarm_id"`
	AlarmName  string    `json:"alarm_name"`
	Previous   string    `json:"previous"`
	Current    string    `json:"current"`
	Reason     string    `json:"reason"`
	InstanceID string    `json:"instance_id,omitempty"`
	Value      *float64  `json:"value"`
	Timestamp  time.Time `json:"timestamp"`
}

// PayloadOf is the payload of a transition's action.
func PayloadOf(a storage.Alarm, p storage.PendingAction) Payload {
	return Payload{AlarmID: a.ID, AlarmName: a.Name, Previous: p.Previous, Current: p.Current, Reason: p.Reason,
		InstanceID: p.InstanceID, Value: p.Value, Timestamp: p.Time.UTC()}
}

// Payload is what a webhook would receive for the transition.
func (t Transition) Payload() Payload {
	return Payload{AlarmID: t.Alarm.ID, AlarmName: t.Alarm.Name, Previous: t.Previous, Current: t.State.State, Reason: t.State.Reason,
		InstanceID: t.Alarm.InstanceID, Value: t.State.Value, Timestamp: t.State.Time.UTC()}
}

// Signature is the value of the X-Vmmon-Signature header: "sha256=" and
// the hex HMAC-SHA256 of the body keyed with the webhook's secret.
func Signature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Backoff is the wait before attempt n+1 after n failed attempts: 1 s
// doubling, at most a minute.
func Backoff(n int) time.Duration {
	if n < 1 {
		return 0
	}
	d := time.Second << min(n-1, 6)
	return min(d, time.Minute)
}

// Actions runs webhooks, notifications and (through InstanceActions)
// instance actions.
type Actions struct {
	// HTTP calls webhooks; its Timeout bounds each call.
	HTTP *http.Client
	// Notify publishes vmmon.alarm.state_change; nil: notifications fail.
	Notify func(ctx context.Context, m *messaging.Message) error
	// Instance carries out instance actions; nil: they fail.
	Instance Runner
	// PublisherID names vmmon in notifications.
	PublisherID string
}

// ErrPermanent marks a failure that retrying cannot mend.
var ErrPermanent = errors.New("will not succeed on retry")

// Run carries out one action.
func (x *Actions) Run(ctx context.Context, a storage.Alarm, p storage.PendingAction) error {
	switch p.Action.Type {
	case "webhook":
		return x.webhook(ctx, a, p)
	case "notification":
		if x.Notify == nil {
			return fmt.Errorf("no notification bus configured: %w", ErrPermanent)
		}
		m, err := messaging.NewMessage(x.PublisherID, "vmmon.alarm.state_change", "INFO", PayloadOf(a, p))
		if err != nil {
			return err
		}
		m.Context = map[string]any{"project_id": a.ProjectID, "user_id": a.UserID}
		return x.Notify(ctx, m)
	case "instance_action":
		if x.Instance == nil {
			return fmt.Errorf("this vmmon carries out no instance actions: %w", ErrPermanent)
		}
		return x.Instance.Run(ctx, a, p)
	}
	return fmt.Errorf("unknown action type %q: %w", p.Action.Type, ErrPermanent)
}

func (x *Actions) webhook(ctx context.Context, a storage.Alarm, p storage.PendingAction) error {
	body, err := json.Marshal(PayloadOf(a, p))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Action.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %v: %w", p.Action.URL, err, ErrPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vmmon-alarms")
	// The same for every attempt of one action: receivers may drop repeats.
	req.Header.Set("X-Vmmon-Delivery", a.ID+"/"+p.ID)
	if p.Action.Secret != "" {
		req.Header.Set("X-Vmmon-Signature", Signature(p.Action.Secret, body))
	}
	client := x.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", p.Action.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s answered %s", p.Action.URL, resp.Status)
	}
	return nil
}
