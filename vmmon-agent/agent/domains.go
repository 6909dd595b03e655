package agent

import (
	"context"
	"errors"
	"time"

	"opendev.org/openstack/vmmon/vmmon-agent/domxml"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon-agent/sampler"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
)

func (a *Agent) isInflight(uuid string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inflight[uuid]
}

// call runs fn for one domain with the timeout, unless an earlier call for the
// same domain is still stuck, in which case it reports a timeout at once.
func call[T any](ctx context.Context, a *Agent, uuid string, fn func() (T, error)) (T, error) {
	a.mu.Lock()
	if a.inflight[uuid] {
		a.mu.Unlock()
		var zero T
		return zero, ErrTimeout
	}
	a.inflight[uuid] = true
	a.mu.Unlock()
	return within(ctx, a.cfg.Timeout, func() (T, error) {
		defer func() {
			a.mu.Lock()
			delete(a.inflight, uuid)
			a.mu.Unlock()
		}()
		return fn()
	})
}

// refreshMeta reads the XML of domains not yet known and forgets those gone.
// Lifecycle events clear a domain's entry so that it is read again.
func (a *Agent) refreshMeta(ctx context.Context, conn hypervisor.Conn, refs []hypervisor.DomainRef) {
	seen := map[string]bool{}
	for _, r := range refs {
		seen[r.UUID] = true
	}
	a.mu.Lock()
	for uuid := range a.meta {
		if !seen[uuid] {
			delete(a.meta, uuid)
		}
	}
	var missing []string
	for _, r := range refs {
		if a.meta[r.UUID] == nil {
			missing = append(missing, r.UUID)
		}
	}
	a.mu.Unlock()
	for _, uuid := range missing {
		t0 := time.Now()
		doc, err := call(ctx, a, uuid, func() (string, error) { return conn.DomainXML(uuid) })
		a.stages.add("libvirt.xml", t0, err)
		if err != nil {
			if !errors.Is(err, hypervisor.ErrNoDomain) {
				a.log.Warn("reading domain XML", "uuid", uuid, "error", err)
			}
			continue
		}
		d, err := domxml.Parse(doc)
		if err != nil {
			a.log.Warn("parsing domain XML", "uuid", uuid, "error", err)
			continue
		}
		a.mu.Lock()
		a.meta[uuid] = d
		a.mu.Unlock()
	}
}

// forget drops what is cached of a domain (on its lifecycle events).
func (a *Agent) forget(uuid string) {
	a.mu.Lock()
	delete(a.meta, uuid)
	a.mu.Unlock()
}

// bulk reads every domain in one call, and lists them from its answer; nil
// when it failed or is still stuck from an earlier cycle (domains are then
// listed, and per-domain calls do the work).
func (a *Agent) bulk(ctx context.Context, conn hypervisor.Conn) (map[string]hypervisor.Stats, []hypervisor.DomainRef) {
	a.mu.Lock()
	if a.bulkBusy {
		a.mu.Unlock()
		return nil, nil
	}
	a.bulkBusy = true
	a.mu.Unlock()
	t0 := time.Now()
	stats, err := within(ctx, a.cfg.Timeout, func() ([]hypervisor.Stats, error) {
		defer func() {
			a.mu.Lock()
			a.bulkBusy = false
			a.mu.Unlock()
		}()
		return conn.BulkStats(hypervisor.AllGroups, false)
	})
	a.stages.add("libvirt.bulk", t0, err)
	if err != nil {
		a.log.Warn("bulk statistics failed; reading domains one by one", "error", err)
		return nil, nil
	}
	out := make(map[string]hypervisor.Stats, len(stats))
	refs := make([]hypervisor.DomainRef, 0, len(stats))
	for _, s := range stats {
		out[s.UUID] = s
		refs = append(refs, hypervisor.DomainRef{UUID: s.UUID, Name: s.Name, Active: s.State != "shutoff"})
	}
	return out, refs
}

const statGroups = hypervisor.GroupCPU | hypervisor.GroupVCPU | hypervisor.GroupBalloon | hypervisor.GroupNet | hypervisor.GroupBlock

// instance builds one domain's entry; ok is false for a domain that vanished.
func (a *Agent) instance(ctx context.Context, conn hypervisor.Conn, ref hypervisor.DomainRef, bulk map[string]hypervisor.Stats) (agentmsg.Instance, *sampler.Reading, bool) {
	a.mu.Lock()
	d := a.meta[ref.UUID]
	a.mu.Unlock()
	inst := agentmsg.Instance{UUID: ref.UUID, Name: ref.Name, Time: a.now().UTC(), MonoNS: int64(a.mono()), Metrics: []agentmsg.Metric{}}
	if d != nil {
		inst.Nova = d.Nova
	}
	s, inBulk := bulk[ref.UUID]
	if inBulk {
		inst.State, inst.Reason = s.State, s.Reason
	} else if !ref.Active {
		inst.State = "shutoff"
	}
	active := ref.Active || (inBulk && s.State != "shutoff")
	if !active {
		return inst, nil, true
	}
	// The driver's bulk call lacked groups (libvirt's test driver gives only
	// the state), or skipped the domain: read it with per-domain calls.
	if !inBulk || s.Groups&statGroups != statGroups {
		var disks, nics []string
		if d != nil {
			disks, nics = d.Disks, d.NICs
		}
		t0 := time.Now()
		fs, err := call(ctx, a, ref.UUID, func() (hypervisor.Stats, error) {
			return conn.DomainStats(ref.UUID, statGroups&^s.Groups, disks, nics)
		})
		a.stages.add("libvirt.domain", t0, err)
		switch {
		case errors.Is(err, hypervisor.ErrNoDomain):
			return inst, nil, false
		case errors.Is(err, ErrTimeout):
			inst.TimedOut = true
			inst.Errors = append(inst.Errors, err.Error())
			if inst.State == "" {
				inst.State = "running"
			}
			return inst, nil, true
		case err != nil && fs.Values == nil:
			inst.Errors = append(inst.Errors, err.Error())
			return inst, nil, true
		case err != nil:
			inst.Errors = append(inst.Errors, err.Error())
		}
		s = merge(s, fs)
		if inst.State == "" {
			inst.State = fs.State
		}
	}
	inst.MonoNS = int64(a.mono())
	s.State = inst.State
	return inst, &sampler.Reading{Stats: s, Mono: a.mono()}, true
}

// merge adds b's values to a's (b wins), e.g. per-domain reads to a bulk one.
// b's maps are taken over and filled, not copied: a bulk call that gave the
// state alone (libvirt's test driver) adds nothing to them.
func merge(a, b hypervisor.Stats) hypervisor.Stats {
	out := hypervisor.Stats{UUID: b.UUID, Name: b.Name, State: a.State, Reason: a.Reason,
		Values: b.Values, Names: b.Names, Groups: a.Groups | b.Groups}
	if out.State == "" {
		out.State, out.Reason, out.UUID, out.Name = b.State, b.Reason, b.UUID, b.Name
	}
	if out.Values == nil {
		out.Values = make(map[string]uint64, len(a.Values))
	}
	if out.Names == nil {
		out.Names = make(map[string]string, len(a.Names))
	}
	for k, v := range a.Values {
		if _, ok := out.Values[k]; !ok {
			out.Values[k] = v
		}
	}
	for k, v := range a.Names {
		if _, ok := out.Names[k]; !ok {
			out.Names[k] = v
		}
	}
	return out
}
