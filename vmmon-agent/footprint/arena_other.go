//go:build !linux || !cgo

package footprint

func arenaMax() int { return 0 }

func arenas() int { return -1 }

func mallocHere() {}

func cArenaMax() int { return ArenaMax }
