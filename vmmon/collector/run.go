package collector

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
)

// Queues names and binds the collector's queues.
type Queues struct {
	Agent, Nova        string
	Parking            string
	ParkingMax         int
	AgentExchange      string   // "vmmon"
	NovaExchange       string   // "nova"
	NotificationTopics []string // versioned_notifications, notifications
	RollupInterval     time.Duration
	Workers            int                // deliveries handled at once per queue
	NovaOptions        *messaging.Options // when Nova's broker differs; nil: the same
}

// Run consumes both queues and processes rollups until ctx ends.
func (c *Collector) Run(ctx context.Context, opts messaging.Options, q Queues) error {
	dlx := q.Parking + ".exchange"
	if err := messaging.DeclareParking(ctx, opts, dlx, q.Parking, q.ParkingMax); err != nil {
		return err
	}
	var keys []string
	for _, t := range q.NotificationTopics {
		keys = append(keys, t+".info", t+".error")
	}
	novaOpts := opts
	if q.NovaOptions != nil {
		novaOpts = *q.NovaOptions
	}
	agents := messaging.NewConsumer(opts, messaging.Queue{Name: q.Agent, DeadLetterExchange: dlx, Workers: q.Workers, Bindings: []messaging.Binding{{
		Exchange:    messaging.Exchange{Name: q.AgentExchange},
		RoutingKeys: []string{agentmsg.KindSamples + ".*", agentmsg.KindHeartbeat + ".*", agentmsg.KindEvents + ".*"},
	}}})
	nova := messaging.NewConsumer(novaOpts, messaging.Queue{Name: q.Nova, DeadLetterExchange: dlx, Workers: q.Workers, Bindings: []messaging.Binding{{
		Exchange: messaging.Exchange{Name: q.NovaExchange, Foreign: true}, RoutingKeys: keys,
	}}})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && ctx.Err() == nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				c.log.Error("collector part stopped", "part", name, "error", err)
			}
		}()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run("agent consumer", func() error { defer cancel(); return agents.Run(ctx, c.HandleAgent) })
	run("notification consumer", func() error { defer cancel(); return nova.Run(ctx, c.HandleNova) })
	run("rollups", func() error { return c.rollups(ctx, q.RollupInterval) })
	c.log.Info("vmmon-collector consuming", "agent_queue", q.Agent, "notification_queue", q.Nova,
		"notification_keys", strings.Join(keys, ","))
	wg.Wait()
	return errors.Join(errs...)
}

// rollupLimit is how many rollup buckets one call computes at most.
const rollupLimit = 5000

// rollups processes pending rollups every interval.
func (c *Collector) rollups(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for {
			n, err := c.store.ProcessRollups(ctx, rollupLimit)
			c.m.rollups.Add(float64(n))
			if err != nil {
				if ctx.Err() == nil && !failing {
					c.log.Warn("processing rollups failed; retrying every interval", "error", err)
				}
				c.m.passes.WithLabelValues("error").Inc()
				failing = true
				break
			}
			c.m.passes.WithLabelValues("ok").Inc()
			if failing {
				c.log.Info("processing rollups works again")
				failing = false
			}
			if n == 0 {
				// Nothing pending now: rollups are caught up.
				c.m.drained.Set(float64(c.now().UnixMilli()) / 1e3)
				break
			}
		}
	}
}
