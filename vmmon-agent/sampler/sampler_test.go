package sampler

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
)

// qemu-guest-bulk.json holds two bulk readings of the test bed's QEMU guest,
// five seconds apart, as hypervisor.Conn.BulkStats returned them.
func fixture(t *testing.T) (*Reading, *Reading) {
	t.Helper()
	raw, err := os.ReadFile("testdata/qemu-guest-bulk.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct {
		ElapsedNS int64              `json:"elapsed_ns"`
		Stats     []hypervisor.Stats `json:"stats"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	return &Reading{Stats: recs[0].Stats[0], Mono: time.Duration(recs[0].ElapsedNS)},
		&Reading{Stats: recs[1].Stats[0], Mono: time.Duration(recs[1].ElapsedNS)}
}

func sampleAll(cur, prev *Reading) []agentmsg.Metric {
	var out []agentmsg.Metric
	for _, f := range Families {
		out = f.Sample(cur, prev, out)
	}
	return out
}

func find(ms []agentmsg.Metric, name, dev string) (agentmsg.Metric, bool) {
	for _, m := range ms {
		if m.Name == name && m.Device == dev {
			return m, true
		}
	}
	return agentmsg.Metric{}, false
}

func TestQEMUGuestFixture(t *testing.T) {
	prev, cur := fixture(t)
	ms := sampleAll(cur, prev)
	dcpu := float64(cur.Stats.Values["cpu.time"]-prev.Stats.Values["cpu.time"]) / 1e9 / 5 * 100
	cases := []struct {
		name, dev, unit, kind string
		lo, hi                float64
	}{
		{"cpu_util", "", "%", agentmsg.Rate, dcpu - 1e-9, dcpu + 1e-9},
		{"cpu", "", "ns", agentmsg.Cumulative, 1e9, 1e15},
		{"vcpus", "", "vcpu", agentmsg.Gauge, 1, 1},
		{"vcpu.time", "vcpu0", "ns", agentmsg.Cumulative, 1, 1e15},
		{"memory", "", "MB", agentmsg.Gauge, 128, 128},
		{"memory.resident", "", "MB", agentmsg.Gauge, 50, 1024},
		{"memory.usage", "", "MB", agentmsg.Gauge, 1, 128},
		{"disk.device.read.bytes.rate", "vda", "B/s", agentmsg.Rate, 1, 1e9},
		{"disk.device.write.bytes.rate", "vda", "B/s", agentmsg.Rate, 1, 1e9},
		{"disk.device.read.requests.rate", "vda", "request/s", agentmsg.Rate, 0.1, 1e6},
		{"disk.device.capacity", "vda", "B", agentmsg.Gauge, 64 << 20, 64 << 20},
		{"network.outgoing.bytes.rate", "tapbed0", "B/s", agentmsg.Rate, 1, 1e6},
		{"network.incoming.packets", "tapbed0", "packet", agentmsg.Cumulative, 1, 1e9},
	}
	for _, c := range cases {
		m, ok := find(ms, c.name, c.dev)
		if !ok {
			t.Errorf("no %s %s", c.name, c.dev)
			continue
		}
		if m.Unit != c.unit || m.Kind != c.kind || m.Value < c.lo || m.Value > c.hi {
			t.Errorf("%s %s = %v %s (%s); want %v..%v %s (%s)", c.name, c.dev, m.Value, m.Unit, m.Kind, c.lo, c.hi, c.unit, c.kind)
		}
	}
	for _, m := range ms {
		if m.Value < 0 {
			t.Errorf("negative %s %s = %v", m.Name, m.Device, m.Value)
		}
	}
}

func TestNoRatesWithoutAGoodPreviousReading(t *testing.T) {
	prev, cur := fixture(t)
	stopped := *prev
	stopped.Stats.State = "shutoff"
	// A restarted domain: every counter lower than before.
	restarted := *cur
	restarted.Stats.Values = map[string]uint64{}
	for k, v := range cur.Stats.Values {
		restarted.Stats.Values[k] = v / 1000
	}
	for name, c := range map[string]struct{ cur, prev *Reading }{
		"first reading":     {cur, nil},
		"previous shut off": {cur, &stopped},
		"counter reset":     {&restarted, cur},
		"no time passed":    {cur, &Reading{Stats: prev.Stats, Mono: cur.Mono}},
	} {
		ms := sampleAll(c.cur, c.prev)
		for _, m := range ms {
			if m.Kind == agentmsg.Rate {
				t.Errorf("%s: rate %s %s = %v; want none", name, m.Name, m.Device, m.Value)
			}
		}
		if _, ok := find(ms, "cpu", ""); !ok {
			t.Errorf("%s: cumulative cpu missing", name)
		}
	}
}

// A NIC plugged before the existing one shifts indexes: rates still compare
// the same device.
func TestDeviceIndexShift(t *testing.T) {
	prev := &Reading{Mono: 0, Stats: hypervisor.Stats{State: "running",
		Values: map[string]uint64{"net.count": 1, "net.0.tx.bytes": 1000},
		Names:  map[string]string{"net.0.name": "tapA"}}}
	cur := &Reading{Mono: 2 * time.Second, Stats: hypervisor.Stats{State: "running",
		Values: map[string]uint64{"net.count": 2, "net.0.tx.bytes": 5, "net.1.tx.bytes": 3000},
		Names:  map[string]string{"net.0.name": "tapB", "net.1.name": "tapA"}}}
	ms := netFamily{}.Sample(cur, prev, nil)
	if m, ok := find(ms, "network.outgoing.bytes.rate", "tapA"); !ok || m.Value != 1000 {
		t.Errorf("tapA rate = %+v (found %v); want 1000 B/s", m, ok)
	}
	if _, ok := find(ms, "network.outgoing.bytes.rate", "tapB"); ok {
		t.Error("tapB is new: it has no rate yet")
	}
}

// cpu_util is the share of the domain's vCPUs in use: a domain of four vCPUs
// using two seconds of CPU each second is at 50 %, not 200 %.
func TestCPUUtilPerVCPU(t *testing.T) {
	reading := func(mono time.Duration, cpuNS uint64, vcpus map[string]uint64) *Reading {
		v := map[string]uint64{"cpu.time": cpuNS}
		for k, x := range vcpus {
			v[k] = x
		}
		return &Reading{Mono: mono, Stats: hypervisor.Stats{State: "running", Values: v}}
	}
	for _, c := range []struct {
		name  string
		vcpus map[string]uint64
		want  float64
	}{
		{"four vCPUs", map[string]uint64{"vcpu.current": 4}, 50},
		{"one vCPU", map[string]uint64{"vcpu.current": 1}, 200},
		{"vCPU count unknown", nil, 200},
	} {
		prev, cur := reading(time.Second, 10e9, c.vcpus), reading(3*time.Second, 14e9, c.vcpus)
		m, ok := find(cpuFamily{}.Sample(cur, prev, nil), "cpu_util", "")
		if !ok || m.Value != c.want {
			t.Errorf("%s: cpu_util = %v (found %v); want %v", c.name, m.Value, ok, c.want)
		}
	}
}
