//go:build !linux || !cgo

package footprint

func setArenaMax(int) bool { return false }

func glibc() bool { return false }
