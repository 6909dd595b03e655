package cassandra

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// SchemaVersion is the schema this code reads and writes.
const SchemaVersion = 4

// schema lists, per version, the statements that bring the previous version
// to it. {ks} is the keyspace; {raw_ttl} and friends the retentions.
var schema = map[int][]string{
	1: {
		`CREATE TABLE IF NOT EXISTS {ks}.schema_version (id text PRIMARY KEY, version int, applied_at timestamp)`,
		`CREATE TABLE IF NOT EXISTS {ks}.measures_raw (instance_id text, metric text, device text, day date, ts timestamp, value double,
			PRIMARY KEY ((instance_id, metric, device, day), ts))
			WITH compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1}
			AND default_time_to_live = {raw_ttl} AND gc_grace_seconds = 10800`,
		`CREATE TABLE IF NOT EXISTS {ks}.rollup_1m (instance_id text, metric text, device text, day date, ts timestamp,
			min double, max double, sum double, count bigint, last double, last_ts timestamp,
			PRIMARY KEY ((instance_id, metric, device, day), ts))
			WITH compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1}
			AND default_time_to_live = {minute_ttl} AND gc_grace_seconds = 10800`,
		`CREATE TABLE IF NOT EXISTS {ks}.rollup_1h (instance_id text, metric text, device text, month date, ts timestamp,
			min double, max double, sum double, count bigint, last double, last_ts timestamp,
			PRIMARY KEY ((instance_id, metric, device, month), ts))
			WITH compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 30}
			AND default_time_to_live = {hour_ttl} AND gc_grace_seconds = 10800`,
		`CREATE TABLE IF NOT EXISTS {ks}.rollup_pending (shard int, series text, bucket timestamp, PRIMARY KEY ((shard), series, bucket))
			WITH gc_grace_seconds = 3600`,
		// One row per instance: its series and each one's latest value. Every
		// map entry keeps its own write time (the sample's), so an older point
		// arriving late never replaces a newer one.
		`CREATE TABLE IF NOT EXISTS {ks}.latest (instance_id text PRIMARY KEY, series map<text, text>)`,
		`CREATE TABLE IF NOT EXISTS {ks}.instances (id text PRIMARY KEY, data text, updated_at timestamp)`,
		`CREATE TABLE IF NOT EXISTS {ks}.instances_by_project (project_id text, id text, PRIMARY KEY ((project_id), id))`,
		`CREATE TABLE IF NOT EXISTS {ks}.instances_by_host (host text, id text, PRIMARY KEY ((host), id))`,
		`CREATE TABLE IF NOT EXISTS {ks}.instances_by_shard (shard int, id text, PRIMARY KEY ((shard), id))`,
		`CREATE TABLE IF NOT EXISTS {ks}.events (instance_id text, month date, ts timestamp, id text, data text,
			PRIMARY KEY ((instance_id, month), ts, id)) WITH CLUSTERING ORDER BY (ts DESC, id ASC)`,
		`CREATE TABLE IF NOT EXISTS {ks}.hosts (name text PRIMARY KEY, last_heartbeat timestamp, interval double, heartbeat text, stream text)`,
		`CREATE TABLE IF NOT EXISTS {ks}.host_batches (host text, stream text, seq bigint, PRIMARY KEY ((host, stream), seq))
			WITH default_time_to_live = 86400 AND gc_grace_seconds = 3600`,
		`CREATE TABLE IF NOT EXISTS {ks}.actions (instance_id text, id text, data text, PRIMARY KEY ((instance_id), id))`,
		`CREATE TABLE IF NOT EXISTS {ks}.actions_by_request (request_id text PRIMARY KEY, instance_id text, id text)`,
		`CREATE TABLE IF NOT EXISTS {ks}.actions_by_key (key text PRIMARY KEY, instance_id text, id text) WITH default_time_to_live = 86400`,
	},
	// Rollups packed a span to a row (see packed.go), which measures read.
	// The one-row-per-bucket tables stay as their source.
	2: {
		`CREATE TABLE IF NOT EXISTS {ks}.rollup_1m_packed (instance_id text, metric text, device text, day date, hour timestamp, v blob,
			PRIMARY KEY ((instance_id, metric, device, day), hour))
			WITH compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1}
			AND default_time_to_live = {minute_ttl} AND gc_grace_seconds = 10800`,
		`CREATE TABLE IF NOT EXISTS {ks}.rollup_1h_packed (instance_id text, metric text, device text, month date, day date, v blob,
			PRIMARY KEY ((instance_id, metric, device, month), day))
			WITH compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 30}
			AND default_time_to_live = {hour_ttl} AND gc_grace_seconds = 10800`,
		// Each instance's data in its shard's row too, so that a page of
		// instances is a few single-partition reads.
		`ALTER TABLE {ks}.instances_by_shard ADD data text`,
		// Per-bucket rollups are needed only while late points may recompute
		// them from raw points; packed rows keep them for their retention.
		`ALTER TABLE {ks}.rollup_1m WITH default_time_to_live = {source_ttl}`,
		`ALTER TABLE {ks}.rollup_1h WITH default_time_to_live = {source_ttl}`,
		// Which store processes a shard's pending rollups, the pending
		// buckets by the minute they were marked, and each shard's progress
		// (see ProcessRollups).
		`CREATE TABLE IF NOT EXISTS {ks}.rollup_leases (shard int PRIMARY KEY, owner text) WITH gc_grace_seconds = 3600`,
		`CREATE TABLE IF NOT EXISTS {ks}.rollup_marks (shard int, slot timestamp, series text, bucket timestamp,
			PRIMARY KEY ((shard, slot), series, bucket)) WITH gc_grace_seconds = 3600`,
		`CREATE TABLE IF NOT EXISTS {ks}.rollup_cursors (shard int PRIMARY KEY, slot timestamp)`,
	},
	// Fleet views (groups.go). Each series' minute rollup as a member of its
	// host's and its project's groups, kept as long as late points
	// may recompute it; each group's folded members of its latest minutes,
	// for latest values; the groups of each kind and metric; metrics' units.
	// Group series themselves are rollup rows like an instance's.
	3: {
		`CREATE TABLE IF NOT EXISTS {ks}.group_members (grp text, metric text, day date, ts timestamp, member text, v blob,
			PRIMARY KEY ((grp, metric, day), ts, member))
			WITH compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1}
			AND default_time_to_live = {source_ttl} AND gc_grace_seconds = 10800`,
		`CREATE TABLE IF NOT EXISTS {ks}.group_latest (grp text, metric text, minute timestamp, v blob,
			PRIMARY KEY ((grp, metric), minute)) WITH CLUSTERING ORDER BY (minute DESC)
			AND default_time_to_live = {latest_ttl} AND gc_grace_seconds = 3600`,
		`CREATE TABLE IF NOT EXISTS {ks}.group_names (kind text, metric text, name text, PRIMARY KEY ((kind, metric), name))
			WITH default_time_to_live = {hour_ttl}`,
		`CREATE TABLE IF NOT EXISTS {ks}.metric_units (metric text PRIMARY KEY, unit text)`,
	},
	// Alarms (alarms.go): definitions and their lookups (each shard's row
	// holding its alarms' definitions, which evaluators read), states written
	// with lightweight transactions on their version, histories newest
	// first, and which store evaluates each shard of alarms.
	4: {
		`CREATE TABLE IF NOT EXISTS {ks}.alarms (id text PRIMARY KEY, data text)`,
		`CREATE TABLE IF NOT EXISTS {ks}.alarms_by_project (project_id text, id text, PRIMARY KEY ((project_id), id))`,
		`CREATE TABLE IF NOT EXISTS {ks}.alarms_by_instance (instance_id text, id text, PRIMARY KEY ((instance_id), id))`,
		`CREATE TABLE IF NOT EXISTS {ks}.alarms_by_shard (shard int, id text, data text, PRIMARY KEY ((shard), id))`,
		`CREATE TABLE IF NOT EXISTS {ks}.alarm_states (id text PRIMARY KEY, version bigint, data text)`,
		`CREATE TABLE IF NOT EXISTS {ks}.alarm_history (alarm_id text, id text, data text,
			PRIMARY KEY ((alarm_id), id)) WITH CLUSTERING ORDER BY (id DESC)`,
		`CREATE TABLE IF NOT EXISTS {ks}.alarm_leases (shard int PRIMARY KEY, owner text) WITH gc_grace_seconds = 3600`,
		`CREATE TABLE IF NOT EXISTS {ks}.alarm_shard_changes (shard int PRIMARY KEY, mark text)`,
	},
}

// migrations move data once a version's statements have run.
var migrations = map[int]func(*Store, context.Context) error{
	2: func(s *Store, ctx context.Context) error {
		for _, p := range []packing{minutesPacked, hoursPacked} {
			if err := s.packAll(ctx, p); err != nil {
				return err
			}
		}
		if err := s.copyInstancesToShards(ctx); err != nil {
			return err
		}
		// Every shard's backlog starts now.
		start := s.now().UTC().Truncate(time.Minute).Add(-time.Minute)
		for shard := 0; shard < Shards; shard++ {
			if err := s.setCursor(ctx, shard, start); err != nil {
				return err
			}
		}
		return s.moveMarks(ctx)
	},
}

// moveMarks moves the pending buckets of schema 1's rollup_pending into the
// current slot of the backlog, then drops the old table.
func (s *Store) moveMarks(ctx context.Context) error {
	pending := map[bucketKey]time.Time{}
	iter := s.session.Query(`SELECT series, bucket FROM ` + s.t("rollup_pending")).WithContext(ctx).PageSize(5000).Iter()
	var (
		series string
		bucket time.Time
	)
	for iter.Scan(&series, &bucket) {
		pending[keyOf(series, bucket)] = bucket.UTC()
		if len(pending) == 5000 {
			if err := s.mark(ctx, pending); err != nil {
				_ = iter.Close()
				return err
			}
			clear(pending)
		}
	}
	err := iter.Close()
	if err != nil && (strings.Contains(err.Error(), "unconfigured table") || strings.Contains(err.Error(), "does not exist")) {
		return nil // moved already, by an earlier sync
	}
	if err != nil {
		return fmt.Errorf("reading schema 1's pending rollups: %w", err)
	}
	if err := s.mark(ctx, pending); err != nil {
		return err
	}
	if err := s.session.Query(`DROP TABLE IF EXISTS ` + s.t("rollup_pending")).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("dropping schema 1's pending rollups: %w", err)
	}
	return nil
}

// copyInstancesToShards writes each instance's data into its shard row, with
// the write time it has in the instances table.
func (s *Store) copyInstancesToShards(ctx context.Context) error {
	iter := s.session.Query(`SELECT id, data, writetime(data) FROM ` + s.t("instances")).WithContext(ctx).PageSize(5000).Iter()
	var (
		id, data string
		ts       int64
		err      error
	)
	for err == nil && iter.Scan(&id, &data, &ts) {
		err = s.session.Query(`INSERT INTO `+s.t("instances_by_shard")+` (shard, id, data) VALUES (?, ?, ?) USING TIMESTAMP ?`,
			shardOf(id), id, data, ts).WithContext(ctx).Exec()
	}
	if cerr := iter.Close(); cerr != nil {
		return fmt.Errorf("reading instances to copy them: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("copying instances to their shards: %w", err)
	}
	return nil
}

// packAll packs every row of p's source table: a scan in token order, in
// which a partition's rows come together and in time order.
func (s *Store) packAll(ctx context.Context, p packing) error {
	read := s.now()
	iter := s.session.Query(`SELECT instance_id, metric, device, ts, min, max, sum, count, last, last_ts FROM ` + s.t(p.source)).
		WithContext(ctx).PageSize(5000).Iter()
	var (
		inst, metric, device string
		b                    storage.Bucket
		cur                  [3]string
		curSpan              time.Time
		buckets              []storage.Bucket
		err                  error
	)
	flush := func() error {
		if len(buckets) == 0 {
			return nil
		}
		werr := s.writePacked(ctx, p, cur[0], cur[1], cur[2], curSpan, buckets, read)
		buckets = buckets[:0]
		return werr
	}
	for err == nil && iter.Scan(&inst, &metric, &device, &b.Time, &b.Agg.Min, &b.Agg.Max, &b.Agg.Sum, &b.Agg.Count, &b.Agg.Last, &b.Agg.LastTime) {
		b.Time, b.Agg.LastTime = b.Time.UTC(), b.Agg.LastTime.UTC()
		if k := [3]string{inst, metric, device}; k != cur || !p.spanOf(b.Time).Equal(curSpan) {
			err = flush()
			cur, curSpan = k, p.spanOf(b.Time)
		}
		buckets = append(buckets, b)
	}
	if cerr := iter.Close(); cerr != nil {
		return fmt.Errorf("reading %s to pack it: %w", p.source, cerr)
	}
	if err == nil {
		err = flush()
	}
	return err
}

func (s *Store) expand(stmt string) string {
	return strings.NewReplacer(
		"{ks}", s.cfg.Keyspace,
		"{raw_ttl}", fmt.Sprint(int(s.cfg.Retention.Raw.Seconds())),
		"{minute_ttl}", fmt.Sprint(int(s.cfg.Retention.Minute.Seconds())),
		"{hour_ttl}", fmt.Sprint(int(s.cfg.Retention.Hour.Seconds())),
		"{source_ttl}", fmt.Sprint(int((s.cfg.Retention.Raw + 24*time.Hour).Seconds())),
		"{latest_ttl}", fmt.Sprint(int(storage.LatestWindow.Seconds())),
	).Replace(stmt)
}

// Version returns the schema version stored in the keyspace (0: none).
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.session.Query(`SELECT version FROM ` + s.cfg.Keyspace + `.schema_version WHERE id = 'vmmon'`).WithContext(ctx).Scan(&v)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return 0, nil
	case err != nil && (strings.Contains(err.Error(), "unconfigured table") || strings.Contains(err.Error(), "does not exist")):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	return v, nil
}

// Sync creates the keyspace (with the configured replication) and brings the
// schema to SchemaVersion. It is safe to run again, and refuses a schema newer
// than this code.
func (s *Store) Sync(ctx context.Context) error {
	if err := s.session.Query(`CREATE KEYSPACE IF NOT EXISTS ` + s.cfg.Keyspace + ` WITH replication = ` + s.cfg.Replication).
		WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("creating keyspace %s with replication %s: %w", s.cfg.Keyspace, s.cfg.Replication, err)
	}
	have, err := s.Version(ctx)
	if err != nil {
		return err
	}
	if have > SchemaVersion {
		return fmt.Errorf("%w: keyspace %s has schema %d, this vmmon knows up to %d: upgrade vmmon before running db sync",
			storage.ErrSchema, s.cfg.Keyspace, have, SchemaVersion)
	}
	for v := have + 1; v <= SchemaVersion; v++ {
		for _, stmt := range schema[v] {
			err := s.session.Query(s.expand(stmt)).WithContext(ctx).Exec()
			// A column added by an earlier, interrupted sync is there already.
			if err != nil && strings.HasPrefix(stmt, "ALTER TABLE") && strings.Contains(err.Error(), "already exists") {
				err = nil
			}
			if err != nil {
				return fmt.Errorf("schema %d: %w", v, err)
			}
		}
		if m := migrations[v]; m != nil {
			if err := m(s, ctx); err != nil {
				return fmt.Errorf("schema %d: %w", v, err)
			}
		}
		if err := s.session.Query(`INSERT INTO `+s.cfg.Keyspace+`.schema_version (id, version, applied_at) VALUES ('vmmon', ?, ?)`,
			v, time.Now()).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("recording schema %d: %w", v, err)
		}
	}
	return nil
}

// CheckVersion fails unless the schema is exactly this code's.
func (s *Store) CheckVersion(ctx context.Context) error {
	have, err := s.Version(ctx)
	if err != nil {
		return err
	}
	if have != SchemaVersion {
		return fmt.Errorf("%w: keyspace %s has schema %d, this vmmon needs %d: run vmmon-manage db sync",
			storage.ErrSchema, s.cfg.Keyspace, have, SchemaVersion)
	}
	return nil
}

// DropKeyspace removes the keyspace and everything in it (tests, and
// operators who uninstall).
func (s *Store) DropKeyspace(ctx context.Context) error {
	return s.session.Query(`DROP KEYSPACE IF EXISTS ` + s.cfg.Keyspace).WithContext(ctx).Exec()
}
