// Package bedenv lets functional and end-to-end tests find the services that
// tests/bed/up.sh started: it reads $VMMON_BED/bed.env (default
// /var/tmp/vmmon-bed/bed.env). A test that needs a service the bed did not
// record fails: these tests exist to run against the real thing.
package bedenv

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Dir is the test bed's folder.
func Dir() string {
	if d := os.Getenv("VMMON_BED"); d != "" {
		return d
	}
	return "/var/tmp/vmmon-bed"
}

// Env holds bed.env's keys.
type Env map[string]string

// Load reads bed.env or fails the test, saying how to start the bed.
func Load(t testing.TB) Env {
	t.Helper()
	f, err := os.Open(filepath.Join(Dir(), "bed.env"))
	if err != nil {
		t.Fatalf("test bed not started (%v): run tests/bed/up.sh or make test", err)
	}
	defer f.Close()
	env := Env{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

// Get returns key's value or fails the test.
func (e Env) Get(t testing.TB, key string) string {
	t.Helper()
	v, ok := e[key]
	if !ok || v == "" {
		t.Fatalf("%s missing from %s/bed.env: run tests/bed/up.sh", key, Dir())
	}
	return v
}

// RepoRoot returns the repository's top folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Script returns the path of a test bed script.
func Script(name string) string { return filepath.Join(RepoRoot(), "tests", "bed", name) }
