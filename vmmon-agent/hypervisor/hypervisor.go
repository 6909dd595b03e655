// Package hypervisor is vmmon-agent's narrow view of libvirt: list domains,
// read a domain's XML, read statistics in one bulk call or per domain, host
// facts and lifecycle events. [Conn] is implemented for real by [Dial] (cgo,
// libvirt.org/go/libvirt) and by test doubles in the agent's unit tests.
//
// Statistics use virsh domstats' names ("cpu.time", "block.0.rd.bytes",
// "net.0.tx.pkts", "balloon.rss", ...) so that fixtures recorded from a real
// guest read the same as live data.
package hypervisor

import (
	"context"
	"errors"
	"time"
)

// Groups of bulk statistics.
type Groups uint

// The groups the agent reads.
const (
	GroupState Groups = 1 << iota
	GroupCPU
	GroupVCPU
	GroupBalloon
	GroupNet
	GroupBlock
	AllGroups = GroupState | GroupCPU | GroupVCPU | GroupBalloon | GroupNet | GroupBlock
)

// DomainRef names a domain.
type DomainRef struct {
	UUID   string
	Name   string
	Active bool
}

// Stats are one domain's statistics.
type Stats struct {
	UUID   string `json:"uuid"`
	Name   string `json:"name"`
	State  string `json:"state"` // running, paused, shutoff, ... (see StateName)
	Reason int    `json:"reason"`
	// Values holds counters and gauges by virsh domstats name.
	Values map[string]uint64 `json:"values"`
	// Names holds device names: "block.0.name" = "vda", "net.0.name" = "tap0".
	Names map[string]string `json:"names"`
	// Groups says which groups Values holds.
	Groups Groups `json:"groups"`
}

// HostInfo describes the hypervisor host.
type HostInfo struct {
	CPUs              int
	MemoryKiB         uint64
	FreeMemoryKiB     uint64
	LibvirtVersion    string
	HypervisorType    string
	HypervisorVersion string
}

// Event is a lifecycle event of a domain.
type Event struct {
	UUID   string
	Name   string
	Event  string
	Detail string
	Time   time.Time
}

// ErrNoDomain is returned for a domain that vanished (undefined) meanwhile.
var ErrNoDomain = errors.New("domain not found")

// ErrConnection is wrapped by errors that mean the libvirt connection is lost.
var ErrConnection = errors.New("libvirt connection lost")

// Conn is a connection to a hypervisor. Its methods may block; callers bound
// them with timeouts.
type Conn interface {
	ListDomains() ([]DomainRef, error)
	DomainXML(uuid string) (string, error)
	// BulkStats reads the groups of every domain (active ones only when
	// activeOnly) in one call without waiting for domains whose job lock is taken.
	BulkStats(groups Groups, activeOnly bool) ([]Stats, error)
	// DomainStats reads the groups of one domain with per-domain calls (for
	// drivers whose bulk call lacks groups); devices name its disks and NICs.
	DomainStats(uuid string, groups Groups, disks, nics []string) (Stats, error)
	Host() (HostInfo, error)
	// Events delivers lifecycle events until ctx ends or the connection is lost.
	Events(ctx context.Context, out chan<- Event) error
	Alive() bool
	Close() error
}

// StateName returns the lower-case name of a libvirt domain state code.
func StateName(code int) string {
	switch code {
	case 1:
		return "running"
	case 2:
		return "blocked"
	case 3:
		return "paused"
	case 4:
		return "shutdown"
	case 5:
		return "shutoff"
	case 6:
		return "crashed"
	case 7:
		return "pmsuspended"
	default:
		return "nostate"
	}
}
