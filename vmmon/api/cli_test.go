package api

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"opendev.org/openstack/vmmon/vmmon/conf"
)

func TestApplyGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	cases := []struct {
		name, file, gogc string
		want             int
		set              bool
	}{
		{"default", "", "", 400, true},
		{"from the file", "[api]\ngc_percent = 150\n", "", 150, true},
		{"GOGC wins", "[api]\ngc_percent = 150\n", "off", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			path := filepath.Join(t.TempDir(), "vmmon.conf")
			if err := os.WriteFile(path, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := conf.Load(conf.Sources{Files: []string{path}})
			if err != nil {
				t.Fatal(err)
			}
			got, set := applyGCPercent(cfg, func(k string) string {
				if k == "GOGC" {
					return c.gogc
				}
				return ""
			})
			if got != c.want || set != c.set {
				t.Errorf("applyGCPercent = %d, %v; want %d, %v", got, set, c.want, c.set)
			}
			want := 100 // untouched
			if c.set {
				want = c.want
			}
			if now := debug.SetGCPercent(100); now != want {
				t.Errorf("GC target %d; want %d", now, want)
			}
		})
	}
}
