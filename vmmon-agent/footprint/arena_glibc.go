//go:build linux && cgo

package footprint

/*
#include <malloc.h>

static int vmmon_arena_max(int n) {
#ifdef M_ARENA_MAX
	return mallopt(M_ARENA_MAX, n);
#else
	return 0;
#endif
}

static int vmmon_glibc(void) {
#ifdef __GLIBC__
	return 1;
#else
	return 0;
#endif
}
*/
import "C"

// setArenaMax bounds glibc's malloc arenas; false where the C library has no
// such bound.
func setArenaMax(n int) bool { return C.vmmon_arena_max(C.int(n)) == 1 }

// glibc tells whether the agent is linked with glibc, whose malloc has the
// bound.
func glibc() bool { return C.vmmon_glibc() == 1 }
