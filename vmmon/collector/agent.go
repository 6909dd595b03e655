package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// agentTime is the UpdatedAt of instances known only from an agent: older
// than any notification, so that whatever Nova says wins.
var agentTime = time.Unix(1, 0).UTC()

// HandleAgent handles a batch, heartbeat or lifecycle event from an agent.
func (c *Collector) HandleAgent(ctx context.Context, d messaging.Delivery) (out messaging.Outcome) {
	defer c.survive(queueAgent, d, &out)
	m, err := messaging.Decode(d.Body)
	if err != nil {
		return c.outcome(ctx, queueAgent, d, parkWith(reasonUndecodable, err))
	}
	kind, host, _ := strings.Cut(d.RoutingKey, ".")
	switch kind {
	case agentmsg.KindSamples:
		var b agentmsg.Batch
		if err := agentmsg.Unwrap(m.Payload, agentmsg.ObjectBatch, &b); err != nil {
			return c.outcome(ctx, queueAgent, d, unwrapError(err))
		}
		var drops []drop
		if drops, err = c.Limits.validBatch(&b, c.now()); err != nil {
			return c.outcome(ctx, queueAgent, d, err)
		}
		err = c.durably(ctx, "batch from "+host, func(ctx context.Context) error { return c.batch(ctx, &b) })
		if err == nil {
			c.dropped(&b, drops)
			c.count(func(s *Stats) { s.Batches++ })
		}
	case agentmsg.KindHeartbeat:
		var hb agentmsg.Heartbeat
		if err := agentmsg.Unwrap(m.Payload, agentmsg.ObjectHeartbeat, &hb); err != nil {
			return c.outcome(ctx, queueAgent, d, unwrapError(err))
		}
		if v := validHeartbeat(&hb); v != nil {
			return c.outcome(ctx, queueAgent, d, parkWith(v.reason, v))
		}
		err = c.durably(ctx, "heartbeat from "+host, func(ctx context.Context) error { return c.heartbeat(ctx, &hb) })
		if err == nil {
			c.count(func(s *Stats) { s.Heartbeats++ })
		}
	case agentmsg.KindEvents:
		var e agentmsg.Event
		if err := agentmsg.Unwrap(m.Payload, agentmsg.ObjectEvent, &e); err != nil {
			return c.outcome(ctx, queueAgent, d, unwrapError(err))
		}
		if v := c.Limits.validEvent(&e, c.now()); v != nil {
			return c.outcome(ctx, queueAgent, d, parkWith(v.reason, v))
		}
		if v := checkText("message_id", m.MessageID, MaxNameBytes); v != nil {
			return c.outcome(ctx, queueAgent, d, parkWith(v.reason, v))
		}
		err = c.durably(ctx, "event from "+host, func(ctx context.Context) error {
			ev := storage.Event{InstanceID: e.UUID, ID: m.MessageID, Time: e.Time, Source: "libvirt",
				Type: "libvirt." + e.Event, Detail: e.Detail, Host: e.Host}
			// An event from a host where Nova does not place the instance (a
			// stale domain left behind a move) is kept, but said to be so.
			known, err := c.lookupInstances(ctx, []string{e.UUID})
			if err != nil {
				return err
			}
			if inst, ok := known[e.UUID]; ok && inst.Host != "" && inst.Host != e.Host && inst.UpdatedAt.After(agentTime) {
				ev.Detail = strings.TrimSpace(ev.Detail + fmt.Sprintf(" (from %s while Nova places the instance on %s)", e.Host, inst.Host))
				c.count(func(s *Stats) { s.HostMismatch++ })
			}
			return c.store.AddEvent(ctx, ev)
		})
		if err == nil {
			c.count(func(s *Stats) { s.AgentEvents++ })
		}
	default:
		err = park(reasonRoutingKey, "routing key %q is not samples.*, heartbeat.* or events.*", clip(d.RoutingKey))
	}
	return c.outcome(ctx, queueAgent, d, err)
}

// unwrapError parks a payload that is not the object expected.
func unwrapError(err error) error {
	if errors.Is(err, agentmsg.ErrVersion) {
		return parkWith(reasonVersion, err)
	}
	return parkWith(reasonUndecodable, err)
}

// dropped counts and logs, in one line, what was left out of a stored batch.
func (c *Collector) dropped(b *agentmsg.Batch, drops []drop) {
	if len(drops) == 0 {
		return
	}
	details := make([]string, 0, min(len(drops), maxDetails))
	for i, d := range drops {
		c.m.dropped.WithLabelValues(d.item, d.reason).Inc()
		if i < maxDetails {
			details = append(details, d.detail)
		}
	}
	c.count(func(s *Stats) { s.Dropped += len(drops) })
	c.log.Warn("left invalid instances or metrics out of a batch; stored the rest", "host", b.Host, "stream", b.Stream, "seq", b.Seq,
		"dropped", len(drops), "first", strings.Join(details, "; "))
}

func (c *Collector) forgetInstance(id string) {
	c.mu.Lock()
	delete(c.instances, id)
	c.mu.Unlock()
}

// lookupInstances returns what is known of the batch's instances, from the
// cache or, for the others, read concurrently; unknown ones are absent. A
// failed read fails the lookup and stops the others.
func (c *Collector) lookupInstances(ctx context.Context, ids []string) (map[string]storage.Instance, error) {
	out := make(map[string]storage.Instance, len(ids))
	now := c.now()
	var missing []string
	c.mu.Lock()
	for _, id := range ids {
		if e, ok := c.instances[id]; ok && now.Sub(e.at) < InstanceCacheTime {
			out[id] = e.inst
		} else {
			missing = append(missing, id)
		}
	}
	if len(c.instances) > 100000 {
		c.instances = map[string]cachedInstance{}
	}
	c.mu.Unlock()
	// At most 16 reads at once; the first failure (not "not found") fails
	// the whole lookup and cancels the reads still running.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	var mu sync.Mutex
	for _, id := range missing {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			inst, err := c.store.GetInstance(gctx, id)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				return nil
			case err != nil:
				return err
			}
			mu.Lock()
			out[id] = inst
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	for _, id := range missing {
		if inst, ok := out[id]; ok {
			c.instances[id] = cachedInstance{inst: inst, at: now}
		}
	}
	c.mu.Unlock()
	return out, nil
}

// batch pairs each instance's metrics with its project and host, and writes them.
func (c *Collector) batch(ctx context.Context, b *agentmsg.Batch) error {
	var samples []storage.Sample
	mismatched := 0
	ids := make([]string, 0, len(b.Instances))
	for i := range b.Instances {
		ids = append(ids, b.Instances[i].UUID)
	}
	known, err := c.lookupInstances(ctx, ids)
	if err != nil {
		return err
	}
	for i := range b.Instances {
		in := &b.Instances[i]
		inst, ok := known[in.UUID]
		if !ok {
			// Seen by an agent before Nova said anything: keep what the
			// domain's metadata tells until Nova does.
			inst = agentInstance(in, b.Host)
			if err := c.store.PutInstance(ctx, inst); err != nil {
				return err
			}
			c.forgetInstance(in.UUID)
		}
		if inst.Host != "" && inst.Host != b.Host && inst.UpdatedAt.After(agentTime) {
			// Nova says the instance lives elsewhere (a migration in flight,
			// or a stale domain): flag it on the timeline, never mix it into
			// the series.
			mismatched++
			if err := c.store.AddEvent(ctx, storage.Event{InstanceID: in.UUID, ID: b.Stream + "-" + fmt.Sprint(b.Seq),
				Time: in.Time, Source: "vmmon", Type: "vmmon.host_mismatch", Host: b.Host,
				Detail: fmt.Sprintf("samples from %s while Nova places the instance on %s; not stored", b.Host, inst.Host)}); err != nil {
				return err
			}
			continue
		}
		for _, m := range in.Metrics {
			samples = append(samples, storage.Sample{InstanceID: in.UUID, Metric: m.Name, Device: m.Device, Time: in.Time,
				Value: m.Value, Unit: m.Unit, Kind: m.Kind, ProjectID: inst.ProjectID, Host: b.Host})
		}
	}
	if err := c.store.WriteSamples(ctx, samples); err != nil {
		return err
	}
	// A batch ahead of this collector's clock is recorded at this
	// collector's time, so that the stream of an agent whose clock was
	// corrected (and restarted) still becomes the host's current one.
	at, now := b.Time, c.now()
	ahead := c.Limits.MaxClockSkew > 0 && b.Time.Sub(now) > c.Limits.MaxClockSkew
	if ahead {
		at = now
	}
	if err := c.store.RecordBatch(ctx, b.Host, b.Stream, b.Seq, at); err != nil {
		return err
	}
	if ahead {
		c.m.skewed.WithLabelValues("batch").Inc()
	}
	c.count(func(s *Stats) { s.Samples += len(samples); s.HostMismatch += mismatched })
	c.m.samples.Add(float64(len(samples)))
	return nil
}

func agentInstance(in *agentmsg.Instance, host string) storage.Instance {
	inst := storage.Instance{ID: in.UUID, Name: in.Name, Host: host, State: agentState(in.State), PowerState: in.State,
		UpdatedAt: agentTime, IPs: []string{}, Source: "agent"}
	if n := in.Nova; n != nil {
		inst.Name, inst.ProjectID, inst.UserID = n.Name, n.ProjectID, n.UserID
		inst.FlavorName, inst.FlavorVCPUs, inst.FlavorMemoryMB, inst.FlavorDiskGB = n.Flavor.Name, n.Flavor.VCPUs, n.Flavor.MemoryMB, n.Flavor.DiskGB
		if n.RootType == "image" {
			inst.ImageID = n.RootID
		}
		for _, p := range n.Ports {
			inst.IPs = append(inst.IPs, p.IPs...)
		}
	}
	return inst
}

// agentState maps a libvirt state to the Nova vm_state it most likely is.
func agentState(s string) string {
	switch s {
	case "running", "blocked":
		return "active"
	case "paused":
		return "paused"
	case "shutoff", "shutdown", "crashed":
		return "stopped"
	case "pmsuspended":
		return "suspended"
	}
	return s
}

// heartbeat stores a heartbeat with the agent's clock skew: beyond
// Limits.MaxClockSkew the skew is recorded on the host and the heartbeat is
// timed by this collector's clock; within it, the host's skew is cleared.
func (c *Collector) heartbeat(ctx context.Context, hb *agentmsg.Heartbeat) error {
	raw, err := json.Marshal(hb)
	if err != nil {
		return parkWith(reasonUndecodable, err)
	}
	if len(raw) > MaxHeartbeatBytes {
		return park(reasonTooLarge, "heartbeat of %d bytes exceeds %d", len(raw), MaxHeartbeatBytes)
	}
	now := c.now().UTC()
	skew := hb.Time.Sub(now)
	h := storage.Host{Name: hb.Host, LastHeartbeat: hb.Time, Interval: hb.Interval, Heartbeat: string(raw)}
	skewed := c.Limits.MaxClockSkew > 0 && (skew > c.Limits.MaxClockSkew || skew < -c.Limits.MaxClockSkew)
	if skewed {
		// To the millisecond: what the heartbeat's time is kept to.
		h.ClockSkew, h.LastHeartbeat = float64(skew.Milliseconds())/1e3, now
	}
	if err := c.store.PutHeartbeat(ctx, h); err != nil {
		return err
	}
	c.m.skew.WithLabelValues(hb.Host).Set(skew.Seconds())
	if skewed {
		c.m.skewed.WithLabelValues("heartbeat").Inc()
	}
	c.mu.Lock()
	was := c.skewed[hb.Host]
	c.skewed[hb.Host] = skewed
	c.mu.Unlock()
	switch {
	case skewed && !was:
		c.log.Warn("an agent's clock is off; its host is flagged", "host", hb.Host, "clock_skew_s", h.ClockSkew,
			"max_clock_skew_s", c.Limits.MaxClockSkew.Seconds())
	case !skewed && was:
		c.log.Info("an agent's clock agrees again", "host", hb.Host, "clock_skew_s", skew.Seconds())
	}
	return nil
}
