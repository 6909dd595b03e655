package messaging

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// A handler that panics has its delivery rejected (parked) with the stack
// logged, and the worker handles the next delivery as usual.
func TestHandlerPanicRejects(t *testing.T) {
	var logs bytes.Buffer
	c := NewConsumer(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, Queue{Name: "q"})
	h := func(ctx context.Context, d Delivery) Outcome {
		switch string(d.Body) {
		case "nil map":
			var m map[string]int
			m["x"]++
		case "index":
			_ = []int{}[len(d.Body)]
		case "error value":
			panic(errors.New("boom"))
		case "requeue":
			return Requeue
		}
		return Ack
	}
	for _, c2 := range []struct {
		body string
		want Outcome
	}{
		{"nil map", Reject},
		{"fine", Ack},
		{"index", Reject},
		{"error value", Reject},
		{"requeue", Requeue},
		{"fine", Ack},
	} {
		if got := c.handle(context.Background(), h, Delivery{RoutingKey: "samples.h1", Body: []byte(c2.body)}); got != c2.want {
			t.Errorf("%s: outcome %v; want %v", c2.body, got, c2.want)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "a message handler panicked"); n != 3 {
		t.Errorf("%d panics logged; want 3:\n%s", n, out)
	}
	if !strings.Contains(out, "consumer_test.go") || !strings.Contains(out, "routing_key=samples.h1") || !strings.Contains(out, "boom") {
		t.Errorf("the log lacks the stack, the routing key or the panic value:\n%s", out)
	}
}
