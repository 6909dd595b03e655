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
	field                     int     // of a device counter: its position in hypervisor's DeviceKeys
	rateName                  string  // name + ".rate", made once
}

// withRateNames sets each counter's rate name.
func withRateNames(cs []counter) []counter {
	for i := range cs {
		cs[i].rateName = cs[i].name + ".rate"
	}
	return cs
}

// emit appends the cumulative value of c and, when prev allows, its rate.
func emit(out []agentmsg.Metric, cur, prev *Reading, key, device string, c *counter) []agentmsg.Metric {
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
		out = append(out, agentmsg.Metric{Name: c.rateName, Device: device, Value: r * scale, Unit: c.rateUnit, Kind: agentmsg.Rate})
	}
	return out
}

// rate returns the per-second increase of key between prev and cur, or false
// when there is none to give (no previous reading, a reset, no time passed).
func rate(cur, prev *Reading, key string) (float64, bool) {
	if prev == nil {
		return 0, false
	}
	b, ok := cur.Stats.Values[key]
	if !ok {
		return 0, false
	}
	a, ok := prev.Stats.Values[key]
	return rateFrom(cur, b, prev, a, ok)
}

// rateFrom returns the per-second increase from prev's value a (when it has
// one, ok) to cur's value b.
func rateFrom(cur *Reading, b uint64, prev *Reading, a uint64, ok bool) (float64, bool) {
	if prev == nil || prev.Stats.State != "running" && prev.Stats.State != "paused" {
		return 0, false
	}
	dt := (cur.Mono - prev.Mono).Seconds()
	if !ok || b < a || dt <= 0 {
		return 0, false
	}
	return float64(b-a) / dt, true
}

type cpuFamily struct{}

func (cpuFamily) Name() string { return "cpu" }

var (
	cpuCounter  = counter{name: "cpu", unit: "ns"}
	vcpuCounter = counter{name: "vcpu.time", unit: "ns"}
	vcpuDevices = func() (out [16]string) {
		for i := range out {
			out[i] = "vcpu" + strconv.Itoa(i)
		}
		return out
	}()
)

// vcpuDevice is the device name of vCPU i's metrics.
func vcpuDevice(i int) string {
	if i < len(vcpuDevices) {
		return vcpuDevices[i]
	}
	return "vcpu" + strconv.Itoa(i)
}

func (cpuFamily) Sample(cur, prev *Reading, out []agentmsg.Metric) []agentmsg.Metric {
	v := cur.Stats.Values
	if n, ok := v["vcpu.current"]; ok {
		out = append(out, agentmsg.Metric{Name: "vcpus", Value: float64(n), Unit: "vcpu", Kind: agentmsg.Gauge})
	}
	out = emit(out, cur, prev, "cpu.time", "", &cpuCounter)
	if r, ok := rate(cur, prev, "cpu.time"); ok {
		vcpus := float64(v["vcpu.current"])
		if vcpus < 1 {
			vcpus = 1
		}
		// ns of CPU per second of wall time, over the vCPUs: 100 is every vCPU busy.
		out = append(out, agentmsg.Metric{Name: "cpu_util", Value: r / 1e9 / vcpus * 100, Unit: "%", Kind: agentmsg.Rate})
	}
	for i := 0; i < int(v["vcpu.current"]); i++ {
		out = emit(out, cur, prev, hypervisor.VCPUKeys.Key(i, 0), vcpuDevice(i), &vcpuCounter)
	}
	return out
}

type memoryFamily struct{}

func (memoryFamily) Name() string { return "memory" }

var memoryGauges = []struct{ key, name string }{
	{"balloon.current", "memory"}, {"balloon.available", "memory.available"}, {"balloon.unused", "memory.unused"},
	{"balloon.usable", "memory.usable"}, {"balloon.rss", "memory.resident"},
}

var memoryCounters = withRateNames([]counter{
	{key: "balloon.swap_in", name: "memory.swap.in", unit: "MB", rateUnit: "MB/s", scale: 1.0 / 1024},
	{key: "balloon.swap_out", name: "memory.swap.out", unit: "MB", rateUnit: "MB/s", scale: 1.0 / 1024},
})

func (memoryFamily) Sample(cur, prev *Reading, out []agentmsg.Metric) []agentmsg.Metric {
	v := cur.Stats.Values
	for _, g := range memoryGauges {
		if x, ok := v[g.key]; ok {
			out = append(out, agentmsg.Metric{Name: g.name, Value: float64(x) / 1024, Unit: "MB", Kind: agentmsg.Gauge})
		}
	}
	// As Ceilometer defines it: what the guest uses of what it sees.
	if avail, ok := v["balloon.available"]; ok {
		if unused, ok := v["balloon.unused"]; ok && unused <= avail {
			out = append(out, agentmsg.Metric{Name: "memory.usage", Value: float64(avail-unused) / 1024, Unit: "MB", Kind: agentmsg.Gauge})
		}
	}
	for i := range memoryCounters {
		out = emit(out, cur, prev, memoryCounters[i].key, "", &memoryCounters[i])
	}
	return out
}

type blockFamily struct{}

func (blockFamily) Name() string { return "block" }

var blockCounters = withRateNames([]counter{
	{field: hypervisor.BlockRdBytes, name: "disk.device.read.bytes", unit: "B", rateUnit: "B/s"},
	{field: hypervisor.BlockRdReqs, name: "disk.device.read.requests", unit: "request", rateUnit: "request/s"},
	{field: hypervisor.BlockRdTimes, name: "disk.device.read.latency", unit: "ns"},
	{field: hypervisor.BlockWrBytes, name: "disk.device.write.bytes", unit: "B", rateUnit: "B/s"},
	{field: hypervisor.BlockWrReqs, name: "disk.device.write.requests", unit: "request", rateUnit: "request/s"},
	{field: hypervisor.BlockWrTimes, name: "disk.device.write.latency", unit: "ns"},
	{field: hypervisor.BlockFlReqs, name: "disk.device.flush.requests", unit: "request", rateUnit: "request/s"},
	{field: hypervisor.BlockErrs, name: "disk.device.errors", unit: "error"},
})

var blockGauges = []struct {
	field int
	name  string
}{{hypervisor.BlockCapacity, "disk.device.capacity"}, {hypervisor.BlockAllocation, "disk.device.allocation"}}

func (blockFamily) Sample(cur, prev *Reading, out []agentmsg.Metric) []agentmsg.Metric {
	keys := hypervisor.BlockKeys
	for i := 0; i < int(cur.Stats.Values["block.count"]); i++ {
		dev := cur.Stats.Names[keys.Key(i, hypervisor.FieldName)]
		if dev == "" {
			continue
		}
		pi := matchDevice(prev, "block.count", keys, dev)
		for c := range blockCounters {
			out = emitDevice(out, cur, prev, keys, i, pi, dev, &blockCounters[c])
		}
		for _, g := range blockGauges {
			if x, ok := cur.Stats.Values[keys.Key(i, g.field)]; ok {
				out = append(out, agentmsg.Metric{Name: g.name, Device: dev, Value: float64(x), Unit: "B", Kind: agentmsg.Gauge})
			}
		}
	}
	return out
}

type netFamily struct{}

func (netFamily) Name() string { return "net" }

var netCounters = withRateNames([]counter{
	{field: hypervisor.NetRxBytes, name: "network.incoming.bytes", unit: "B", rateUnit: "B/s"},
	{field: hypervisor.NetRxPkts, name: "network.incoming.packets", unit: "packet", rateUnit: "packet/s"},
	{field: hypervisor.NetRxErrs, name: "network.incoming.packets.error", unit: "packet"},
	{field: hypervisor.NetRxDrop, name: "network.incoming.packets.drop", unit: "packet"},
	{field: hypervisor.NetTxBytes, name: "network.outgoing.bytes", unit: "B", rateUnit: "B/s"},
	{field: hypervisor.NetTxPkts, name: "network.outgoing.packets", unit: "packet", rateUnit: "packet/s"},
	{field: hypervisor.NetTxErrs, name: "network.outgoing.packets.error", unit: "packet"},
	{field: hypervisor.NetTxDrop, name: "network.outgoing.packets.drop", unit: "packet"},
})

func (netFamily) Sample(cur, prev *Reading, out []agentmsg.Metric) []agentmsg.Metric {
	keys := hypervisor.NetKeys
	for i := 0; i < int(cur.Stats.Values["net.count"]); i++ {
		dev := cur.Stats.Names[keys.Key(i, hypervisor.FieldName)]
		if dev == "" {
			continue
		}
		pi := matchDevice(prev, "net.count", keys, dev)
		for c := range netCounters {
			out = emitDevice(out, cur, prev, keys, i, pi, dev, &netCounters[c])
		}
	}
	return out
}

// matchDevice returns the index device dev had in prev, or -1 (devices may
// be hot-plugged, changing indexes).
func matchDevice(prev *Reading, count string, keys *hypervisor.DeviceKeys, dev string) int {
	if prev == nil {
		return -1
	}
	for i := 0; i < int(prev.Stats.Values[count]); i++ {
		if prev.Stats.Names[keys.Key(i, hypervisor.FieldName)] == dev {
			return i
		}
	}
	return -1
}

// emitDevice appends counter c of device dev (index i now, pi in prev) and,
// comparing the same device under its previous index, its rate.
func emitDevice(out []agentmsg.Metric, cur, prev *Reading, keys *hypervisor.DeviceKeys, i, pi int, dev string, c *counter) []agentmsg.Metric {
	v, ok := cur.Stats.Values[keys.Key(i, c.field)]
	if !ok {
		return out
	}
	out = append(out, agentmsg.Metric{Name: c.name, Device: dev, Value: float64(v), Unit: c.unit, Kind: agentmsg.Cumulative})
	if c.rateUnit == "" || pi < 0 {
		return out
	}
	a, ok := prev.Stats.Values[keys.Key(pi, c.field)]
	if r, ok := rateFrom(cur, v, prev, a, ok); ok {
		out = append(out, agentmsg.Metric{Name: c.rateName, Device: dev, Value: r, Unit: c.rateUnit, Kind: agentmsg.Rate})
	}
	return out
}
