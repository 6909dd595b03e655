package testing

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/client/v1/metrics"
	th "opendev.org/openstack/vmmon/vmmon/client/v1/testhelper"
)

const instanceID = "aaaaaaaa-0000-4000-8000-000000000001"

// listBody is vmmon-api's answer: an instance-wide metric and a device's.
const listBody = `{"metrics":[{"name":"cpu_util","unit":"%","kind":"rate","last_timestamp":"2026-11-28T11:59:50Z","last_value":8.5},{"name":"disk.device.read.bytes.rate","device":"vda","unit":"B/s","kind":"rate","last_timestamp":"2026-11-28T11:59:50Z","last_value":1024}]}
`

var at = time.Date(2026, 11, 28, 11, 59, 50, 0, time.UTC)

var expected = []metrics.Metric{
	{Name: "cpu_util", Unit: "%", Kind: "rate", LastTime: at, LastValue: 8.5},
	{Name: "disk.device.read.bytes.rate", Device: "vda", Unit: "B/s", Kind: "rate", LastTime: at, LastValue: 1024},
}

// HandleListSuccessfully serves the instance's metrics.
func HandleListSuccessfully(t *testing.T, s *th.Server) {
	s.Handle(t, http.MethodGet, "/v1/instances/"+instanceID+"/metrics", http.StatusOK, listBody)
}

func TestList(t *testing.T) {
	s := th.Setup(t)
	HandleListSuccessfully(t, s)
	got, err := metrics.List(context.Background(), s.Client(), instanceID).Extract()
	if err != nil || !reflect.DeepEqual(got, expected) {
		t.Errorf("metrics: %+v, %v", got, err)
	}
}

func TestListOfAnotherProjectsInstance(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/instances/"+instanceID+"/metrics", http.StatusNotFound,
		`{"errors":[{"request_id":"req-1","code":"vmmon.instance.not_found","status":404,"title":"Not Found","detail":"Instance not found."}]}`)
	_, err := metrics.List(context.Background(), s.Client(), instanceID).Extract()
	if !th.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("another project's instance: %v; want a 404", err)
	}
}
