//go:build functional

package functional

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/cassandra"
	"opendev.org/openstack/vmmon/vmmon/storage/storagetest"
)

func cassandraConfig(t testing.TB, keyspace string) cassandra.Config {
	env := bedenv.Load(t)
	var hosts []string
	port := 9042
	for _, hp := range strings.Split(env.Get(t, "VMMON_CASSANDRA_HOSTS"), ",") {
		host, p, _ := strings.Cut(hp, ":")
		hosts = append(hosts, host)
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	return cassandra.Config{Hosts: hosts, Port: port, Keyspace: keyspace, Consistency: "ONE", Timeout: 20 * time.Second,
		Replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}"}
}

// openCassandra creates a keyspace of the test's own with db sync and drops
// it at the end.
func openCassandra(t testing.TB) *cassandra.Store {
	t.Helper()
	ctx := context.Background()
	ks := fmt.Sprintf("vmmon_test_%d", time.Now().UnixNano())
	s, err := cassandra.Open(ctx, cassandraConfig(t, ks))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.DropKeyspace(context.Background())
		s.Close()
	})
	return s
}

// The storage conformance suite against the bed's real Cassandra.
func TestCassandraConformance(t *testing.T) {
	s := openCassandra(t)
	storagetest.Run(t, func(t *testing.T) storage.Store { return s })
}

// db sync is safe to run twice, and a schema newer than the code is refused
// with a message that says what to do.
func TestCassandraSchemaSync(t *testing.T) {
	ctx := context.Background()
	s := openCassandra(t)
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if v, err := s.Version(ctx); err != nil || v != cassandra.SchemaVersion {
		t.Fatalf("version %d, %v", v, err)
	}
	if err := s.CheckVersion(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVersionForTest(ctx, cassandra.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	err := s.Sync(ctx)
	if !errors.Is(err, storage.ErrSchema) || !strings.Contains(err.Error(), "upgrade vmmon") {
		t.Errorf("sync against a newer schema: %v", err)
	}
	if err := s.CheckVersion(ctx); !errors.Is(err, storage.ErrSchema) {
		t.Errorf("check against a newer schema: %v", err)
	}
}
