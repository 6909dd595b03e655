package hypervisor

import (
	"reflect"
	"testing"
)

// convertAll converts parameters given as name, value pairs (uint64, int or
// string values), as readParam would have read them.
func convertAll(c *converter, kv ...any) Stats {
	var ps []param
	for i := 0; i < len(kv); i += 2 {
		p := param{paramName: c.lookup([]byte(kv[i].(string)))}
		switch v := kv[i+1].(type) {
		case uint64:
			p.num, p.isNum = v, true
		case int:
			p.num, p.isNum = uint64(v), true
		case string:
			if p.keep {
				p.str, p.isStr = v, true
			}
		}
		ps = append(ps, p)
	}
	return c.convert(ps)
}

// A QEMU guest's bulk record (as virsh domstats lists it) gives the values
// the agent reads under their names, its groups and state; what the agent
// does not read is left out.
func TestConvertQEMURecord(t *testing.T) {
	c := newConverter()
	for round := 0; round < 2; round++ { // the second time, every name is known
		s := convertAll(c,
			"state.state", 1, "state.reason", 1,
			"cpu.time", uint64(504700000000), "cpu.user", uint64(1), "cpu.system", uint64(2), "cpu.haltpoll.success.time", uint64(9),
			"balloon.current", uint64(131072), "balloon.maximum", uint64(131072), "balloon.rss", uint64(90000), "balloon.last-update", uint64(5),
			"vcpu.current", 2, "vcpu.maximum", 4, "vcpu.0.state", 1, "vcpu.0.time", uint64(300), "vcpu.0.wait", uint64(0), "vcpu.0.delay", uint64(7),
			"vcpu.1.state", 1, "vcpu.1.time", uint64(200),
			"net.count", 1, "net.0.name", "tapbed0", "net.0.rx.bytes", uint64(10), "net.0.tx.pkts", uint64(3),
			"block.count", 1, "block.0.name", "vda", "block.0.path", "/var/lib/disk", "block.0.backingIndex", 1,
			"block.0.rd.bytes", uint64(814617088), "block.0.capacity", uint64(67108864), "block.0.physical", uint64(262144),
		)
		want := Stats{State: "running", Reason: 1, Groups: AllGroups,
			Values: map[string]uint64{"cpu.time": 504700000000, "cpu.user": 1, "cpu.system": 2,
				"balloon.current": 131072, "balloon.maximum": 131072, "balloon.rss": 90000,
				"vcpu.current": 2, "vcpu.0.time": 300, "vcpu.0.wait": 0, "vcpu.1.time": 200,
				"net.count": 1, "net.0.rx.bytes": 10, "net.0.tx.pkts": 3,
				"block.count": 1, "block.0.rd.bytes": 814617088, "block.0.capacity": 67108864},
			Names: map[string]string{"net.0.name": "tapbed0", "block.0.name": "vda"}}
		if !reflect.DeepEqual(s, want) {
			t.Errorf("round %d:\n got %+v\nwant %+v", round, s, want)
		}
	}
}

// The test driver's bulk call gives the state group only.
func TestConvertStateOnly(t *testing.T) {
	s := convertAll(newConverter(), "state.state", 5, "state.reason", 1)
	if s.State != "shutoff" || s.Reason != 1 || s.Groups != GroupState || len(s.Values) != 0 || len(s.Names) != 0 {
		t.Errorf("got %+v", s)
	}
}

// Block entries that are backing images of another are left out, and the
// disks after them numbered on, as the libvirt binding's reading did.
func TestConvertSkipsBackingImages(t *testing.T) {
	s := convertAll(newConverter(), "block.count", 3,
		"block.0.name", "vda", "block.0.backingIndex", 1, "block.0.rd.bytes", uint64(1),
		"block.1.name", "vda", "block.1.backingIndex", 2, "block.1.rd.bytes", uint64(2),
		"block.2.name", "vdb", "block.2.rd.bytes", uint64(3))
	want := Stats{Groups: GroupBlock, Values: map[string]uint64{"block.count": 2, "block.0.rd.bytes": 1, "block.1.rd.bytes": 3},
		Names: map[string]string{"block.0.name": "vda", "block.1.name": "vdb"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("\n got %+v\nwant %+v", s, want)
	}
}
