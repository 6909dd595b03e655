package testing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/client/v1/stream"
	th "opendev.org/openstack/vmmon/vmmon/client/v1/testhelper"
)

const instanceID = "aaaaaaaa-0000-4000-8000-000000000001"

// Streams as vmmon-api writes them.
const (
	endedBody = "retry: 3000\n\n" +
		"id: 1\nevent: sample\ndata: {\"instance_id\":\"aaaaaaaa-0000-4000-8000-000000000001\",\"timestamp\":\"2026-11-28T12:00:00Z\",\"state\":\"running\",\"metrics\":[{\"name\":\"cpu_util\",\"value\":8.5,\"unit\":\"%\",\"kind\":\"rate\"}]}\n\n" +
		": a comment\n\n" +
		"id: 2\nevent: sample\ndata: {\"instance_id\":\"aaaaaaaa-0000-4000-8000-000000000001\",\"host\":\"cmp1\",\"timestamp\":\"2026-11-28T12:00:10Z\",\"state\":\"paused\",\"metrics\":[]}\n\n" +
		"event: end\ndata: {\"detail\": \"the stream reached its maximum lifetime or the token expired; reconnect with a valid token\"}\n\n"
	droppedBody = "retry: 3000\n\nevent: error\ndata: {\"detail\": \"the client did not keep up and was dropped; reconnect\"}\n\n"
)

func TestSamplesThenEnd(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/instances/"+instanceID+"/stream", http.StatusOK, endedBody)
	st, err := stream.Open(context.Background(), s.Client(), instanceID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []stream.Sample
	for {
		smp, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, *smp)
	}
	want := []stream.Sample{
		{InstanceID: instanceID, Time: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), State: "running",
			Metrics: []stream.Metric{{Name: "cpu_util", Value: 8.5, Unit: "%", Kind: "rate"}}},
		{InstanceID: instanceID, Host: "cmp1", Time: time.Date(2026, 11, 28, 12, 0, 10, 0, time.UTC), State: "paused", Metrics: []stream.Metric{}},
	}
	if !reflect.DeepEqual(got, want) || st.Retry != 3*time.Second || st.LastID != "2" {
		t.Errorf("samples %+v, retry %v, last id %q", got, st.Retry, st.LastID)
	}
	if s.Requests[0].Header.Get("Accept") != "text/event-stream" {
		t.Errorf("Accept %q", s.Requests[0].Header.Get("Accept"))
	}
}

func TestDropped(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/instances/"+instanceID+"/stream", http.StatusOK, droppedBody)
	st, err := stream.Open(context.Background(), s.Client(), instanceID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Next(); !errors.Is(err, stream.ErrDropped) {
		t.Errorf("a dropped stream: %v", err)
	}
}

func TestTooManyStreams(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/v1/instances/"+instanceID+"/stream", http.StatusTooManyRequests,
		`{"errors":[{"request_id":"req-1","code":"vmmon.stream.too_many","status":429,"title":"Too Many Requests","detail":"close one first"}]}`)
	if _, err := stream.Open(context.Background(), s.Client(), instanceID); !th.ResponseCodeIs(err, http.StatusTooManyRequests) {
		t.Errorf("too many streams: %v", err)
	}
}
