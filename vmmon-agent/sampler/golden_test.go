package sampler

import (
	"encoding/json"
	"os"
	"sort"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
)

// goldenCases are readings that exercise every family: the QEMU guest's
// fixture, and a domain of four vCPUs with two disks and two NICs, one of
// each hot-plugged between the readings, after a reset, and paused.
func goldenCases(t *testing.T) map[string][2]*Reading {
	prev, cur := fixture(t)
	big := func(mono time.Duration, scale uint64, state string) *Reading {
		v := map[string]uint64{"cpu.time": 40e9 * scale, "vcpu.current": 4, "balloon.current": 524288, "balloon.available": 500000,
			"balloon.unused": 100000, "balloon.usable": 300000, "balloon.rss": 400000, "balloon.swap_in": 10 * scale,
			"balloon.swap_out": 20 * scale, "block.count": 2, "net.count": 2}
		for i := 0; i < 4; i++ {
			v[hypervisor.VCPUKeys.Key(i, 0)] = uint64(i+1) * 10e9 * scale
		}
		for i := 0; i < 2; i++ {
			for f := 1; f <= hypervisor.BlockAllocation; f++ {
				v[hypervisor.BlockKeys.Key(i, f)] = uint64(f*1000+i) * scale
			}
			for f := 1; f <= hypervisor.NetTxDrop; f++ {
				v[hypervisor.NetKeys.Key(i, f)] = uint64(f*100+i) * scale
			}
		}
		return &Reading{Mono: mono, Stats: hypervisor.Stats{State: state, Values: v, Names: map[string]string{
			"block.0.name": "vda", "block.1.name": "vdb", "net.0.name": "tap0", "net.1.name": "tap1"}}}
	}
	first, second := big(time.Second, 1, "running"), big(3*time.Second, 3, "running")
	plugged := big(3*time.Second, 3, "running")
	plugged.Stats.Names = map[string]string{"block.0.name": "vdc", "block.1.name": "vda", "net.0.name": "tap1", "net.1.name": "tap9"}
	return map[string][2]*Reading{
		"qemu guest":          {cur, prev},
		"qemu guest, first":   {cur, nil},
		"four vcpus":          {second, first},
		"hot-plugged devices": {plugged, first},
		"after a reset":       {first, second},
		"previous paused":     {second, big(time.Second, 1, "paused")},
		"previous shut off":   {second, big(time.Second, 1, "shutoff")},
	}
}

func sortMetrics(ms []agentmsg.Metric) []agentmsg.Metric {
	out := append([]agentmsg.Metric(nil), ms...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Device < b.Device
	})
	return out
}

// The families give, for the same readings, the metrics they gave before
// they stopped allocating key strings and maps (testdata/golden.json, written
// by that code; the order of a disk's capacity and allocation was random
// then, so metrics are compared sorted).
func TestSameMetricsAsBefore(t *testing.T) {
	if os.Getenv("VMMON_WRITE_GOLDEN") != "" { // with the sampler of before
		out := map[string][]agentmsg.Metric{}
		for name, c := range goldenCases(t) {
			out[name] = sampleAll(c[0], c[1])
		}
		b, _ := json.MarshalIndent(out, "", " ")
		if err := os.WriteFile("testdata/golden.json", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string][]agentmsg.Metric
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	for name, c := range goldenCases(t) {
		got, _ := json.Marshal(sortMetrics(sampleAll(c[0], c[1])))
		want, _ := json.Marshal(sortMetrics(golden[name]))
		if string(got) != string(want) || len(golden[name]) == 0 {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}
