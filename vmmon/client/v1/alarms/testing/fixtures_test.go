package testing

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"opendev.org/openstack/vmmon/vmmon/client/v1/alarms"
	th "opendev.org/openstack/vmmon/vmmon/client/v1/testhelper"
)

const alarmID = "0234de49-97d9-490a-bde7-21fa49255bca"

// Bodies as vmmon-api writes them.
const (
	alarmJSON   = `{"actions":[{"secret_set":true,"type":"webhook","url":"https://hooks.example/a"},{"action":"pause","type":"instance_action"}],"aggregation":"mean","comparison":"gt","created_at":"2026-11-28T12:00:00Z","description":"","enabled":true,"evaluation_periods":3,"id":"0234de49-97d9-490a-bde7-21fa49255bca","instance_id":"aaaaaaaa-0000-4000-8000-000000000001","links":[{"href":"%s/v1/alarms/0234de49-97d9-490a-bde7-21fa49255bca","rel":"self"}],"metric":"cpu_util","name":"busy","project_id":"p-a","repeat_actions":false,"severity":"low","state":"insufficient_data","state_reason":"Not evaluated yet.","state_timestamp":"2026-11-28T12:00:00Z","target":"instance","threshold":90,"updated_at":"2026-11-28T12:00:00Z","user_id":"u-m","value":null,"window":60}`
	alarmBody   = `{"alarm":` + alarmJSON + "}\n"
	listBody    = `{"alarms":[` + alarmJSON + `],"alarms_links":[{"href":"%s/v1/alarms?limit=1","rel":"self"},{"href":"%s/v1/alarms?limit=1&marker=0234de49-97d9-490a-bde7-21fa49255bca","rel":"next"}]}` + "\n"
	lastPage    = `{"alarms":[],"alarms_links":[{"href":"%s/v1/alarms?limit=1","rel":"self"}]}` + "\n"
	historyBody = `{"history":[{"alarm_id":"0234de49-97d9-490a-bde7-21fa49255bca","id":"18ec33b417c68000-3ad369e2","timestamp":"2026-11-28T12:00:00Z","type":"state_transition","previous":"ok","current":"alarm","reason":"cpu_util mean 95 > 90 over 60 s","value":95}],"history_links":[{"href":"%s/v1/alarms/0234de49-97d9-490a-bde7-21fa49255bca/history","rel":"self"}]}` + "\n"
)

var at = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func want(s *th.Server) alarms.Alarm {
	return alarms.Alarm{ID: alarmID, Name: "busy", ProjectID: "p-a", UserID: "u-m", Metric: "cpu_util", Target: "instance",
		InstanceID: "aaaaaaaa-0000-4000-8000-000000000001", Aggregation: "mean", Window: 60, Comparison: "gt", Threshold: 90,
		EvaluationPeriods: 3, Severity: "low", Enabled: true,
		Actions: []alarms.ActionView{{Type: "webhook", URL: "https://hooks.example/a", SecretSet: true}, {Type: "instance_action", Action: "pause"}},
		State:   "insufficient_data", StateReason: "Not evaluated yet.", StateTimestamp: at, CreatedAt: at, UpdatedAt: at,
		Links: []gophercloud.Link{{Href: s.URL + "/v1/alarms/" + alarmID, Rel: "self"}}}
}

func TestCreate(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodPost, "/v1/alarms", http.StatusCreated, alarmBody)
	a, err := alarms.Create(context.Background(), s.Client(), alarms.CreateOpts{Name: "busy", Metric: "cpu_util",
		InstanceID: "aaaaaaaa-0000-4000-8000-000000000001", Comparison: "gt", Threshold: 90, EvaluationPeriods: 3,
		Actions: []alarms.Action{{Type: "webhook", URL: "https://hooks.example/a", Secret: "k"}, {Type: "instance_action", Action: "pause"}}}).Extract()
	if err != nil || !reflect.DeepEqual(*a, want(s)) {
		t.Errorf("created: %+v, %v", a, err)
	}
	const sent = `{"actions":[{"secret":"k","type":"webhook","url":"https://hooks.example/a"},{"action":"pause","type":"instance_action"}],` +
		`"comparison":"gt","evaluation_periods":3,"instance_id":"aaaaaaaa-0000-4000-8000-000000000001","metric":"cpu_util","name":"busy","threshold":90}`
	if got := s.Requests[0].Body; got != sent {
		t.Errorf("the API read %s\nwant %s", got, sent)
	}
	if _, err := alarms.Create(context.Background(), s.Client(), alarms.CreateOpts{Metric: "cpu_util", Comparison: "gt"}).Extract(); err == nil {
		t.Error("an alarm without a name was sent")
	}
}

func TestGetUpdateDelete(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/alarms/"+alarmID, http.StatusOK, alarmBody)
	a, err := alarms.Get(context.Background(), s.Client(), alarmID).Extract()
	if err != nil || !reflect.DeepEqual(*a, want(s)) {
		t.Errorf("get: %+v, %v", a, err)
	}

	u := th.Setup(t)
	u.Handle(t, http.MethodPatch, "/v1/alarms/"+alarmID, http.StatusOK, alarmBody)
	threshold, enabled := 90.0, false
	if _, err := alarms.Update(context.Background(), u.Client(), alarmID, alarms.UpdateOpts{Threshold: &threshold, Enabled: &enabled}).Extract(); err != nil {
		t.Fatal(err)
	}
	if got := u.Requests[0].Body; got != `{"enabled":false,"threshold":90}` {
		t.Errorf("PATCH body %s", got)
	}

	d := th.Setup(t)
	d.Handle(t, http.MethodDelete, "/v1/alarms/"+alarmID, http.StatusNoContent, "")
	if err := alarms.Delete(context.Background(), d.Client(), alarmID).ExtractErr(); err != nil {
		t.Errorf("delete: %v", err)
	}
	n := th.Setup(t)
	n.Handle(t, http.MethodDelete, "/v1/alarms/"+alarmID, http.StatusNotFound,
		`{"errors":[{"request_id":"req-1","code":"vmmon.alarm.not_found","status":404,"title":"Not Found","detail":"Alarm not found."}]}`)
	if err := alarms.Delete(context.Background(), n.Client(), alarmID).ExtractErr(); !th.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("deleting another project's alarm: %v; want a 404", err)
	}
}

func TestListFollowsNext(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/alarms", http.StatusOK, listBody, lastPage)
	pages, err := alarms.List(s.Client(), alarms.ListOpts{Limit: 1, InstanceID: "aaaaaaaa-0000-4000-8000-000000000001"}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all, err := alarms.ExtractAlarms(pages)
	if err != nil || len(all) != 1 || all[0].ID != alarmID || len(s.Requests) != 2 || url.Values(s.Requests[1].Query).Get("marker") != alarmID ||
		url.Values(s.Requests[0].Query).Get("instance_id") != "aaaaaaaa-0000-4000-8000-000000000001" {
		t.Errorf("list: %+v, %v after %d requests", all, err, len(s.Requests))
	}
}

func TestHistory(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/alarms/"+alarmID+"/history", http.StatusOK, historyBody)
	pages, err := alarms.History(s.Client(), alarmID, &alarms.HistoryOpts{Limit: 10}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h, err := alarms.ExtractHistory(pages)
	v := 95.0
	wantEntry := alarms.HistoryEntry{AlarmID: alarmID, ID: "18ec33b417c68000-3ad369e2", Time: at, Type: "state_transition",
		Previous: "ok", Current: "alarm", Reason: "cpu_util mean 95 > 90 over 60 s", Value: &v}
	if err != nil || len(h) != 1 || !reflect.DeepEqual(h[0], wantEntry) || url.Values(s.Requests[0].Query).Get("limit") != "10" {
		t.Errorf("history: %+v, %v", h, err)
	}
}
