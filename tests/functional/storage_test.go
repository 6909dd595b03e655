//go:build functional

package functional

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

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
	s, _ := openCassandraSession(t)
	return s
}

// openCassandraSession is openCassandra on a gocql session of the test's
// own, which it returns for plain CQL on the store's keyspace.
func openCassandraSession(t testing.TB) (*cassandra.Store, *gocql.Session) {
	t.Helper()
	ctx := context.Background()
	cfg := cassandraConfig(t, fmt.Sprintf("vmmon_test_%d", time.Now().UnixNano()))
	cluster, err := cfg.Cluster()
	if err != nil {
		t.Fatal(err)
	}
	session, err := cluster.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	s, err := cassandra.OpenWithSession(ctx, session, cfg)
	if err != nil {
		session.Close()
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		session.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.DropKeyspace(context.Background())
		s.Close()
		session.Close()
	})
	return s, session
}

// setSchemaVersion records schema version v as db sync does, without
// changing the schema, so that the keyspace looks written by another vmmon.
func setSchemaVersion(t *testing.T, session *gocql.Session, keyspace string, v int) {
	t.Helper()
	if err := session.Query(`INSERT INTO `+keyspace+`.schema_version (id, version, applied_at) VALUES ('vmmon', ?, ?)`,
		v, time.Now()).Exec(); err != nil {
		t.Fatal(err)
	}
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
	s, session := openCassandraSession(t)
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if v, err := s.Version(ctx); err != nil || v != cassandra.SchemaVersion {
		t.Fatalf("version %d, %v", v, err)
	}
	if err := s.CheckVersion(ctx); err != nil {
		t.Fatal(err)
	}
	setSchemaVersion(t, session, s.Keyspace(), cassandra.SchemaVersion+1)
	err := s.Sync(ctx)
	if !errors.Is(err, storage.ErrSchema) || !strings.Contains(err.Error(), "upgrade vmmon") {
		t.Errorf("sync against a newer schema: %v", err)
	}
	if err := s.CheckVersion(ctx); !errors.Is(err, storage.ErrSchema) {
		t.Errorf("check against a newer schema: %v", err)
	}
}

// Upgrading a keyspace from schema 1 packs the rollups already stored and
// copies instances to their shard rows, so measures and listings read the
// same before and after.
func TestCassandraSchemaUpgradePacksRollups(t *testing.T) {
	ctx := context.Background()
	s, session := openCassandraSession(t)
	ks := s.Keyspace()
	from := time.Date(2026, 11, 26, 22, 30, 0, 0, time.UTC) // across a day boundary
	to := from.Add(3 * time.Hour)
	var batch []storage.Sample
	for at := from; at.Before(to); at = at.Add(10 * time.Second) {
		batch = append(batch, storage.Sample{InstanceID: "upgrade-1", Metric: "cpu_util", Time: at, Value: float64(at.Minute()), Unit: "%", Kind: "rate"})
	}
	storagetest.Write(t, s, batch)
	measures := func(g time.Duration) []storage.Point {
		t.Helper()
		res, err := s.Measures(ctx, storage.MeasureQuery{InstanceID: "upgrade-1", Metric: "cpu_util", Start: from, End: to, Granularity: g, Aggregation: "max"})
		if err != nil || len(res) != 1 {
			t.Fatalf("measures at %v: %v, %d series", g, err, len(res))
		}
		return res[0].Points
	}
	minutes, hours := measures(time.Minute), measures(time.Hour)
	if len(minutes) != 180 || len(hours) != 4 || hours[0].Value != 59 {
		t.Fatalf("before the upgrade: %d minute points, hours %v; want 180 minutes and 4 hours (22:00 to 01:00) of max 59", len(minutes), hours)
	}
	inst := storage.Instance{ID: "00000000-0000-4000-8000-00000000abcd", ProjectID: "p1", Host: "h1", State: "active", UpdatedAt: from}
	if err := s.PutInstance(ctx, inst); err != nil {
		t.Fatal(err)
	}
	// A keyspace of schema 1: no packed rows, instances' shard rows without
	// their data.
	var shard int
	if err := session.Query(`SELECT shard FROM `+ks+`.instances_by_shard WHERE id = ? ALLOW FILTERING`, inst.ID).Scan(&shard); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"rollup_1m_packed", "rollup_1h_packed", "instances_by_shard"} {
		if err := session.Query(`TRUNCATE ` + ks + `.` + table).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	if err := session.Query(`INSERT INTO `+ks+`.instances_by_shard (shard, id) VALUES (?, ?) USING TIMESTAMP ?`, shard, inst.ID, from.UnixMicro()).Exec(); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListInstances(ctx, storage.InstanceQuery{}); err != nil || len(list) != 0 {
		t.Fatalf("listing before the upgrade: %v, %v; want nothing (shard rows without data)", list, err)
	}
	// A bucket still pending in schema 1's backlog.
	pendingMinute := from.Add(-time.Hour)
	for _, stmt := range []string{
		`CREATE TABLE ` + ks + `.rollup_pending (shard int, series text, bucket timestamp, PRIMARY KEY ((shard), series, bucket))`,
		`INSERT INTO ` + ks + `.rollup_pending (shard, series, bucket) VALUES (3, 'upgrade-1` + "\x00" + `cpu_util` + "\x00" + `', ?)`,
		`INSERT INTO ` + ks + `.measures_raw (instance_id, metric, device, day, ts, value) VALUES ('upgrade-1', 'cpu_util', '', ?, ?, 42)`,
	} {
		args := []any{pendingMinute}
		if strings.Contains(stmt, "measures_raw") {
			args = []any{pendingMinute.Truncate(24 * time.Hour), pendingMinute}
		} else if strings.HasPrefix(stmt, "CREATE") {
			args = nil
		}
		if err := session.Query(stmt, args...).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	setSchemaVersion(t, session, ks, 1)
	if got := measures(time.Minute); len(got) != 0 {
		t.Fatalf("measures read %d points with the packed tables empty; they should read only those", len(got))
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != cassandra.SchemaVersion {
		t.Fatalf("version after the upgrade %d, %v", v, err)
	}
	if got := measures(time.Minute); !reflect.DeepEqual(got, minutes) {
		t.Errorf("minute measures after the upgrade differ: %d points, want %d", len(got), len(minutes))
	}
	if got := measures(time.Hour); !reflect.DeepEqual(got, hours) {
		t.Errorf("hour measures after the upgrade: %v, want %v", got, hours)
	}
	for _, q := range []storage.InstanceQuery{{}, {ProjectID: "p1"}, {Host: "h1"}} {
		if list, err := s.ListInstances(ctx, q); err != nil || len(list) != 1 || list[0].ID != inst.ID || list[0].State != "active" {
			t.Errorf("listing %+v after the upgrade: %+v, %v", q, list, err)
		}
	}
	// The bucket pending in schema 1 is rolled up; its old backlog is gone.
	storagetest.ProcessAll(t, s)
	res, err := s.Measures(ctx, storage.MeasureQuery{InstanceID: "upgrade-1", Metric: "cpu_util", Start: pendingMinute, End: pendingMinute.Add(time.Minute), Granularity: time.Minute, Aggregation: "max"})
	if err != nil || len(res) != 1 || len(res[0].Points) != 1 || res[0].Points[0].Value != 42 {
		t.Errorf("the minute pending in schema 1, after the upgrade: %+v, %v; want max 42", res, err)
	}
	if err := session.Query(`SELECT series FROM ` + ks + `.rollup_pending LIMIT 1`).Exec(); err == nil {
		t.Errorf("schema 1's rollup_pending is still there after the upgrade")
	}
}

// A packed row that cannot be decoded fails the query with an error naming
// the table and the row, rather than answering with part of the data.
func TestCassandraMalformedPackedRow(t *testing.T) {
	ctx := context.Background()
	s, session := openCassandraSession(t)
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	if err := s.WriteSamples(ctx, []storage.Sample{{InstanceID: "bad-1", Metric: "cpu_util", Time: at, Value: 1, Unit: "%", Kind: "rate"}}); err != nil {
		t.Fatal(err)
	}
	err := session.Query(`INSERT INTO `+s.Keyspace()+`.rollup_1m_packed (instance_id, metric, device, day, hour, v) VALUES (?, ?, ?, ?, ?, ?)`,
		"bad-1", "cpu_util", "", at.Truncate(24*time.Hour), at, []byte{1, 2, 3}).Exec()
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Measures(ctx, storage.MeasureQuery{InstanceID: "bad-1", Metric: "cpu_util", Start: at, End: at.Add(time.Hour), Granularity: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "rollup_1m_packed at 2026-11-27T10:00:00Z") || !strings.Contains(err.Error(), "malformed packed rollups") {
		t.Errorf("measures over a malformed row: %v", err)
	}
}

// Per-bucket rollups live only as long as raw points (plus a day); a late
// point that recomputes its hour after they have expired keeps the rest of
// the hour and of the day from the packed rows.
func TestCassandraLatePointAfterPerBucketRowsExpired(t *testing.T) {
	ctx := context.Background()
	s, session := openCassandraSession(t)
	ks := s.Keyspace()
	var ttl1m, ttl1h int
	for table, dst := range map[string]*int{"rollup_1m": &ttl1m, "rollup_1h": &ttl1h} {
		if err := session.Query(`SELECT default_time_to_live FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?`, ks, table).Scan(dst); err != nil {
			t.Fatal(err)
		}
	}
	if want := int((storage.DefaultRetention.Raw + 24*time.Hour).Seconds()); ttl1m != want || ttl1h != want {
		t.Errorf("per-bucket rollup TTLs %d and %d s; want raw retention plus a day, %d s", ttl1m, ttl1h, want)
	}
	from := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var batch []storage.Sample
	for at := from; at.Before(from.Add(2 * time.Hour)); at = at.Add(10 * time.Second) {
		batch = append(batch, storage.Sample{InstanceID: "late-1", Metric: "cpu_util", Time: at, Value: 1, Unit: "%", Kind: "rate"})
	}
	storagetest.Write(t, s, batch)
	// What their TTL does: the per-bucket rows are gone.
	d := from.Truncate(24 * time.Hour)
	for _, stmt := range []string{
		`DELETE FROM ` + ks + `.rollup_1m WHERE instance_id = 'late-1' AND metric = 'cpu_util' AND device = '' AND day = ?`,
		`DELETE FROM ` + ks + `.rollup_1h WHERE instance_id = 'late-1' AND metric = 'cpu_util' AND device = '' AND month = ?`,
	} {
		part := d
		if strings.Contains(stmt, "month") {
			part = time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
		}
		if err := session.Query(stmt, part).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	storagetest.Write(t, s, []storage.Sample{{InstanceID: "late-1", Metric: "cpu_util", Time: from.Add(5*time.Minute + 5*time.Second), Value: 50, Unit: "%", Kind: "rate"}})
	get := func(g time.Duration) []storage.Point {
		res, err := s.Measures(ctx, storage.MeasureQuery{InstanceID: "late-1", Metric: "cpu_util", Start: from, End: from.Add(2 * time.Hour), Granularity: g, Aggregation: "max"})
		if err != nil || len(res) != 1 {
			t.Fatalf("measures: %v, %d series", err, len(res))
		}
		return res[0].Points
	}
	minutes, hours := get(time.Minute), get(time.Hour)
	if len(minutes) != 120 || minutes[5].Value != 50 || minutes[4].Value != 1 || minutes[6].Value != 1 {
		t.Errorf("after the late point: %d minute points, minutes 4-6 %v; want 120, max 1, 50, 1", len(minutes), minutes[4:min(7, len(minutes))])
	}
	if len(hours) != 2 || hours[0].Value != 50 || hours[1].Value != 1 {
		t.Errorf("after the late point: hours %v; want max 50 then 1", hours)
	}
}

// Two stores processing the same backlog at once share it: each bucket is
// processed once. A shard leased by someone else is left alone until the
// lease is given back.
func TestCassandraRollupLeases(t *testing.T) {
	ctx := context.Background()
	a, session := openCassandraSession(t)
	b, err := cassandra.Open(ctx, cassandraConfig(t, a.Keyspace()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	from := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	backlog := func(prefix string) {
		var batch []storage.Sample
		for c := 0; c < 30; c++ { // 5 minutes
			for n := 0; n < 50; n++ {
				for m := 0; m < 4; m++ {
					batch = append(batch, storage.Sample{InstanceID: fmt.Sprintf("%s-%02d", prefix, n), Metric: fmt.Sprintf("m%d", m),
						Time: from.Add(time.Duration(c) * 10 * time.Second), Value: 1, Unit: "x", Kind: "gauge"})
				}
			}
		}
		if err := a.WriteSamples(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	drain := func(s *cassandra.Store) (int, error) {
		total := 0
		for {
			n, err := s.ProcessRollups(ctx, 300)
			if err != nil || n == 0 {
				return total, err
			}
			total += n
		}
	}
	// 50 instances × 4 metrics × 5 minutes: 1,000 buckets.
	backlog("lease")
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, s := range []*cassandra.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := drain(s)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	if counts[0]+counts[1] != 1000 {
		t.Errorf("the two stores processed %d and %d buckets; want 1,000 in all, each once", counts[0], counts[1])
	}
	// Every shard leased to another collector: nothing is processed.
	backlog("held")
	for shard := 0; shard < cassandra.Shards; shard++ {
		if _, err := session.Query(`INSERT INTO `+a.Keyspace()+`.rollup_leases (shard, owner) VALUES (?, 'elsewhere') IF NOT EXISTS USING TTL 60`, shard).
			MapScanCAS(map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := drain(a); err != nil || n != 0 {
		t.Errorf("with every shard leased elsewhere: processed %d, %v; want 0", n, err)
	}
	if err := session.Query(`TRUNCATE ` + a.Keyspace() + `.rollup_leases`).Exec(); err != nil {
		t.Fatal(err)
	}
	if n, err := drain(a); err != nil || n != 1000 {
		t.Errorf("once the leases are given back: processed %d, %v; want 1,000", n, err)
	}
}

// The backlog of pending rollups is kept by the minute marks were written: a
// slot done with is processed, deleted whole (reading the backlog never walks
// over the marks of processed buckets) and passed by the shard's cursor; a
// bucket still open in it is marked again in the current slot.
func TestCassandraRollupBacklogSlots(t *testing.T) {
	s, session := openCassandraSession(t)
	ks := s.Keyspace()
	now := time.Now().UTC().Truncate(time.Minute)
	past, future, slot := now.Add(-3*time.Hour), now.Add(5*time.Minute), now.Add(-5*time.Minute)
	for _, at := range []time.Time{past, future} {
		if err := session.Query(`INSERT INTO `+ks+`.measures_raw (instance_id, metric, device, day, ts, value) VALUES ('slots-1', 'cpu_util', '', ?, ?, 7)`,
			at.Truncate(24*time.Hour), at).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	// Both buckets marked five minutes ago, in every shard (so that the
	// test needs no knowledge of which shard holds the series), with no
	// cursors: processing starts an hour back.
	series := "slots-1\x00cpu_util\x00"
	if err := session.Query(`TRUNCATE ` + ks + `.rollup_cursors`).Exec(); err != nil {
		t.Fatal(err)
	}
	for sh := 0; sh < cassandra.Shards; sh++ {
		for _, b := range []time.Time{past, future} {
			if err := session.Query(`INSERT INTO `+ks+`.rollup_marks (shard, slot, series, bucket) VALUES (?, ?, ?, ?)`, sh, slot, series, b).Exec(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := storagetest.ProcessAll(t, s); n != cassandra.Shards {
		t.Errorf("processed %d buckets; want the past one once per shard, %d", n, cassandra.Shards)
	}
	var m float64
	if err := session.Query(`SELECT max FROM `+ks+`.rollup_1m WHERE instance_id = 'slots-1' AND metric = 'cpu_util' AND device = '' AND day = ? AND ts = ?`,
		past.Truncate(24*time.Hour), past).Scan(&m); err != nil || m != 7 {
		t.Errorf("rollup of the past minute: max %v (%v); want 7", m, err)
	}
	// The open bucket is carried into the current slot of its series' shard
	// alone; processing that crosses a minute boundary may carry it into two
	// consecutive slots of that shard, which only means it is looked at twice.
	carried := map[int]int{}
	for sh := 0; sh < cassandra.Shards; sh++ {
		var n int
		if err := session.Query(`SELECT count(*) FROM `+ks+`.rollup_marks WHERE shard = ? AND slot = ?`, sh, slot).Scan(&n); err != nil || n != 0 {
			t.Errorf("shard %d: %d marks left in the processed slot (%v)", sh, n, err)
		}
		var cursor time.Time
		if err := session.Query(`SELECT slot FROM `+ks+`.rollup_cursors WHERE shard = ?`, sh).Scan(&cursor); err != nil || cursor.Before(slot) {
			t.Errorf("shard %d: cursor at %v (%v); want %v or later", sh, cursor, err, slot)
		}
		for _, current := range []time.Time{now, now.Add(time.Minute)} {
			if err := session.Query(`SELECT count(*) FROM `+ks+`.rollup_marks WHERE shard = ? AND slot = ? AND series = ? AND bucket = ?`,
				sh, current, series, future).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				carried[sh] += n
			}
		}
	}
	if len(carried) != 1 {
		t.Errorf("the bucket still open is marked in the current slots of shards %v (shard: marks); want it in one shard", carried)
	}
}
