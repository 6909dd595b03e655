// Package footprint keeps vmmon-agent's memory small and steady on a compute
// node, where the agent's heap is a few MiB that each cycle allocates and
// drops again.
//
// Go's default collector target lets the heap grow to twice what is live and
// never starts below 4 MiB, and glibc gives each thread that calls into
// libvirt an arena of its own: for the agent both cost more resident memory
// than the whole of what it keeps. Apply lowers both unless the operator set
// GOGC or MALLOC_ARENA_MAX in the environment, which always win.
package footprint

import (
	"os"
	"runtime/debug"
)

const (
	// GCPercent is the collector target the agent runs with: the heap may
	// grow by this share of what is live before a collection, so the
	// smallest target is 4 MiB × GCPercent/100.
	GCPercent = 50
	// ArenaMax bounds glibc's malloc arenas, shared by libvirt's threads.
	ArenaMax = 2
)

// Settings are what Apply did, for the agent's start-up log.
type Settings struct {
	GCPercent int // -1 when GOGC was set by the environment
	ArenaMax  int // 0 when left alone (set by the environment, or not glibc)
}

// Apply sets the collector target and the malloc arena bound for the rest of
// the process. Call it once, before the agent starts its work.
func Apply() Settings {
	return apply(os.LookupEnv, debug.SetGCPercent, setArenaMax)
}

func apply(lookup func(string) (string, bool), setGC func(int) int, setArenas func(int) bool) Settings {
	s := Settings{GCPercent: -1}
	if _, ok := lookup("GOGC"); !ok {
		setGC(GCPercent)
		s.GCPercent = GCPercent
	}
	if _, ok := lookup("MALLOC_ARENA_MAX"); !ok && setArenas(ArenaMax) {
		s.ArenaMax = ArenaMax
	}
	return s
}
