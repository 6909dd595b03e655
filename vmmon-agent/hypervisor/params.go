package hypervisor

import (
	"strconv"
	"strings"
)

// param is one typed parameter of a bulk statistics record, by its virsh
// domstats name.
type param struct {
	*paramName
	num   uint64
	isNum bool
	str   string
	isStr bool
}

// paramKind is what a parameter's name means to the agent.
type paramKind struct {
	keep    bool   // into Values (numbers) or Names (strings)
	group   Groups // the group its presence shows
	special int
	block   int    // N of block.N.*, else -1
	field   string // what follows block.N.
}

const (
	plain = iota
	stateCode
	stateReason
	blockCount
	blockBacking
)

// The groups' parameters the agent keeps, as virsh domstats names them.
var (
	keptTop = map[string]Groups{
		"cpu.time": GroupCPU, "cpu.user": 0, "cpu.system": 0, "vcpu.current": GroupVCPU,
		"balloon.current": GroupBalloon, "balloon.maximum": 0, "balloon.swap_in": 0, "balloon.swap_out": 0,
		"balloon.major_fault": 0, "balloon.minor_fault": 0, "balloon.unused": 0, "balloon.available": 0,
		"balloon.usable": 0, "balloon.rss": 0, "balloon.disk_caches": 0, "net.count": GroupNet,
	}
	keptIndexed = map[string]map[string]bool{
		"vcpu": {"time": true, "wait": true},
		"net": {"name": true, "rx.bytes": true, "rx.pkts": true, "rx.errs": true, "rx.drop": true,
			"tx.bytes": true, "tx.pkts": true, "tx.errs": true, "tx.drop": true},
		"block": {"name": true, "rd.reqs": true, "rd.bytes": true, "rd.times": true, "wr.reqs": true, "wr.bytes": true,
			"wr.times": true, "fl.reqs": true, "fl.times": true, "allocation": true, "capacity": true},
	}
)

func classify(name string) paramKind {
	k := paramKind{block: -1}
	switch name {
	case "state.state":
		k.special, k.group = stateCode, GroupState
		return k
	case "state.reason":
		k.special = stateReason
		return k
	case "block.count":
		k.special, k.group = blockCount, GroupBlock
		return k
	}
	if g, ok := keptTop[name]; ok {
		k.keep, k.group = true, g
		return k
	}
	group, rest, _ := strings.Cut(name, ".")
	idx, field, ok := strings.Cut(rest, ".")
	n, err := strconv.Atoi(idx)
	if !ok || err != nil || n < 0 {
		return k
	}
	if group == "block" {
		k.block, k.field = n, field
		if field == "backingIndex" {
			k.special = blockBacking
			return k
		}
	}
	k.keep = keptIndexed[group][field]
	return k
}

// converter turns bulk records' parameters into Stats. It keeps the names
// it has seen, each allocated once with its meaning, and a parameter slice
// for reuse; it is not safe for concurrent use.
type converter struct {
	names  map[string]*paramName
	params []param
}

type paramName struct {
	name string
	paramKind
}

func newConverter() *converter { return &converter{names: map[string]*paramName{}} }

// lookup returns what the name b spells means (the lookup allocates nothing).
func (c *converter) lookup(b []byte) *paramName {
	n, ok := c.names[string(b)]
	if !ok {
		s := string(b)
		n = &paramName{name: s, paramKind: classify(s)}
		c.names[s] = n
	}
	return n
}

// convert turns one domain's parameters into its Stats, as the libvirt
// binding's DomainStats would have given them: the kept values under their
// virsh names, the groups present, and block entries that are a backing
// image of another (backingIndex above 1) left out and the others numbered
// on.
func (c *converter) convert(params []param) Stats {
	s := Stats{Values: make(map[string]uint64, len(params)), Names: map[string]string{}}
	var backing map[int]uint64
	for i := range params {
		if p := &params[i]; p.special == blockBacking && p.num > 1 {
			if backing == nil {
				backing = map[int]uint64{}
			}
			backing[p.block] = p.num
		}
	}
	var renumber map[int]int
	if backing != nil {
		renumber = map[int]int{}
		for _, p := range params {
			if p.special == blockCount {
				for i, n := 0, 0; i < int(p.num); i++ {
					if backing[i] <= 1 {
						renumber[i] = n
						n++
					}
				}
			}
		}
	}
	for i := range params {
		p := &params[i]
		k := p.paramKind
		s.Groups |= k.group
		switch k.special {
		case stateCode:
			s.State = StateName(int(p.num))
		case stateReason:
			s.Reason = int(p.num)
		case blockCount:
			s.Values["block.count"] = p.num
			if renumber != nil {
				s.Values["block.count"] = uint64(len(renumber))
			}
		}
		if !k.keep {
			continue
		}
		key := p.name
		if k.block >= 0 && renumber != nil {
			n, ok := renumber[k.block]
			if !ok {
				continue
			}
			key = "block." + strconv.Itoa(n) + "." + k.field
		}
		switch {
		case p.isNum:
			s.Values[key] = p.num
		case p.isStr:
			s.Names[key] = p.str
		}
	}
	return s
}
