package footprint

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		wantGC    int // what the collector target was set to, -1 for untouched
		wantProcs int // what GOMAXPROCS was set to, -1 for untouched
		want      Settings
	}{
		{"defaults", nil, GCPercent, MaxProcs, Settings{GCPercent: GCPercent, MaxProcs: MaxProcs}},
		{"GOGC set", map[string]string{"GOGC": "200"}, -1, MaxProcs, Settings{GCPercent: -1, MaxProcs: MaxProcs}},
		{"GOGC off", map[string]string{"GOGC": "off"}, -1, MaxProcs, Settings{GCPercent: -1, MaxProcs: MaxProcs}},
		{"GOMAXPROCS set", map[string]string{"GOMAXPROCS": "4"}, GCPercent, -1, Settings{GCPercent: GCPercent, MaxProcs: -1}},
		{"both set", map[string]string{"GOGC": "100", "GOMAXPROCS": "2"}, -1, -1, Settings{GCPercent: -1, MaxProcs: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotGC, gotProcs := -1, -1
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			got := apply(lookup,
				func(p int) int { gotGC = p; return 100 },
				func(n int) int { gotProcs = n; return 2 })
			if gotGC != tc.wantGC || gotProcs != tc.wantProcs {
				t.Errorf("set GC percent %d and GOMAXPROCS %d, want %d and %d", gotGC, gotProcs, tc.wantGC, tc.wantProcs)
			}
			if got != tc.want {
				t.Errorf("apply() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestArenasBounded has more threads allocate with the C library at once
// than the bound allows arenas: glibc, bounded as the test binary was
// loaded, must have made no more than the bound.
func TestArenasBounded(t *testing.T) {
	if arenas() < 0 {
		t.Skip("not linked with glibc")
	}
	bound := ArenaMax
	if v, ok := os.LookupEnv("MALLOC_ARENA_MAX"); ok {
		if arenaMax() != 0 {
			t.Fatalf("MALLOC_ARENA_MAX=%s is set, yet the package set its own bound %d", v, arenaMax())
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Skipf("MALLOC_ARENA_MAX=%q: no bound to check", v)
		}
		bound = n
	} else if arenaMax() != ArenaMax {
		t.Fatalf("the bound set at load is %d, want %d", arenaMax(), ArenaMax)
	}
	const threads = 6
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	ready.Add(threads)
	done.Add(threads)
	for range threads {
		go func() {
			defer done.Done()
			// Each goroutine holds a thread of its own until all allocated.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			mallocHere()
			ready.Done()
			<-release
		}()
	}
	ready.Wait()
	n := arenas()
	close(release)
	done.Wait()
	if n > bound {
		t.Errorf("%d threads allocating at once made %d malloc arenas, bound %d", threads, n, bound)
	}
	if n < 1 {
		t.Errorf("malloc_info showed %d arenas", n)
	}
}

func TestCArenaMax(t *testing.T) {
	if cArenaMax() != ArenaMax {
		t.Errorf("the C side bounds arenas at %d, ArenaMax is %d", cArenaMax(), ArenaMax)
	}
}
