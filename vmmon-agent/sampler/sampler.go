// Package sampler turns one domain's raw statistics into vmmon's metrics, one
// family at a time (state, cpu, memory, block, net), each a [Family] with one
// method. Rates are derived from the previous reading of the same domain and
// never go negative: a counter that went down (a reset, a restarted domain)
// gives no rate for that cycle.
package sampler

import (
	"strconv"
	"time"

	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
)

// Reading is a domain's statistics at a monotonic instant.
type Reading struct {
	Stats hypervisor.Stats
	Mono  time.Duration // monotonic clock of the reading
}

// Family turns a reading (and the previous one of the same domain, or nil)
// into metrics appended to out.
type Family interface {
	Name() string
	Sample(cur, prev *Reading, out []agentmsg.Metric) []agentmsg.Metric
}

// Families are the families the agent runs, in order.
var Families = []Family{cpuFamily{}, memoryFamily{}, blockFamily{}, netFamily{}}

// counter is a cumulative value and the rate derived from it.
type counter struct {
	key, name, unit, rateUnit string
	scale                     float64 // multiplies the raw value (e.g. KiB to MiB)
}

// emit appends the cumulative value of c and, when prev allows, its rate.
func emit(out []agentmsg.Metric, cur, prev *Reading, key, device string, c counter) []agentmsg.Metric {
	v, ok := cur.Stats.Values[key]
	if !ok {
		return out
	}
	scale := c.scale
	if scale == 0 {
		scale = 1
	}
	out = append(out, agentmsg.Metric{Name: c.name, Device: device, Value: float64(v) * scale, Unit: c.unit, Kind: agentmsg.Cumulative})
	if c.rateUnit == "" {
		return out
	}
	if r, ok := rate(cur, prev, key); ok {
		out = append(out, agentmsg.Metric{Name: c.name + ".rate", Device: device, Value: r * scale, Unit: c.rateUnit, Kind: agentmsg.Rate})
	}
	return out
}

// rate returns the per-second increase of key between prev and cur, or false
// when there is none to give (no previous reading, a reset, no time passed).
func rate(cur, prev *Reading, key string) (float64, bool) {
	if prev == nil || prev.Stats.State != "running" && prev.Stats.State != "paused" {
		return 0, false
	}
	a, ok1 := prev.Stats.Values[key]
	b, ok2 := cur.Stats.Values[key]
	dt := (cur.Mono - prev.Mono).Seconds()
	if !ok1 || !ok2 || b < a || dt <= 0 {
		return 0, false
	}
	return float64(b-a) / dt, true
}

type cpuFamily struct{}

func (cpuFamily) Name() string { return "cpu" }

func (cpuFamily) Sample(cur, prev *Reading, out []agentmsg.Metric) []agentmsg.Metric {
	v := cur.Stats.Values
	if n, ok := v["vcpu.current"]; ok {
		out = append(out, agentmsg.Metric{Name: "vcpus", Value: float64(n), Unit: "vcpu", Kind: agentmsg.Gauge})
	}
	out = emit(out, cur, prev, "cpu.time", "", counter{name: "cpu", unit: "ns"})
	if r, ok := rate(cur, prev, "cpu.time"); ok {
		vcpus := float64(v["vcpu.current"])
		if vcpus < 1 {
			vcpus = 1
		}
		// ns of CPU per second of wall time, over the vCPUs: 100 is every vCPU busy.
		out = append(out, agentmsg.Metric{Name: "cpu_util", Value: r / 1e9 / vcpus * 100, Unit: "%", Kind: agentmsg.Rate})
	}
	for i := 0; i < int(v["vcpu.current"]); i++ {
		out = emit(out, cur, prev, "vcpu."+strconv.Itoa(i)+".time", "vcpu"+strconv.Itoa(i), counter{name: "vcpu.time", unit: "ns"})
	}
	return out
}

type memoryFamily struct{}

func (memoryFamily) Name() string { return "memory" }

func (memoryFamily) Sample(cur, prev *Reading, out []agentmsg.Metric) []agentmsg.Metric {
	v := cur.Stats.Values
	gauge := func(key, name string) {
		if x, ok := v[key]; ok {
			out = append(out, agentmsg.Metric{Name: name, Value: float64(x) / 1024, Unit: "MB", Kind: agentmsg.Gauge})
		}
	}
	gauge("balloon.current", "memory")
	gauge("balloon.available", "memory.available")
	gauge("balloon.unused", "memory.unused")
	gauge("balloon.usable", "memory.usable")
	gauge("balloon.rss", "memory.resident")
	// As Ceilometer defines it: what the guest uses of what it sees.
	if avail, ok := v["balloon.available"]; ok {
		if unused, ok := v["balloon.unused"]; ok && unused <= avail {
			out = append(out, agentmsg.Metric{Name: "memory.usage", Value: float64(avail-unused) / 1024, Unit: "MB", Kind: agentmsg.Gauge})
		}
	}
	out = emit(out, cur, prev, "balloon.swap_in", "", counter{name: "memory.swap.in", unit: "MB", rateUnit: "MB/s", scale: 1.0 / 1024})
	out = emit(out, cur, prev, "balloon.swap_out", "", counter{name: "memory.swap.out", unit: "MB", rateUnit: "MB/s", scale: 1.0 / 1024})
	return out
}

type blockFamily struct{}

func (blockFamily) Name() string { return "block" }

var blockCounters = []counter{
	{key: "rd.bytes", name: "disk.device.read.bytes", unit: "B", rateUnit: "B/s"},
	{key: "rd.reqs", name: "disk.device.read.requests", unit: "request", rateUnit: "request/s"},
	{key: "rd.times", name: "disk.device.read.latency", unit: "ns"},
	{key: "wr.bytes", name: "disk.device.write.bytes", unit: "B", rateUnit: "B/s"},
	{key: "wr.reqs", name: "disk.device.write.requests", unit: "request", rateUnit: "request/s"},
	{key: "wr.times", name: "disk.device.write.latency", unit: "ns"},
	{key: "fl.reqs", name: "disk.device.flush.requests", unit: "request", rateUnit: "request/s"},
	{key: "errs", name: "disk.device.errors", unit: "error"},
}

func (blockFamily) Sample(cur, prev *Reading, out []agentmsg.Metric) []agentmsg.Metric {
	for i := 0; i < int(cur.Stats.Values["block.count"]); i++ {
		p := "block." + strconv.Itoa(i) + "."
		dev := cur.Stats.Names[p+"name"]
		if dev == "" {
			continue
		}
		pr := matchDevice(prev, "block", dev)
		for _, c := range blockCounters {
			out = emitDevice(out, cur, pr, p+c.key, pr.prefix+c.key, dev, c)
		}
		for key, name := range map[string]string{"capacity": "disk.device.capacity", "allocation": "disk.device.allocation"} {
			if x, ok := cur.Stats.Values[p+key]; ok {
				out = append(out, agentmsg.Metric{Name: name, Device: dev, Value: float64(x), Unit: "B", Kind: agentmsg.Gauge})
			}
		}
	}
	return out
}

type netFamily struct{}

func (netFamily) Name() string { return "net" }

var netCounters = []counter{
	{key: "rx.bytes", name: "network.incoming.bytes", unit: "B", rateUnit: "B/s"},
	{key: "rx.pkts", name: "network.incoming.packets", unit: "packet", rateUnit: "packet/s"},
	{key: "rx.errs", name: "network.incoming.packets.error", unit: "packet"},
	{key: "rx.drop", name: "network.incoming.packets.drop", unit: "packet"},
	{key: "tx.bytes", name: "network.outgoing.bytes", unit: "B", rateUnit: "B/s"},
	{key: "tx.pkts", name: "network.outgoing.packets", unit: "packet", rateUnit: "packet/s"},
	{key: "tx.errs", name: "network.outgoing.packets.error", unit: "packet"},
	{key: "tx.drop", name: "network.outgoing.packets.drop", unit: "packet"},
}

func (netFamily) Sample(cur, prev *Reading, out []agentmsg.Metric) []agentmsg.Metric {
	for i := 0; i < int(cur.Stats.Values["net.count"]); i++ {
		p := "net." + strconv.Itoa(i) + "."
		dev := cur.Stats.Names[p+"name"]
		if dev == "" {
			continue
		}
		pr := matchDevice(prev, "net", dev)
		for _, c := range netCounters {
			out = emitDevice(out, cur, pr, p+c.key, pr.prefix+c.key, dev, c)
		}
	}
	return out
}

// prevDevice is the previous reading with the index prefix the same device had
// then (devices may be hot-plugged, changing indexes).
type prevDevice struct {
	r      *Reading
	prefix string
}

func matchDevice(prev *Reading, group, dev string) prevDevice {
	if prev == nil {
		return prevDevice{}
	}
	for i := 0; i < int(prev.Stats.Values[group+".count"]); i++ {
		p := group + "." + strconv.Itoa(i) + "."
		if prev.Stats.Names[p+"name"] == dev {
			return prevDevice{r: prev, prefix: p}
		}
	}
	return prevDevice{}
}

func emitDevice(out []agentmsg.Metric, cur *Reading, pr prevDevice, key, prevKey, dev string, c counter) []agentmsg.Metric {
	v, ok := cur.Stats.Values[key]
	if !ok {
		return out
	}
	out = append(out, agentmsg.Metric{Name: c.name, Device: dev, Value: float64(v), Unit: c.unit, Kind: agentmsg.Cumulative})
	if c.rateUnit == "" || pr.r == nil {
		return out
	}
	// Compare the same device under its previous index.
	shifted := Reading{Stats: hypervisor.Stats{State: pr.r.Stats.State, Values: map[string]uint64{}}, Mono: pr.r.Mono}
	if a, ok := pr.r.Stats.Values[prevKey]; ok {
		shifted.Stats.Values[key] = a
	}
	if r, ok := rate(cur, &shifted, key); ok {
		out = append(out, agentmsg.Metric{Name: c.name + ".rate", Device: dev, Value: r, Unit: c.rateUnit, Kind: agentmsg.Rate})
	}
	return out
}
