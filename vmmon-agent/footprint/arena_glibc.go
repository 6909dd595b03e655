//go:build linux && cgo

package footprint

/*
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The bound, as footprint.ArenaMax.
#define VMMON_ARENA_MAX 2

static int vmmon_arena_bound;

// Runs as the program is loaded, before the Go runtime starts a thread:
// glibc gives each thread that first allocates an arena of its own while
// fewer than the bound in force exist, and keeps them, so a bound set later
// (once the runtime's threads have allocated) leaves those arenas in place.
// MALLOC_ARENA_MAX in the environment, which glibc reads itself, wins.
__attribute__((constructor)) static void vmmon_bound_arenas(void) {
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
	if (getenv("MALLOC_ARENA_MAX") == NULL && mallopt(M_ARENA_MAX, VMMON_ARENA_MAX) == 1)
		vmmon_arena_bound = VMMON_ARENA_MAX;
#endif
}

static int vmmon_arena_max(void) { return vmmon_arena_bound; }

// The number of arenas glibc's malloc has, from malloc_info (one <heap> each).
static int vmmon_arenas(void) {
#ifdef __GLIBC__
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return -1;
	int ok = malloc_info(0, f) == 0;
	fclose(f);
	int n = 0;
	for (char *p = buf; ok && (p = strstr(p, "<heap nr=")) != NULL; p++)
		n++;
	free(buf);
	return ok ? n : -1;
#else
	return -1;
#endif
}

// Allocates from the calling thread's arena, creating one if the thread has none.
static void vmmon_malloc_here(void) { free(malloc(64)); }
*/
import "C"

// cArenaMax is the bound the C side sets, which must be ArenaMax.
func cArenaMax() int { return C.VMMON_ARENA_MAX }

// arenaMax is the bound the package set as the program was loaded (0 when
// left alone: set by the environment, or not glibc).
func arenaMax() int { return int(C.vmmon_arena_max()) }

// arenas counts glibc's malloc arenas (-1 where unknown).
func arenas() int { return int(C.vmmon_arenas()) }

// mallocHere allocates with the C library from the calling thread.
func mallocHere() { C.vmmon_malloc_here() }
