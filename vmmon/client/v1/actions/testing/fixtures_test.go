package testing

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/client/v1/actions"
	th "opendev.org/openstack/vmmon/vmmon/client/v1/testhelper"
)

const instanceID = "aaaaaaaa-0000-4000-8000-000000000001"

// Bodies as vmmon-api writes them.
const (
	createdBody = `{"action":{"id":"dfffb1f7","instance_id":"aaaaaaaa-0000-4000-8000-000000000001","project_id":"p-a","user_id":"u1","action":"reboot","params":"{\"type\":\"HARD\"}","status":"pending","request_id":"req-1","nova_request_id":"req-nova","message":"","created_at":"2026-11-28T12:00:00Z","updated_at":"2026-11-28T12:00:00Z"}}
`
	doneBody = `{"action":{"id":"dfffb1f7","instance_id":"aaaaaaaa-0000-4000-8000-000000000001","project_id":"p-a","user_id":"u1","action":"reboot","params":"{\"type\":\"HARD\"}","status":"succeeded","request_id":"req-1","nova_request_id":"req-nova","message":"","created_at":"2026-11-28T12:00:00Z","updated_at":"2026-11-28T12:00:30Z"}}
`
	listBody = `{"actions":[{"id":"dfffb1f7","instance_id":"aaaaaaaa-0000-4000-8000-000000000001","project_id":"p-a","user_id":"u1","action":"reboot","params":"{\"type\":\"HARD\"}","status":"succeeded","request_id":"req-1","nova_request_id":"req-nova","message":"","created_at":"2026-11-28T12:00:00Z","updated_at":"2026-11-28T12:00:30Z"}],"actions_links":[{"href":"%s/v1/instances/aaaaaaaa-0000-4000-8000-000000000001/actions","rel":"self"}]}
`
)

var at = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

var pending = actions.Action{ID: "dfffb1f7", InstanceID: instanceID, ProjectID: "p-a", UserID: "u1", Action: "reboot", Params: `{"type":"HARD"}`,
	Status: "pending", RequestID: "req-1", NovaRequestID: "req-nova", CreatedAt: at, UpdatedAt: at}

// HandleCreateSuccessfully accepts a reboot.
func HandleCreateSuccessfully(t *testing.T, s *th.Server) {
	s.Handle(t, http.MethodPost, "/v1/instances/"+instanceID+"/actions", http.StatusAccepted, createdBody)
}

func TestCreateSendsTheKey(t *testing.T) {
	s := th.Setup(t)
	HandleCreateSuccessfully(t, s)
	a, err := actions.Create(context.Background(), s.Client(), instanceID, actions.CreateOpts{Action: "reboot", Type: "HARD", IdempotencyKey: "k-1"}).Extract()
	if err != nil || !reflect.DeepEqual(*a, pending) {
		t.Errorf("created: %+v, %v", a, err)
	}
	req := s.Requests[0]
	if req.Body != `{"action":"reboot","type":"HARD"}` || req.Header.Get("Idempotency-Key") != "k-1" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("the API read %+v", req)
	}
	if _, err := actions.Create(context.Background(), s.Client(), instanceID, actions.CreateOpts{}).Extract(); err == nil {
		t.Error("an action without its name was sent")
	}
}

func TestCreateRefusedByNova(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodPost, "/v1/instances/"+instanceID+"/actions", http.StatusConflict,
		`{"errors":[{"request_id":"req-1","code":"vmmon.nova.conflict","status":409,"title":"Conflict","detail":"locked"}]}`)
	_, err := actions.Create(context.Background(), s.Client(), instanceID, actions.CreateOpts{Action: "stop"}).Extract()
	if !th.ResponseCodeIs(err, http.StatusConflict) {
		t.Errorf("a locked instance: %v; want a 409", err)
	}
}

func TestGetAndList(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/instances/"+instanceID+"/actions/dfffb1f7", http.StatusOK, doneBody)
	s.Handle(t, http.MethodGet, "/v1/instances/"+instanceID+"/actions", http.StatusOK, listBody)
	done := pending
	done.Status, done.UpdatedAt = "succeeded", at.Add(30*time.Second)
	a, err := actions.Get(context.Background(), s.Client(), instanceID, "dfffb1f7").Extract()
	if err != nil || !reflect.DeepEqual(*a, done) {
		t.Errorf("get: %+v, %v", a, err)
	}
	pages, err := actions.List(s.Client(), instanceID, actions.ListOpts{Limit: 5}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all, err := actions.ExtractActions(pages)
	if err != nil || !reflect.DeepEqual(all, []actions.Action{done}) || url.Values(s.Requests[1].Query).Get("limit") != "5" {
		t.Errorf("list: %+v, %v", all, err)
	}
}
