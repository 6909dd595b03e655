package footprint

import "testing"

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name           string
		env            map[string]string
		arenasSettable bool
		wantGC         int // what the collector target was set to, -1 for untouched
		wantArenas     int // what the arena bound was set to, 0 for untouched
		want           Settings
	}{
		{"defaults", nil, true, GCPercent, ArenaMax, Settings{GCPercent, ArenaMax}},
		{"GOGC set", map[string]string{"GOGC": "200"}, true, -1, ArenaMax, Settings{-1, ArenaMax}},
		{"GOGC off", map[string]string{"GOGC": "off"}, true, -1, ArenaMax, Settings{-1, ArenaMax}},
		{"arenas set", map[string]string{"MALLOC_ARENA_MAX": "4"}, true, GCPercent, 0, Settings{GCPercent, 0}},
		{"no glibc", nil, false, GCPercent, ArenaMax, Settings{GCPercent, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotGC, gotArenas := -1, 0
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			got := apply(lookup,
				func(p int) int { gotGC = p; return 100 },
				func(n int) bool { gotArenas = n; return tc.arenasSettable })
			if gotGC != tc.wantGC || gotArenas != tc.wantArenas {
				t.Errorf("set GC percent %d and arenas %d, want %d and %d", gotGC, gotArenas, tc.wantGC, tc.wantArenas)
			}
			if got != tc.want {
				t.Errorf("Apply() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestSetArenaMax calls the C library's mallopt for real: glibc must take
// the bound.
func TestSetArenaMax(t *testing.T) {
	if got := setArenaMax(ArenaMax); got != glibc() {
		t.Errorf("setArenaMax(%d) = %v, linked with glibc: %v", ArenaMax, got, glibc())
	}
}
