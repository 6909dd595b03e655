// Package alarms is vmmon's alarm model: the body of /v1/alarms requests,
// the rules they must follow, and how a request becomes (or changes) a
// stored alarm.
package alarms

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Choices of the enumerated fields.
var (
	Aggregations  = []string{"mean", "min", "max", "last", "sum", "count"}
	Comparisons   = []string{"gt", "ge", "lt", "le"}
	Severities    = []string{"low", "moderate", "critical"}
	ActionTypes   = []string{"webhook", "notification", "instance_action"}
	InstanceVerbs = []string{"pause", "reboot", "shelve", "stop", "suspend"}
	RebootTypes   = []string{"SOFT", "HARD"}
	metricPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,255}$`)
	uuidPattern   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// Bounds of the numeric fields.
const (
	MinWindow     = 10
	MaxWindow     = 86400
	MaxPeriods    = 100
	MaxActions    = 10
	MaxNameLength = 255
	MaxDescLength = 1023
)

// Request is the body of POST and PATCH /v1/alarms[/{id}]. Absent fields
// are nil: defaults on create, unchanged on update.
type Request struct {
	Name              *string   `json:"name"`
	Description       *string   `json:"description"`
	Metric            *string   `json:"metric"`
	InstanceID        *string   `json:"instance_id"`
	ProjectID         *string   `json:"project_id"`
	Host              *string   `json:"host"`
	Aggregation       *string   `json:"aggregation"`
	Window            *float64  `json:"window"`
	Comparison        *string   `json:"comparison"`
	Threshold         *float64  `json:"threshold"`
	EvaluationPeriods *float64  `json:"evaluation_periods"`
	Severity          *string   `json:"severity"`
	Enabled           *bool     `json:"enabled"`
	RepeatActions     *bool     `json:"repeat_actions"`
	Actions           *[]Action `json:"actions"`
}

// Action is one entry of a request's actions.
type Action struct {
	Type       string `json:"type"`
	URL        string `json:"url,omitempty"`
	Secret     string `json:"secret,omitempty"`
	Action     string `json:"action,omitempty"`
	RebootType string `json:"reboot_type,omitempty"`
}

// InvalidError says which field of a request is wrong and how to fix it.
type InvalidError struct {
	Field  string
	Detail string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Detail }

func invalid(field, format string, a ...any) error {
	return &InvalidError{Field: field, Detail: fmt.Sprintf(format, a...)}
}

// Decode reads a request body, refusing unknown fields and values of the
// wrong type with a message naming the field.
func Decode(body []byte) (Request, error) {
	var r Request
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return r, invalid(te.Field, "expected a %s, not a JSON %s", jsonKind(te.Type.String()), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return r, invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`),
				"unknown field; an alarm has name, description, metric, instance_id | project_id | host, aggregation, window, "+
					"comparison, threshold, evaluation_periods, severity, enabled, repeat_actions and actions")
		}
		return r, invalid("body", "expected a JSON object: %v", err)
	}
	if dec.More() {
		return r, invalid("body", "expected one JSON object")
	}
	return r, nil
}

func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "float"):
		return "number"
	case strings.Contains(goType, "bool"):
		return "boolean (true or false)"
	case strings.Contains(goType, "[]"):
		return "list"
	case strings.Contains(goType, "string"):
		return "string"
	}
	return "object"
}

func oneOf(field, v string, choices []string) error {
	if !slices.Contains(choices, v) {
		return invalid(field, "%q is not one of %s", v, strings.Join(choices, ", "))
	}
	return nil
}

// New makes an alarm from a create request. The caller fills in the id,
// the owner and the times; the target is checked here for form only.
func New(r Request) (storage.Alarm, error) {
	a := storage.Alarm{Aggregation: "mean", Window: 60, EvaluationPeriods: 1, Severity: "low", Enabled: true, Actions: []storage.AlarmAction{}}
	for _, req := range []struct {
		field string
		set   bool
	}{{"name", r.Name != nil}, {"metric", r.Metric != nil}, {"comparison", r.Comparison != nil}, {"threshold", r.Threshold != nil}} {
		if !req.set {
			return a, invalid(req.field, "required")
		}
	}
	n := 0
	for _, p := range []*string{r.InstanceID, r.ProjectID, r.Host} {
		if p != nil {
			n++
		}
	}
	if n != 1 {
		return a, invalid("instance_id", "give exactly one of instance_id (an instance), project_id (all the instances of a project) or host (a compute host)")
	}
	switch {
	case r.InstanceID != nil:
		if !uuidPattern.MatchString(*r.InstanceID) {
			return a, invalid("instance_id", "%q is not an instance UUID", *r.InstanceID)
		}
		a.InstanceID = strings.ToLower(*r.InstanceID)
	case r.ProjectID != nil:
		if *r.ProjectID == "" || len(*r.ProjectID) > 64 {
			return a, invalid("project_id", "expected a project id")
		}
		a.ProjectID = *r.ProjectID
	case r.Host != nil:
		if *r.Host == "" || len(*r.Host) > 255 {
			return a, invalid("host", "expected a compute host's name")
		}
		a.Host = *r.Host
	}
	r.InstanceID, r.ProjectID, r.Host = nil, nil, nil
	if err := Apply(&a, r); err != nil {
		return a, err
	}
	return a, nil
}

// Apply changes a according to r, the target aside (a PATCH may not move
// an alarm to another instance, project or host), and checks the result.
func Apply(a *storage.Alarm, r Request) error {
	if r.InstanceID != nil && !strings.EqualFold(*r.InstanceID, a.InstanceID) || r.Host != nil && *r.Host != a.Host ||
		r.ProjectID != nil && (a.Target() != "project" || *r.ProjectID != a.ProjectID) {
		return invalid(target(r), "an alarm's target cannot change; create another alarm and delete this one")
	}
	if r.Name != nil {
		if *r.Name == "" || len(*r.Name) > MaxNameLength {
			return invalid("name", "expected 1 to %d characters", MaxNameLength)
		}
		a.Name = *r.Name
	}
	if r.Description != nil {
		if len(*r.Description) > MaxDescLength {
			return invalid("description", "at most %d characters", MaxDescLength)
		}
		a.Description = *r.Description
	}
	if r.Metric != nil {
		if !metricPattern.MatchString(*r.Metric) {
			return invalid("metric", "%q is not a metric name such as cpu_util or memory.usage", *r.Metric)
		}
		a.Metric = *r.Metric
	}
	if r.Aggregation != nil {
		if err := oneOf("aggregation", *r.Aggregation, Aggregations); err != nil {
			return err
		}
		a.Aggregation = *r.Aggregation
	}
	if r.Window != nil {
		w := *r.Window
		if w != math.Trunc(w) || w < MinWindow || w > MaxWindow {
			return invalid("window", "expected whole seconds from %d to %d", MinWindow, MaxWindow)
		}
		a.Window = int(w)
	}
	if r.Comparison != nil {
		if err := oneOf("comparison", *r.Comparison, Comparisons); err != nil {
			return err
		}
		a.Comparison = *r.Comparison
	}
	if r.Threshold != nil {
		a.Threshold = *r.Threshold
	}
	if r.EvaluationPeriods != nil {
		p := *r.EvaluationPeriods
		if p != math.Trunc(p) || p < 1 || p > MaxPeriods {
			return invalid("evaluation_periods", "expected a whole number from 1 to %d", MaxPeriods)
		}
		a.EvaluationPeriods = int(p)
	}
	if r.Severity != nil {
		if err := oneOf("severity", *r.Severity, Severities); err != nil {
			return err
		}
		a.Severity = *r.Severity
	}
	if r.Enabled != nil {
		a.Enabled = *r.Enabled
	}
	if r.RepeatActions != nil {
		a.RepeatActions = *r.RepeatActions
	}
	if r.Actions != nil {
		acts, err := actions(*r.Actions, a.Target())
		if err != nil {
			return err
		}
		a.Actions = acts
	}
	return nil
}

func target(r Request) string {
	switch {
	case r.InstanceID != nil:
		return "instance_id"
	case r.Host != nil:
		return "host"
	}
	return "project_id"
}

func actions(in []Action, target string) ([]storage.AlarmAction, error) {
	if len(in) > MaxActions {
		return nil, invalid("actions", "at most %d actions", MaxActions)
	}
	out := make([]storage.AlarmAction, 0, len(in))
	for i, x := range in {
		field := fmt.Sprintf("actions[%d]", i)
		if err := oneOf(field+".type", x.Type, ActionTypes); err != nil {
			return nil, err
		}
		act := storage.AlarmAction{Type: x.Type}
		extra := func(name, v string) error {
			if v != "" {
				return invalid(field+"."+name, "not a field of a %s action", x.Type)
			}
			return nil
		}
		var err error
		switch x.Type {
		case "webhook":
			if err = checkURL(field+".url", x.URL); err == nil && len(x.Secret) > 255 {
				err = invalid(field+".secret", "at most 255 characters")
			}
			err = errors.Join(err, extra("action", x.Action), extra("reboot_type", x.RebootType))
			act.URL, act.Secret = x.URL, x.Secret
		case "notification":
			err = errors.Join(extra("url", x.URL), extra("secret", x.Secret), extra("action", x.Action), extra("reboot_type", x.RebootType))
		case "instance_action":
			if target != "instance" {
				return nil, invalid(field+".type", "instance_action is only for an alarm on one instance (instance_id)")
			}
			if err = oneOf(field+".action", x.Action, InstanceVerbs); err == nil {
				switch {
				case x.Action == "reboot" && x.RebootType == "":
					x.RebootType = "SOFT"
				case x.Action == "reboot":
					err = oneOf(field+".reboot_type", x.RebootType, RebootTypes)
				default:
					err = extra("reboot_type", x.RebootType)
				}
			}
			err = errors.Join(err, extra("url", x.URL), extra("secret", x.Secret))
			act.Action, act.RebootType = x.Action, x.RebootType
		}
		if err != nil {
			// The first problem, with its own message.
			var ie *InvalidError
			if errors.As(err, &ie) {
				return nil, ie
			}
			return nil, err
		}
		out = append(out, act)
	}
	return out, nil
}

func checkURL(field, raw string) error {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > 2048 {
		return invalid(field, "%q: expected an absolute http or https URL", raw)
	}
	return nil
}
