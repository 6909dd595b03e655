package messaging

import "testing"

// vmmon's own exchanges are durable with quorum queues (else a broker
// restart drops them and the queues' bindings); Nova's follows the
// deployment's amqp_durable_queues.
func TestExchangeDurable(t *testing.T) {
	for _, c := range []struct {
		durable, quorum, foreign bool
		want                     bool
	}{
		{false, false, false, false},
		{true, false, false, true},
		{false, true, false, true},
		{false, true, true, false},
		{true, true, true, true},
		{true, false, true, true},
	} {
		o := &Options{Durable: c.durable, Quorum: c.quorum}
		if got := (Exchange{Name: "x", Foreign: c.foreign}).durable(o); got != c.want {
			t.Errorf("durable=%v quorum=%v foreign=%v: %v, want %v", c.durable, c.quorum, c.foreign, got, c.want)
		}
	}
}
