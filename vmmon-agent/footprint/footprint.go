// Package footprint keeps vmmon-agent's memory and CPU small and steady on a
// compute node, where the agent's heap is a few MiB that each cycle
// allocates and drops again, and where its work is one cycle at a time.
//
// Go's default collector target lets the heap grow to twice what is live and
// never starts below 4 MiB; glibc gives each thread that calls into libvirt
// an arena of its own; and Go runs as many threads of Go code at once as the
// machine has cores, waking idle ones as work comes and goes. For the agent
// each costs more than it brings. The package lowers all three unless the
// operator set GOGC, MALLOC_ARENA_MAX or GOMAXPROCS in the environment,
// which always win: the arena bound as the program is loaded (importing the
// package suffices), the other two in Apply.
package footprint

import (
	"os"
	"runtime"
	"runtime/debug"
)

const (
	// GCPercent is the collector target the agent runs with: the heap may
	// grow by this share of what is live before a collection, so the
	// smallest target is 4 MiB × GCPercent/100.
	GCPercent = 50
	// ArenaMax bounds glibc's malloc arenas, shared by libvirt's threads.
	ArenaMax = 2
	// MaxProcs is how many threads run Go code at once. The agent's Go
	// work (turning readings into metrics, encoding a batch) is one step
	// after another; its libvirt calls wait in C, each on a thread of its
	// own whatever this is.
	MaxProcs = 1
)

// Settings are what the agent runs with, for its start-up log.
type Settings struct {
	GCPercent int // -1 when GOGC was set by the environment
	ArenaMax  int // 0 when left alone (set by the environment, or not glibc)
	MaxProcs  int // -1 when GOMAXPROCS was set by the environment
}

// Apply sets the collector target and the number of threads running Go code
// for the rest of the process, and reports them with the arena bound set at
// load. Call it once, before the agent starts its work.
func Apply() Settings {
	s := apply(os.LookupEnv, debug.SetGCPercent, runtime.GOMAXPROCS)
	s.ArenaMax = arenaMax()
	return s
}

func apply(lookup func(string) (string, bool), setGC, setProcs func(int) int) Settings {
	s := Settings{GCPercent: -1, MaxProcs: -1}
	if _, ok := lookup("GOGC"); !ok {
		setGC(GCPercent)
		s.GCPercent = GCPercent
	}
	if _, ok := lookup("GOMAXPROCS"); !ok {
		setProcs(MaxProcs)
		s.MaxProcs = MaxProcs
	}
	return s
}
