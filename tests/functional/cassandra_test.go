//go:build functional

package functional

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
)

func cassandraSession(t *testing.T, keyspace string) *gocql.Session {
	t.Helper()
	cfg := cassandraConfig(t, keyspace)
	c := gocql.NewCluster(cfg.Hosts...)
	c.Port = cfg.Port
	c.Keyspace = keyspace
	c.Timeout = 20 * time.Second
	c.ConnectTimeout = 10 * time.Second
	c.Consistency = gocql.One
	s, err := c.CreateSession()
	if err != nil {
		t.Fatalf("connecting to Cassandra at %v: %v", cfg.Hosts, err)
	}
	t.Cleanup(s.Close)
	return s
}

// gocql creates a keyspace and a table on the bed's Cassandra, writes rows and
// reads back exactly what it wrote.
func TestCassandraRoundTrip(t *testing.T) {
	s := cassandraSession(t, "")
	var version string
	if err := s.Query(`SELECT release_version FROM system.local`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("Cassandra %s", version)
	if !strings.HasPrefix(version, "5.0.") {
		t.Errorf("release_version %s; the bed runs a 5.0.x release", version)
	}
	ks := fmt.Sprintf("vmmon_functional_%d", time.Now().UnixNano())
	if err := s.Query(`CREATE KEYSPACE ` + ks + ` WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`).Exec(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Query(`DROP KEYSPACE IF EXISTS ` + ks).Exec() })
	if err := s.Query(`CREATE TABLE ` + ks + `.points (instance uuid, metric text, day date, ts timestamp, value double,
		PRIMARY KEY ((instance, metric, day), ts)) WITH CLUSTERING ORDER BY (ts DESC)`).Exec(); err != nil {
		t.Fatal(err)
	}
	inst := gocql.MustRandomUUID()
	base := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	b := s.NewBatch(gocql.UnloggedBatch)
	for i := 0; i < 100; i++ {
		b.Query(`INSERT INTO `+ks+`.points (instance, metric, day, ts, value) VALUES (?, ?, ?, ?, ?)`,
			inst, "cpu_util", base, base.Add(time.Duration(i)*time.Minute), float64(i)/4)
	}
	if err := s.ExecuteBatch(b); err != nil {
		t.Fatal(err)
	}
	// Writing the same row again changes nothing (idempotent by key).
	if err := s.Query(`INSERT INTO `+ks+`.points (instance, metric, day, ts, value) VALUES (?, ?, ?, ?, ?)`,
		inst, "cpu_util", base, base, 0.0).Exec(); err != nil {
		t.Fatal(err)
	}
	iter := s.Query(`SELECT ts, value FROM `+ks+`.points WHERE instance = ? AND metric = ? AND day = ?`,
		inst, "cpu_util", base).Iter()
	var (
		ts    time.Time
		value float64
		n     int
	)
	for iter.Scan(&ts, &value) {
		i := 99 - n
		if !ts.Equal(base.Add(time.Duration(i)*time.Minute)) || value != float64(i)/4 {
			t.Errorf("row %d = %v %v; want %v %v", n, ts, value, base.Add(time.Duration(i)*time.Minute), float64(i)/4)
		}
		n++
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 100 {
		t.Errorf("read %d rows; wrote 100", n)
	}
}
