package testing

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/client/v1/hosts"
	th "opendev.org/openstack/vmmon/vmmon/client/v1/testhelper"
)

// Bodies as vmmon-api writes them: two pages of hosts, one host.
const (
	firstBody = `{"hosts":[{"heartbeat_age_s":5,"interval_s":10,"last_heartbeat":"2026-11-28T11:59:55Z","last_seq":7,"name":"cmp1","seq_gaps":1,"status":"up","stream":"s1"}],"hosts_links":[{"href":"%s/v1/hosts?limit=1","rel":"self"},{"href":"%s/v1/hosts?limit=1&marker=cmp1","rel":"next"}]}
`
	secondBody = `{"hosts":[{"clock_skew_s":-42.5,"heartbeat_age_s":125,"interval_s":10,"last_heartbeat":"2026-11-28T11:57:55Z","last_seq":3,"name":"cmp2","seq_gaps":0,"status":"down","stream":"s9"}],"hosts_links":[{"href":"%s/v1/hosts?limit=1&marker=cmp1","rel":"self"}]}
`
	getBody = `{"host":{"heartbeat":{"host":"cmp1","n":7},"heartbeat_age_s":5,"interval_s":10,"last_heartbeat":"2026-11-28T11:59:55Z","last_seq":7,"name":"cmp1","seq_gaps":1,"status":"up","stream":"s1"}}
`
)

var (
	cmp1 = hosts.Host{Name: "cmp1", Status: "up", HeartbeatAge: 5, LastHeartbeat: time.Date(2026, 11, 28, 11, 59, 55, 0, time.UTC), Interval: 10,
		Stream: "s1", LastSeq: 7, SeqGaps: 1}
	cmp2 = hosts.Host{Name: "cmp2", Status: "down", HeartbeatAge: 125, LastHeartbeat: time.Date(2026, 11, 28, 11, 57, 55, 0, time.UTC), Interval: 10,
		Stream: "s9", LastSeq: 3, ClockSkew: -42.5}
)

// HandleListSuccessfully serves the two pages.
func HandleListSuccessfully(t *testing.T, s *th.Server) {
	s.Handle(t, http.MethodGet, "/v1/hosts", http.StatusOK, firstBody, secondBody)
}

func TestListFollowsNextLinks(t *testing.T) {
	s := th.Setup(t)
	HandleListSuccessfully(t, s)
	pages, err := hosts.List(s.Client(), hosts.ListOpts{Limit: 1}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all, err := hosts.ExtractHosts(pages)
	if err != nil || !reflect.DeepEqual(all, []hosts.Host{cmp1, cmp2}) || url.Values(s.Requests[1].Query).Get("marker") != "cmp1" {
		t.Errorf("hosts: %+v, %v (requests %v)", all, err, s.Requests)
	}
}

func TestGetKeepsTheHeartbeat(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/hosts/cmp1", http.StatusOK, getBody)
	h, err := hosts.Get(context.Background(), s.Client(), "cmp1").Extract()
	want := cmp1
	want.Heartbeat = []byte(`{"host":"cmp1","n":7}`)
	if err != nil || !reflect.DeepEqual(*h, want) {
		t.Errorf("host: %+v, %v", h, err)
	}
}

func TestListIsForAdministrators(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/hosts", http.StatusForbidden,
		`{"errors":[{"request_id":"req-1","code":"vmmon.forbidden","status":403,"title":"Forbidden","detail":"Only a cloud administrator or reader may list hosts."}]}`)
	if _, err := hosts.List(s.Client(), nil).AllPages(context.Background()); !th.ResponseCodeIs(err, http.StatusForbidden) {
		t.Errorf("a member listing hosts: %v; want a 403", err)
	}
}
