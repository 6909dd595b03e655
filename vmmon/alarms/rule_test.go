package alarms

import (
	"errors"
	"strings"
	"testing"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

const inst = "5b6f8a8e-7c1d-4e0a-9f3b-0000000000b1"

func TestNewValid(t *testing.T) {
	r, err := Decode([]byte(`{"name": "busy", "metric": "cpu_util", "instance_id": "` + strings.ToUpper(inst) + `",
		"comparison": "gt", "threshold": 80, "actions": [{"type": "instance_action", "action": "reboot"},
		{"type": "webhook", "url": "https://hooks.example/x", "secret": "k"}, {"type": "notification"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	if a.InstanceID != inst || a.Aggregation != "mean" || a.Window != 60 || a.EvaluationPeriods != 1 || a.Severity != "low" ||
		!a.Enabled || a.RepeatActions || a.Target() != "instance" || len(a.Actions) != 3 || a.Actions[0].RebootType != "SOFT" ||
		a.Actions[1].Secret != "k" {
		t.Errorf("alarm with defaults: %+v", a)
	}
}

func TestNewInvalid(t *testing.T) {
	cases := []struct {
		name, body, field, detail string
	}{
		{"not json", `{`, "body", "JSON object"},
		{"unknown field", `{"nmae": "x"}`, "nmae", "unknown field"},
		{"wrong type", `{"threshold": "high"}`, "threshold", "expected a number"},
		{"no name", `{"metric": "cpu_util", "instance_id": "` + inst + `", "comparison": "gt", "threshold": 1}`, "name", "required"},
		{"no threshold", `{"name": "n", "metric": "cpu_util", "instance_id": "` + inst + `", "comparison": "gt"}`, "threshold", "required"},
		{"no target", `{"name": "n", "metric": "cpu_util", "comparison": "gt", "threshold": 1}`, "instance_id", "exactly one"},
		{"two targets", `{"name": "n", "metric": "cpu_util", "host": "h", "project_id": "p", "comparison": "gt", "threshold": 1}`,
			"instance_id", "exactly one"},
		{"bad uuid", `{"name": "n", "metric": "cpu_util", "instance_id": "x", "comparison": "gt", "threshold": 1}`, "instance_id", "UUID"},
		{"bad comparison", `{"name": "n", "metric": "cpu_util", "host": "h", "comparison": "gte", "threshold": 1}`, "comparison", "gt, ge, lt, le"},
		{"bad aggregation", `{"name": "n", "metric": "cpu_util", "host": "h", "comparison": "gt", "threshold": 1, "aggregation": "p99"}`,
			"aggregation", "mean"},
		{"window too short", `{"name": "n", "metric": "cpu_util", "host": "h", "comparison": "gt", "threshold": 1, "window": 5}`,
			"window", "from 10 to 86400"},
		{"fractional window", `{"name": "n", "metric": "cpu_util", "host": "h", "comparison": "gt", "threshold": 1, "window": 60.5}`,
			"window", "whole seconds"},
		{"periods", `{"name": "n", "metric": "cpu_util", "host": "h", "comparison": "gt", "threshold": 1, "evaluation_periods": 0}`,
			"evaluation_periods", "1 to 100"},
		{"severity", `{"name": "n", "metric": "cpu_util", "host": "h", "comparison": "gt", "threshold": 1, "severity": "urgent"}`,
			"severity", "low, moderate, critical"},
		{"bad metric", `{"name": "n", "metric": "cpu util", "host": "h", "comparison": "gt", "threshold": 1}`, "metric", "metric name"},
		{"empty name", `{"name": "", "metric": "cpu_util", "host": "h", "comparison": "gt", "threshold": 1}`, "name", "1 to 255"},
		{"webhook without url", `{"name": "n", "metric": "m", "host": "h", "comparison": "gt", "threshold": 1, "actions": [{"type": "webhook"}]}`,
			"actions[0].url", "absolute http"},
		{"webhook ftp", `{"name": "n", "metric": "m", "host": "h", "comparison": "gt", "threshold": 1,
			"actions": [{"type": "webhook", "url": "ftp://x/"}]}`, "actions[0].url", "absolute http"},
		{"unknown action type", `{"name": "n", "metric": "m", "host": "h", "comparison": "gt", "threshold": 1, "actions": [{"type": "email"}]}`,
			"actions[0].type", "webhook, notification, instance_action"},
		{"instance action on a project", `{"name": "n", "metric": "m", "project_id": "p", "comparison": "gt", "threshold": 1,
			"actions": [{"type": "instance_action", "action": "pause"}]}`, "actions[0].type", "only for an alarm on one instance"},
		{"unknown verb", `{"name": "n", "metric": "m", "instance_id": "` + inst + `", "comparison": "gt", "threshold": 1,
			"actions": [{"type": "instance_action", "action": "delete"}]}`, "actions[0].action", "pause, reboot"},
		{"reboot type", `{"name": "n", "metric": "m", "instance_id": "` + inst + `", "comparison": "gt", "threshold": 1,
			"actions": [{"type": "instance_action", "action": "reboot", "reboot_type": "soft"}]}`, "actions[0].reboot_type", "SOFT, HARD"},
		{"reboot type on pause", `{"name": "n", "metric": "m", "instance_id": "` + inst + `", "comparison": "gt", "threshold": 1,
			"actions": [{"type": "instance_action", "action": "pause", "reboot_type": "HARD"}]}`, "actions[0].reboot_type", "not a field"},
		{"url on notification", `{"name": "n", "metric": "m", "host": "h", "comparison": "gt", "threshold": 1,
			"actions": [{"type": "notification", "url": "http://x/"}]}`, "actions[1].url", ""},
	}
	cases[len(cases)-1].field = "actions[0].url"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Decode([]byte(c.body))
			if err == nil {
				_, err = New(r)
			}
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v; want an InvalidError", err)
			}
			if ie.Field != c.field || !strings.Contains(ie.Detail, c.detail) {
				t.Errorf("%q: %q; want field %q with %q", ie.Field, ie.Detail, c.field, c.detail)
			}
		})
	}
}

func TestApplyPatch(t *testing.T) {
	base := storage.Alarm{Name: "n", Metric: "cpu_util", InstanceID: inst, Aggregation: "mean", Window: 60, Comparison: "gt",
		Threshold: 80, EvaluationPeriods: 1, Severity: "low", Enabled: true}
	cases := []struct {
		name, body string
		check      func(storage.Alarm) bool
		field      string
	}{
		{"threshold and periods", `{"threshold": 90, "evaluation_periods": 3}`,
			func(a storage.Alarm) bool { return a.Threshold == 90 && a.EvaluationPeriods == 3 && a.Name == "n" }, ""},
		{"disable", `{"enabled": false}`, func(a storage.Alarm) bool { return !a.Enabled }, ""},
		{"actions replaced", `{"actions": [{"type": "notification"}]}`,
			func(a storage.Alarm) bool { return len(a.Actions) == 1 && a.Actions[0].Type == "notification" }, ""},
		{"target change", `{"host": "h"}`, nil, "host"},
		{"other instance", `{"instance_id": "00000000-0000-4000-8000-000000000000"}`, nil, "instance_id"},
		{"same instance", `{"instance_id": "` + inst + `"}`, func(a storage.Alarm) bool { return a.InstanceID == inst }, ""},
		{"bad value", `{"comparison": "eq"}`, nil, "comparison"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Decode([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			a := base
			err = Apply(&a, r)
			var ie *InvalidError
			switch {
			case c.field != "" && (!errors.As(err, &ie) || ie.Field != c.field):
				t.Errorf("error %v; want one on %s", err, c.field)
			case c.field == "" && (err != nil || !c.check(a)):
				t.Errorf("%+v, %v", a, err)
			}
		})
	}
}
