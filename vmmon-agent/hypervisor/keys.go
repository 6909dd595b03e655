package hypervisor

import "strconv"

// DeviceKeys names the values of a group's devices as virsh domstats does,
// "<group>.<index>.<field>" (block.0.rd.bytes, net.1.tx.pkts, vcpu.0.time),
// with the names of the first devices made once: reading them every cycle
// allocates no strings.
type DeviceKeys struct {
	group   string
	fields  []string
	byIndex [][]string // [index][field]
}

// precomputed is how many devices of a group have their names made ahead.
const precomputed = 16

// NewDeviceKeys returns the names of group's fields; Key takes a field by its
// position in fields.
func NewDeviceKeys(group string, fields ...string) *DeviceKeys {
	k := &DeviceKeys{group: group, fields: fields, byIndex: make([][]string, precomputed)}
	for i := range k.byIndex {
		k.byIndex[i] = make([]string, len(fields))
		for f, name := range fields {
			k.byIndex[i][f] = group + "." + strconv.Itoa(i) + "." + name
		}
	}
	return k
}

// Key returns the name of field f (a position in the fields given to
// NewDeviceKeys) of device i.
func (k *DeviceKeys) Key(i, f int) string {
	if i < len(k.byIndex) {
		return k.byIndex[i][f]
	}
	return k.group + "." + strconv.Itoa(i) + "." + k.fields[f]
}

// The names of the device values DomainStats reads and the sampler uses,
// field "name" first (it holds the device's name in Stats.Names).
var (
	BlockKeys = NewDeviceKeys("block", "name", "rd.reqs", "rd.bytes", "rd.times", "wr.reqs", "wr.bytes", "wr.times",
		"fl.reqs", "fl.times", "errs", "capacity", "allocation")
	NetKeys = NewDeviceKeys("net", "name", "rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts",
		"tx.errs", "tx.drop")
	VCPUKeys = NewDeviceKeys("vcpu", "time")
)

// Field positions in BlockKeys and NetKeys.
const (
	FieldName = 0

	BlockRdReqs, BlockRdBytes, BlockRdTimes, BlockWrReqs, BlockWrBytes, BlockWrTimes = 1, 2, 3, 4, 5, 6
	BlockFlReqs, BlockFlTimes, BlockErrs, BlockCapacity, BlockAllocation             = 7, 8, 9, 10, 11

	NetRxBytes, NetRxPkts, NetRxErrs, NetRxDrop, NetTxBytes, NetTxPkts, NetTxErrs, NetTxDrop = 1, 2, 3, 4, 5, 6, 7, 8
)
