package testing

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/client/v1/events"
	th "opendev.org/openstack/vmmon/vmmon/client/v1/testhelper"
)

const instanceID = "aaaaaaaa-0000-4000-8000-000000000001"

// Two pages of vmmon-api's: the first with a next link.
const (
	firstBody = `{"events":[{"instance_id":"aaaaaaaa-0000-4000-8000-000000000001","id":"m2","timestamp":"2026-11-28T11:00:00Z","source":"nova","event_type":"instance.reboot.end","request_id":"req-2","user_id":"u1","project_id":"p-a"}],"events_links":[{"href":"%s/v1/instances/aaaaaaaa-0000-4000-8000-000000000001/events?limit=1","rel":"self"},{"href":"%s/v1/instances/aaaaaaaa-0000-4000-8000-000000000001/events?limit=1&marker=2026-11-28T11%3A00%3A00Z%2Cm2","rel":"next"}]}
`
	secondBody = `{"events":[{"instance_id":"aaaaaaaa-0000-4000-8000-000000000001","id":"m1","timestamp":"2026-11-28T10:00:00Z","source":"libvirt","event_type":"libvirt.started","detail":"booted"}],"events_links":[{"href":"%s/v1/instances/aaaaaaaa-0000-4000-8000-000000000001/events?limit=1&marker=x","rel":"self"}]}
`
)

var expected = []events.Event{
	{InstanceID: instanceID, ID: "m2", Time: time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC), Source: "nova", Type: "instance.reboot.end",
		RequestID: "req-2", UserID: "u1", ProjectID: "p-a"},
	{InstanceID: instanceID, ID: "m1", Time: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), Source: "libvirt", Type: "libvirt.started", Detail: "booted"},
}

// HandleListSuccessfully serves the two pages.
func HandleListSuccessfully(t *testing.T, s *th.Server) {
	s.Handle(t, http.MethodGet, "/v1/instances/"+instanceID+"/events", http.StatusOK, firstBody, secondBody)
}

func TestListFollowsNextLinks(t *testing.T) {
	s := th.Setup(t)
	HandleListSuccessfully(t, s)
	start := time.Date(2026, 11, 28, 15, 30, 0, 0, time.FixedZone("east", 5*3600+1800))
	pages, err := events.List(s.Client(), instanceID, events.ListOpts{Start: start, Limit: 1}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.ExtractEvents(pages)
	if err != nil || !reflect.DeepEqual(got, expected) {
		t.Errorf("events: %+v, %v", got, err)
	}
	first := url.Values(s.Requests[0].Query)
	if len(s.Requests) != 2 || first.Get("start") != "2026-11-28T10:00:00Z" || first.Get("limit") != "1" ||
		url.Values(s.Requests[1].Query).Get("marker") != "2026-11-28T11:00:00Z,m2" {
		t.Errorf("the API read %v", s.Requests)
	}
}
