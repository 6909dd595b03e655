//go:build functional

package functional

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/storage/cassandra"
)

// `vmmon-manage db sync` creates vmmon's keyspace on the real Cassandra from a
// configuration file, twice without harm; `db version` reports it.
func TestManageDBSyncCassandra(t *testing.T) {
	env := bedenv.Load(t)
	ks := fmt.Sprintf("vmmon_manage_%d", time.Now().UnixNano())
	cfg := writeConfig(t, cassandraSection(t, env, ks))
	t.Cleanup(func() {
		if s, err := cassandra.Open(context.Background(), cassandraConfig(t, ks)); err == nil {
			_ = s.DropKeyspace(context.Background())
			s.Close()
		}
	})
	manage := func(args ...string) string {
		cmd := exec.Command("go", append([]string{"run", "./vmmon/cmd/vmmon-manage"}, args...)...)
		cmd.Dir = bedenv.RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("vmmon-manage %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for i := 0; i < 2; i++ {
		if out := manage("db", "sync", "--config-file", cfg); !strings.Contains(out, fmt.Sprintf("schema at version %d", cassandra.SchemaVersion)) {
			t.Errorf("db sync #%d: %s", i+1, out)
		}
	}
	if out := manage("db", "version", "--config-file", cfg); !strings.Contains(out, fmt.Sprintf("stored %d, needed %d", cassandra.SchemaVersion, cassandra.SchemaVersion)) {
		t.Errorf("db version: %s", out)
	}
}
