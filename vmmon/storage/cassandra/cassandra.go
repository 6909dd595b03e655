// Package cassandra is vmmon's production storage driver on Apache Cassandra
// (gocql): partitions bounded in time (instance, metric, device and day or
// month), rows clustered by timestamp, TimeWindowCompactionStrategy with a TTL
// per resolution, lookup tables for instances by project, host and shard, and
// rollups computed from a backlog of pending buckets so that any number of
// collectors can share the work. Rollups are also kept packed, a span of
// buckets to a row (packed.go), which is what measures read.
package cassandra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// batchSize is how many statements go into one unlogged batch.
const batchSize = 100

// Shards spread unbounded sets (all instances, pending rollups) over partitions.
const Shards = 16

// Config says how to reach the cluster.
type Config struct {
	Hosts       []string
	Port        int
	Keyspace    string
	Replication string // a CQL map, used when Sync creates the keyspace
	Consistency string
	Username    string
	Password    string
	Timeout     time.Duration
	Retention   storage.Retention
}

// Store is the Cassandra driver.
type Store struct {
	cfg     Config
	session *gocql.Session
	now     func() time.Time

	owner string // names this store in rollup leases

	mu     sync.Mutex
	marked map[[2]string]time.Time // open buckets already marked pending, by series and bucket
	pruned time.Time               // when marked was last cleared of closed buckets
}

// Grace is how long after its end a minute bucket still takes points before
// its rollup is computed; later points mark it again, so nothing is missed.
const Grace = 30 * time.Second

// Open connects to the cluster. Call Sync (vmmon-manage db sync) to create the
// schema, or CheckVersion to insist it is current.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Keyspace == "" || strings.ContainsAny(cfg.Keyspace, " .;\"'") {
		return nil, fmt.Errorf("[cassandra] keyspace %q: expected a plain CQL identifier", cfg.Keyspace)
	}
	if cfg.Retention == (storage.Retention{}) {
		cfg.Retention = storage.DefaultRetention
	}
	c := gocql.NewCluster(cfg.Hosts...)
	if cfg.Port > 0 {
		c.Port = cfg.Port
	}
	if cfg.Timeout > 0 {
		c.Timeout, c.ConnectTimeout = cfg.Timeout, cfg.Timeout
	}
	if cfg.Consistency != "" {
		cons, err := gocql.ParseConsistencyWrapper(cfg.Consistency)
		if err != nil {
			return nil, fmt.Errorf("[cassandra] consistency: %w", err)
		}
		c.Consistency = cons
	}
	if cfg.Username != "" {
		c.Authenticator = gocql.PasswordAuthenticator{Username: cfg.Username, Password: cfg.Password}
	}
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	c.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 2}
	session, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("connecting to Cassandra at %s: %w", strings.Join(cfg.Hosts, ","), err)
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
	return &Store{cfg: cfg, session: session, now: time.Now, owner: owner, marked: map[[2]string]time.Time{}}, nil
}

// Close closes the session.
func (s *Store) Close() error { s.session.Close(); return nil }

func (s *Store) t(name string) string { return s.cfg.Keyspace + "." + name }

func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

func month(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func seriesID(instance, metric, device string) string {
	return instance + "\x00" + metric + "\x00" + device
}

func splitSeries(s string) (instance, metric, device string) {
	p := strings.SplitN(s, "\x00", 3)
	for len(p) < 3 {
		p = append(p, "")
	}
	return p[0], p[1], p[2]
}

func shardOf(s string) int {
	h := fnv.New32a()
	h.Write([]byte(s))
	return int(h.Sum32() % Shards)
}

// runAll runs fns with bounded concurrency and returns the first error.
func runAll(ctx context.Context, n int, fns []func(context.Context) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, n)
	)
	for _, fn := range fns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// WriteSamples writes raw points (one unlogged batch per partition), the
// latest value of each metric (last write wins by sample time), then the
// pending rollup buckets.
func (s *Store) WriteSamples(ctx context.Context, samples []storage.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	latest := map[string]storage.Sample{}
	pending := map[[2]string]time.Time{}
	now := s.now()
	s.mu.Lock()
	if now.Sub(s.pruned) > time.Minute { // forget buckets that closed
		for k, b := range s.marked {
			if !s.open(b, now) {
				delete(s.marked, k)
			}
		}
		s.pruned = now
	}
	for _, sm := range samples {
		t := sm.Time.UTC()
		sid := seriesID(sm.InstanceID, sm.Metric, sm.Device)
		if old, ok := latest[sid]; !ok || !t.Before(old.Time) {
			latest[sid] = sm
		}
		b := t.Truncate(time.Minute)
		k := [2]string{sid, b.Format(time.RFC3339)}
		// An open bucket marked once stays marked until it closes and is
		// processed; a closed one (a late point) is marked again.
		if _, done := s.marked[k]; !done || !s.open(b, now) {
			pending[k] = b
		}
	}
	s.mu.Unlock()
	// Raw points in unlogged batches of batchSize statements: on the
	// coordinator this costs far less than one request per partition.
	var fns []func(context.Context) error
	for i := 0; i < len(samples); i += batchSize {
		chunk := samples[i:min(i+batchSize, len(samples))]
		fns = append(fns, func(ctx context.Context) error {
			b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
			for _, sm := range chunk {
				t := sm.Time.UTC()
				b.Query(`INSERT INTO `+s.t("measures_raw")+` (instance_id, metric, device, day, ts, value) VALUES (?, ?, ?, ?, ?, ?)`,
					sm.InstanceID, sm.Metric, sm.Device, day(t), t, sm.Value)
			}
			if err := s.session.ExecuteBatch(b); err != nil {
				return fmt.Errorf("writing raw points: %w", err)
			}
			return nil
		})
	}
	// Latest values: one statement per instance and sample time.
	type instTime struct {
		id string
		t  time.Time
	}
	groups := map[instTime]map[string]string{}
	for _, sm := range latest {
		k := instTime{sm.InstanceID, sm.Time.UTC()}
		if groups[k] == nil {
			groups[k] = map[string]string{}
		}
		groups[k][sm.Metric+"\x00"+sm.Device] = encodeLatest(sm)
	}
	var stmts []func(b *gocql.Batch)
	for k, m := range groups {
		stmts = append(stmts, func(b *gocql.Batch) {
			b.Query(`UPDATE `+s.t("latest")+` USING TIMESTAMP ? SET series = series + ? WHERE instance_id = ?`, micros(k.t), m, k.id)
		})
	}
	// Each holds a whole instance's series: fewer per batch, to stay far below
	// Cassandra's batch_size_fail_threshold.
	for i := 0; i < len(stmts); i += batchSize / 10 {
		chunk := stmts[i:min(i+batchSize/10, len(stmts))]
		fns = append(fns, func(ctx context.Context) error {
			b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
			for _, add := range chunk {
				add(b)
			}
			if err := s.session.ExecuteBatch(b); err != nil {
				return fmt.Errorf("writing latest values: %w", err)
			}
			return nil
		})
	}
	if err := runAll(ctx, 16, fns); err != nil {
		return err
	}
	// Pending buckets only after the points they summarise are written, and
	// remembered as marked only once their marks are.
	if err := s.mark(ctx, pending); err != nil {
		return err
	}
	s.mu.Lock()
	for k, b := range pending {
		if s.open(b, now) {
			s.marked[k] = b
		}
	}
	s.mu.Unlock()
	return nil
}

// mark writes pending buckets (by series and bucket time) into the current
// slot of their shards' backlog.
func (s *Store) mark(ctx context.Context, pending map[[2]string]time.Time) error {
	slot := s.now().UTC().Truncate(time.Minute)
	byShard := map[int][][2]any{}
	for k, b := range pending {
		byShard[shardOf(k[0])] = append(byShard[shardOf(k[0])], [2]any{k[0], b})
	}
	var fns []func(context.Context) error
	for shard, all := range byShard {
		for i := 0; i < len(all); i += batchSize {
			rows := all[i:min(i+batchSize, len(all))]
			fns = append(fns, func(ctx context.Context) error {
				b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
				for _, r := range rows {
					b.Query(`INSERT INTO `+s.t("rollup_marks")+` (shard, slot, series, bucket) VALUES (?, ?, ?, ?)`, shard, slot, r[0], r[1])
				}
				if err := s.session.ExecuteBatch(b); err != nil {
					return fmt.Errorf("writing pending rollups: %w", err)
				}
				return nil
			})
		}
	}
	return runAll(ctx, 16, fns)
}

// open reports whether a minute bucket may still take points at now.
func (s *Store) open(bucket, now time.Time) bool { return now.Before(bucket.Add(time.Minute + Grace)) }

// ProcessRollups computes the minute rollups of pending buckets from the raw
// points, then the hour rollups they belong to from the minute rollups.
//
// Pending buckets are marked in a backlog partitioned by shard and by the
// minute the mark was written (its slot). A shard's slots are processed in
// order from its cursor, each once every bucket marked in it has closed;
// then the slot's partition is deleted whole and the cursor moves past it,
// so that reading the backlog never walks over tombstones.
//
// Collectors share the work by shard: each shard is processed by one store at
// a time, under a lease (a lightweight transaction with a TTL, so that the
// lease of a store that died expires), starting from a random shard.
func (s *Store) ProcessRollups(ctx context.Context, limit int) (int, error) {
	done := 0
	first := rand.IntN(Shards)
	for k := 0; k < Shards && done < limit; k++ {
		shard := (first + k) % Shards
		held, err := s.lease(ctx, shard)
		if err != nil {
			return done, err
		}
		if !held {
			continue // another collector is processing it
		}
		n, err := s.processShard(ctx, shard, limit-done)
		done += n
		if rerr := s.release(ctx, shard); err == nil {
			err = rerr
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// LeaseTTL bounds how long a shard's rollups stay leased to a store that
// stopped without releasing them.
const LeaseTTL = 2 * time.Minute

// lease takes the shard's rollup lease for this store.
func (s *Store) lease(ctx context.Context, shard int) (bool, error) {
	held, err := s.session.Query(`INSERT INTO `+s.t("rollup_leases")+` (shard, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ?`,
		shard, s.owner, int(LeaseTTL.Seconds())).WithContext(ctx).SerialConsistency(gocql.LocalSerial).MapScanCAS(map[string]any{})
	if err != nil {
		return false, fmt.Errorf("leasing the rollups of shard %d: %w", shard, err)
	}
	return held, nil
}

// release gives the shard's rollup lease back, if this store still holds it.
func (s *Store) release(ctx context.Context, shard int) error {
	_, err := s.session.Query(`DELETE FROM `+s.t("rollup_leases")+` WHERE shard = ? IF owner = ?`, shard, s.owner).
		WithContext(ctx).SerialConsistency(gocql.LocalSerial).MapScanCAS(map[string]any{})
	if err != nil {
		return fmt.Errorf("releasing the rollups of shard %d: %w", shard, err)
	}
	return nil
}

// slotReady is how long after its start a slot is done with: its minute,
// Grace for the buckets marked in it to close, and a margin for clocks and
// for writes still in flight.
const slotReady = time.Minute + Grace + 30*time.Second

// processShard processes the slots of one shard from its cursor to the
// current one, until at least limit buckets are done. A slot that is done
// with is deleted whole and the cursor moves past it; in a recent slot, which
// may still take marks, the closed buckets are processed and their marks
// deleted one by one (tombstones of one slot at most).
func (s *Store) processShard(ctx context.Context, shard, limit int) (int, error) {
	var cursor time.Time
	err := s.session.Query(`SELECT slot FROM `+s.t("rollup_cursors")+` WHERE shard = ?`, shard).WithContext(ctx).Scan(&cursor)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		// db sync sets every cursor; this is only a safety net.
		cursor = s.now().UTC().Truncate(time.Minute).Add(-time.Hour)
	case err != nil:
		return 0, fmt.Errorf("reading the rollup cursor of shard %d: %w", shard, err)
	default:
		cursor = cursor.UTC().Add(time.Minute)
	}
	done := 0
	for slot := cursor; done < limit && !slot.After(s.now()); slot = slot.Add(time.Minute) {
		n, err := s.processSlot(ctx, shard, slot)
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// processSlot computes the rollups of the closed buckets marked in one slot
// and deletes their marks; a slot done with is deleted whole, with its open
// buckets (samples from an agent whose clock runs ahead) marked again in the
// current slot, and the shard's cursor moves past it.
func (s *Store) processSlot(ctx context.Context, shard int, slot time.Time) (int, error) {
	started := s.now()
	finished := !started.Before(slot.Add(slotReady))
	iter := s.session.Query(`SELECT series, bucket FROM `+s.t("rollup_marks")+` WHERE shard = ? AND slot = ?`, shard, slot).
		WithContext(ctx).Iter()
	type pend struct {
		series string
		bucket time.Time
	}
	var (
		ps    []pend
		p     pend
		carry = map[[2]string]time.Time{}
	)
	for iter.Scan(&p.series, &p.bucket) {
		p.bucket = p.bucket.UTC()
		switch {
		// A margin for clock skew between collectors.
		case !s.open(p.bucket, started.Add(-10*time.Second)):
			ps = append(ps, p)
		case finished:
			carry[[2]string{p.series, p.bucket.Format(time.RFC3339)}] = p.bucket
		}
	}
	if err := iter.Close(); err != nil {
		return 0, fmt.Errorf("reading pending rollups: %w", err)
	}
	hours := map[string]time.Time{}
	var fns []func(context.Context) error
	for _, p := range ps {
		hours[p.series+"\x01"+p.bucket.Truncate(time.Hour).Format(time.RFC3339)] = p.bucket.Truncate(time.Hour)
		fns = append(fns, func(ctx context.Context) error { return s.rollupMinute(ctx, p.series, p.bucket) })
	}
	if err := runAll(ctx, 16, fns); err != nil {
		return 0, err
	}
	fns = fns[:0]
	for k, h := range hours {
		series := strings.SplitN(k, "\x01", 2)[0]
		fns = append(fns, func(ctx context.Context) error { return s.rollupHour(ctx, series, h) })
	}
	if err := runAll(ctx, 16, fns); err != nil {
		return 0, err
	}
	if !finished {
		fns = fns[:0]
		for _, p := range ps {
			fns = append(fns, func(ctx context.Context) error {
				// A bucket marked again since we read it keeps its newer mark.
				return s.session.Query(`DELETE FROM `+s.t("rollup_marks")+` USING TIMESTAMP ? WHERE shard = ? AND slot = ? AND series = ? AND bucket = ?`,
					micros(started), shard, slot, p.series, p.bucket).WithContext(ctx).Exec()
			})
		}
		return len(ps), runAll(ctx, 16, fns)
	}
	if err := s.mark(ctx, carry); err != nil {
		return 0, err
	}
	if err := s.session.Query(`DELETE FROM `+s.t("rollup_marks")+` USING TIMESTAMP ? WHERE shard = ? AND slot = ?`, micros(started), shard, slot).
		WithContext(ctx).Exec(); err != nil {
		return 0, fmt.Errorf("deleting processed rollup marks: %w", err)
	}
	return len(ps), s.setCursor(ctx, shard, slot)
}

// setCursor records that a shard's slots up to slot are done with; the
// cursor only moves forward, whoever writes it.
func (s *Store) setCursor(ctx context.Context, shard int, slot time.Time) error {
	if err := s.session.Query(`INSERT INTO `+s.t("rollup_cursors")+` (shard, slot) VALUES (?, ?) USING TIMESTAMP ?`, shard, slot, micros(slot)).
		WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("moving the rollup cursor of shard %d: %w", shard, err)
	}
	return nil
}

// Rollups are recomputed from their source and written with the time the
// source was read as their write time: when two collectors recompute the same
// rollup at once, the one that read later, and so saw more, wins. A packed
// row is recomputed from the packed row and the per-bucket rows together, so
// it keeps buckets whose per-bucket rows have expired (they are kept only as
// long as raw points, plus a day).

func (s *Store) rollupMinute(ctx context.Context, series string, b time.Time) error {
	inst, metric, device := splitSeries(series)
	read := s.now()
	iter := s.session.Query(`SELECT ts, value FROM `+s.t("measures_raw")+` WHERE instance_id = ? AND metric = ? AND device = ? AND day = ? AND ts >= ? AND ts < ?`,
		inst, metric, device, day(b), b, b.Add(time.Minute)).WithContext(ctx).Iter()
	var (
		a  storage.Agg
		ts time.Time
		v  float64
	)
	for iter.Scan(&ts, &v) {
		a.Add(ts, v)
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("reading raw points for a rollup: %w", err)
	}
	if a.Count == 0 {
		return nil
	}
	return s.session.Query(`INSERT INTO `+s.t("rollup_1m")+` (instance_id, metric, device, day, ts, min, max, sum, count, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
		inst, metric, device, day(b), b, a.Min, a.Max, a.Sum, a.Count, a.Last, a.LastTime, micros(read)).WithContext(ctx).Exec()
}

// rollupHour packs the minute rollups of hour h, computes its hour rollup
// from them, then packs the hour rollups of its day.
func (s *Store) rollupHour(ctx context.Context, series string, h time.Time) error {
	inst, metric, device := splitSeries(series)
	read := s.now()
	buckets, err := s.repack(ctx, minutesPacked, inst, metric, device, h)
	if err != nil || len(buckets) == 0 {
		return err
	}
	var a storage.Agg
	for _, b := range buckets {
		a.Merge(b.Agg)
	}
	err = runAll(ctx, 2, []func(context.Context) error{
		func(ctx context.Context) error {
			return s.writePacked(ctx, minutesPacked, inst, metric, device, h, buckets, read)
		},
		func(ctx context.Context) error {
			return s.session.Query(`INSERT INTO `+s.t("rollup_1h")+` (instance_id, metric, device, month, ts, min, max, sum, count, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
				inst, metric, device, month(h), h, a.Min, a.Max, a.Sum, a.Count, a.Last, a.LastTime, micros(read)).WithContext(ctx).Exec()
		},
	})
	if err != nil {
		return err
	}
	d := day(h)
	read = s.now()
	hours, err := s.repack(ctx, hoursPacked, inst, metric, device, d)
	if err != nil {
		return err
	}
	return s.writePacked(ctx, hoursPacked, inst, metric, device, d, hours, read)
}

// repack reads the span at start from its packed row and its per-bucket rows
// at once, and returns their union; a per-bucket row wins over the packed
// bucket of the same time.
func (s *Store) repack(ctx context.Context, p packing, inst, metric, device string, start time.Time) ([]storage.Bucket, error) {
	var packed, rows []storage.Bucket
	err := runAll(ctx, 2, []func(context.Context) error{
		func(ctx context.Context) (err error) {
			packed, err = s.readPacked(ctx, p, inst, metric, device, start, start.Add(p.span))
			return err
		},
		func(ctx context.Context) (err error) {
			rows, err = s.readRollups(ctx, p.source, inst, metric, device, start, start.Add(p.span))
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	return mergeBuckets(packed, rows), nil
}

// mergeBuckets merges two lists of buckets in time order; b wins over a at
// the same time.
func mergeBuckets(a, b []storage.Bucket) []storage.Bucket {
	out := make([]storage.Bucket, 0, max(len(a), len(b)))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0].Time.Before(b[0].Time)):
			out, a = append(out, a[0]), a[1:]
		case len(a) > 0 && a[0].Time.Equal(b[0].Time):
			out, a, b = append(out, b[0]), a[1:], b[1:]
		default:
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// writePacked writes the packed row of the span at start, with the time its
// source was read as the write time.
func (s *Store) writePacked(ctx context.Context, p packing, inst, metric, device string, start time.Time, buckets []storage.Bucket, read time.Time) error {
	blob, err := p.pack(start, buckets)
	if err != nil {
		return err
	}
	err = s.session.Query(`INSERT INTO `+s.t(p.table)+` (instance_id, metric, device, `+p.partition+`, `+p.cluster+`, v) VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
		inst, metric, device, p.partitionOf(start), start, blob, micros(read)).WithContext(ctx).Exec()
	if err != nil {
		return fmt.Errorf("writing %s: %w", p.table, err)
	}
	return nil
}

// readPacked returns the buckets in [start, end) of a packed table, in time
// order.
func (s *Store) readPacked(ctx context.Context, p packing, inst, metric, device string, start, end time.Time) ([]storage.Bucket, error) {
	return perPartition(ctx, partitions(start, end, p.partition == "month"), func(ctx context.Context, part time.Time) ([]storage.Bucket, error) {
		iter := s.session.Query(`SELECT `+p.cluster+`, v FROM `+s.t(p.table)+` WHERE instance_id = ? AND metric = ? AND device = ? AND `+p.partition+` = ? AND `+p.cluster+` >= ? AND `+p.cluster+` <= ?`,
			inst, metric, device, part, p.spanOf(start), p.spanOf(end.Add(-time.Nanosecond))).WithContext(ctx).Iter()
		blob := unpacker{p: p, from: start, to: end}
		for iter.Scan(&blob.at, &blob) {
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", p.table, err)
		}
		return blob.out, nil
	})
}

// perPartition reads every partition at once and returns what they hold in
// partition order.
func perPartition[T any](ctx context.Context, parts []time.Time, read func(ctx context.Context, part time.Time) ([]T, error)) ([]T, error) {
	results := make([][]T, len(parts))
	fns := make([]func(context.Context) error, len(parts))
	for i, part := range parts {
		fns[i] = func(ctx context.Context) error {
			var err error
			results[i], err = read(ctx, part)
			return err
		}
	}
	if err := runAll(ctx, 8, fns); err != nil {
		return nil, err
	}
	var out []T
	for _, r := range results {
		out = append(out, r...)
	}
	return out, nil
}

// partitions lists the day (or month) partitions that [start, end) touches.
func partitions(start, end time.Time, monthly bool) []time.Time {
	var out []time.Time
	if monthly {
		for m := month(start); m.Before(end); m = m.AddDate(0, 1, 0) {
			out = append(out, m)
		}
		return out
	}
	for d := day(start); d.Before(end); d = d.Add(24 * time.Hour) {
		out = append(out, d)
	}
	return out
}

func (s *Store) readRollups(ctx context.Context, table, inst, metric, device string, start, end time.Time) ([]storage.Bucket, error) {
	monthly := table == "rollup_1h"
	col := "day"
	if monthly {
		col = "month"
	}
	return perPartition(ctx, partitions(start, end, monthly), func(ctx context.Context, part time.Time) ([]storage.Bucket, error) {
		iter := s.session.Query(`SELECT ts, min, max, sum, count, last, last_ts FROM `+s.t(table)+` WHERE instance_id = ? AND metric = ? AND device = ? AND `+col+` = ? AND ts >= ? AND ts < ?`,
			inst, metric, device, part, start, end).WithContext(ctx).Iter()
		var (
			out []storage.Bucket
			b   storage.Bucket
		)
		for iter.Scan(&b.Time, &b.Agg.Min, &b.Agg.Max, &b.Agg.Sum, &b.Agg.Count, &b.Agg.Last, &b.Agg.LastTime) {
			b.Time, b.Agg.LastTime = b.Time.UTC(), b.Agg.LastTime.UTC()
			out = append(out, b)
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", table, err)
		}
		return out, nil
	})
}

// Measures answers a measures query. A query of one series reads its points
// while checking that the instance has it.
func (s *Store) Measures(ctx context.Context, q storage.MeasureQuery) ([]storage.Series, error) {
	base, err := q.Validate()
	if err != nil {
		return nil, err
	}
	var (
		infos     []storage.MetricInfo
		early     []storage.Point
		earlyErr  error
		lookupErr error
	)
	if q.AllDevices {
		infos, lookupErr = s.seriesOf(ctx, q)
	} else {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			early, earlyErr = s.points(ctx, q, base, q.Device)
		}()
		infos, lookupErr = s.seriesOf(ctx, q)
		wg.Wait()
	}
	if lookupErr != nil {
		return nil, lookupErr
	}
	out := make([]storage.Series, 0, len(infos))
	for _, info := range infos {
		points, err := early, earlyErr
		if q.AllDevices {
			points, err = s.points(ctx, q, base, info.Device)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, storage.Series{Device: info.Device, Unit: info.Unit, Points: points})
	}
	return out, nil
}

// points reads the points of one series at the stored resolution base.
func (s *Store) points(ctx context.Context, q storage.MeasureQuery, base time.Duration, device string) ([]storage.Point, error) {
	if base != storage.Raw {
		p := minutesPacked
		if base == storage.Hour {
			p = hoursPacked
		}
		buckets, err := s.readPacked(ctx, p, q.InstanceID, q.Metric, device, q.Start.Truncate(q.Granularity), q.End)
		if err != nil {
			return nil, err
		}
		return storage.Regroup(buckets, q.Granularity, q.Aggregation, q.Start, q.End), nil
	}
	out, err := perPartition(ctx, partitions(q.Start, q.End, false), func(ctx context.Context, d time.Time) ([]storage.Point, error) {
		iter := s.session.Query(`SELECT ts, value FROM `+s.t("measures_raw")+` WHERE instance_id = ? AND metric = ? AND device = ? AND day = ? AND ts >= ? AND ts < ?`,
			q.InstanceID, q.Metric, device, d, q.Start, q.End).WithContext(ctx).Iter()
		var (
			out []storage.Point
			p   storage.Point
		)
		for iter.Scan(&p.Time, &p.Value) {
			p.Time = p.Time.UTC()
			out = append(out, p)
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("reading raw points: %w", err)
		}
		return out, nil
	})
	if out == nil && err == nil {
		out = []storage.Point{} // never null in JSON
	}
	return out, err
}

func (s *Store) seriesOf(ctx context.Context, q storage.MeasureQuery) ([]storage.MetricInfo, error) {
	all, err := s.metrics(ctx, q.InstanceID, q.Metric)
	if err != nil {
		return nil, err
	}
	return q.Select(all)
}

// latestValue is a latest-table entry.
type latestValue struct {
	Unit  string    `json:"u"`
	Kind  string    `json:"k"`
	Time  time.Time `json:"t"`
	Value float64   `json:"v"`
}

func encodeLatest(sm storage.Sample) string {
	b, _ := json.Marshal(latestValue{Unit: sm.Unit, Kind: sm.Kind, Time: sm.Time.UTC(), Value: sm.Value})
	return string(b)
}

func (s *Store) metrics(ctx context.Context, instanceID, metric string) ([]storage.MetricInfo, error) {
	var series map[string]string
	err := s.session.Query(`SELECT series FROM `+s.t("latest")+` WHERE instance_id = ?`, instanceID).WithContext(ctx).Scan(&series)
	if err != nil && !errors.Is(err, gocql.ErrNotFound) {
		return nil, fmt.Errorf("reading metrics of %s: %w", instanceID, err)
	}
	out := []storage.MetricInfo{}
	for k, v := range series {
		name, device, _ := strings.Cut(k, "\x00")
		if metric != "" && name != metric {
			continue
		}
		var lv latestValue
		if err := json.Unmarshal([]byte(v), &lv); err != nil {
			return nil, fmt.Errorf("metrics of %s: %w", instanceID, err)
		}
		out = append(out, storage.MetricInfo{Name: name, Device: device, Unit: lv.Unit, Kind: lv.Kind, LastTime: lv.Time.UTC(), LastValue: lv.Value})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Device < out[j].Device
	})
	return out, nil
}

// Metrics lists an instance's metrics with their latest values.
func (s *Store) Metrics(ctx context.Context, instanceID string) ([]storage.MetricInfo, error) {
	return s.metrics(ctx, instanceID, "")
}

// PutInstance stores inst; Cassandra's last-write-wins, with the information's
// own time as write time, keeps the newest whatever the order of arrival.
func (s *Store) PutInstance(ctx context.Context, inst storage.Instance) error {
	if inst.UpdatedAt.IsZero() {
		inst.UpdatedAt = s.now().UTC()
	}
	old, err := s.GetInstance(ctx, inst.ID)
	exists := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if exists && old.UpdatedAt.After(inst.UpdatedAt) {
		return nil // older news
	}
	data, err := json.Marshal(inst)
	if err != nil {
		return err
	}
	ts := micros(inst.UpdatedAt)
	b := s.session.NewBatch(gocql.LoggedBatch).WithContext(ctx)
	b.Query(`INSERT INTO `+s.t("instances")+` (id, data, updated_at) VALUES (?, ?, ?) USING TIMESTAMP ?`, inst.ID, string(data), inst.UpdatedAt, ts)
	if inst.ProjectID != "" {
		b.Query(`INSERT INTO `+s.t("instances_by_project")+` (project_id, id) VALUES (?, ?) USING TIMESTAMP ?`, inst.ProjectID, inst.ID, ts)
	}
	if inst.Host != "" {
		b.Query(`INSERT INTO `+s.t("instances_by_host")+` (host, id) VALUES (?, ?) USING TIMESTAMP ?`, inst.Host, inst.ID, ts)
	}
	b.Query(`INSERT INTO `+s.t("instances_by_shard")+` (shard, id, data) VALUES (?, ?, ?) USING TIMESTAMP ?`, shardOf(inst.ID), inst.ID, string(data), ts)
	if exists && old.Host != "" && old.Host != inst.Host {
		b.Query(`DELETE FROM `+s.t("instances_by_host")+` USING TIMESTAMP ? WHERE host = ? AND id = ?`, ts, old.Host, inst.ID)
	}
	if exists && old.ProjectID != "" && old.ProjectID != inst.ProjectID {
		b.Query(`DELETE FROM `+s.t("instances_by_project")+` USING TIMESTAMP ? WHERE project_id = ? AND id = ?`, ts, old.ProjectID, inst.ID)
	}
	if err := s.session.ExecuteBatch(b); err != nil {
		return fmt.Errorf("writing instance %s: %w", inst.ID, err)
	}
	return nil
}

// GetInstance returns one instance or ErrNotFound.
func (s *Store) GetInstance(ctx context.Context, id string) (storage.Instance, error) {
	var (
		inst storage.Instance
		data string
	)
	err := s.session.Query(`SELECT data FROM `+s.t("instances")+` WHERE id = ?`, id).WithContext(ctx).Scan(&data)
	if errors.Is(err, gocql.ErrNotFound) {
		return inst, fmt.Errorf("instance %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return inst, fmt.Errorf("reading instance %s: %w", id, err)
	}
	return inst, json.Unmarshal([]byte(data), &inst)
}

// ListInstances pages through instances by id. Every instance is also a row
// of its shard in instances_by_shard, with its data: a page of all instances
// merges the shards' first rows; a page of a project or host reads its ids
// from their lookup table and the data from the shards, a query per shard.
func (s *Store) ListInstances(ctx context.Context, q storage.InstanceQuery) ([]storage.Instance, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	page := min(limit, 500)
	out := []storage.Instance{}
	marker := q.Marker
	for len(out) < limit {
		var (
			rows []instanceRow
			next string // the id to read on after: "" when no more may follow
			err  error
		)
		if q.ProjectID == "" && q.Host == "" {
			rows, next, err = s.firstOfShards(ctx, marker, page)
		} else {
			rows, next, err = s.lookedUp(ctx, q, marker, page)
		}
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r.data == "" {
				continue // a lookup row whose instance's data is not written yet
			}
			var inst storage.Instance
			if err := json.Unmarshal([]byte(r.data), &inst); err != nil {
				return nil, fmt.Errorf("instance %s: %w", r.id, err)
			}
			// Lookup rows may lag a move: the instance's data is the truth.
			if (q.ProjectID == "" || inst.ProjectID == q.ProjectID) && (q.Host == "" || inst.Host == q.Host) &&
				(q.State == "" || inst.State == q.State) && len(out) < limit {
				out = append(out, inst)
			}
		}
		if next == "" {
			break
		}
		marker = next
	}
	return out, nil
}

// instanceRow is an instance's id and stored data.
type instanceRow struct{ id, data string }

// shardRows reads up to n rows of a shard after the id after.
func (s *Store) shardRows(ctx context.Context, shard int, after string, n int) ([]instanceRow, error) {
	iter := s.session.Query(`SELECT id, data FROM `+s.t("instances_by_shard")+` WHERE shard = ? AND id > ? LIMIT ?`, shard, after, n).
		WithContext(ctx).Iter()
	var (
		out []instanceRow
		r   instanceRow
	)
	for iter.Scan(&r.id, &r.data) {
		out = append(out, r)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	return out, nil
}

// firstOfShards returns the first n instances after marker in id order, and
// the id to read on after ("" if no more may follow). Shards are read a few rows past their share at a
// time, and read further only while one of them may still hold a row of the
// page.
func (s *Store) firstOfShards(ctx context.Context, marker string, n int) ([]instanceRow, string, error) {
	per := 2*n/Shards + 4
	type shardState struct {
		rows []instanceRow
		done bool // no row after the last read
	}
	shards := make([]shardState, Shards)
	want := make([]bool, Shards)
	for i := range want {
		want[i] = true
	}
	for {
		fns := make([]func(context.Context) error, 0, Shards)
		for i := range shards {
			if !want[i] {
				continue
			}
			fns = append(fns, func(ctx context.Context) error {
				after := marker
				if k := len(shards[i].rows); k > 0 {
					after = shards[i].rows[k-1].id
				}
				rows, err := s.shardRows(ctx, i, after, per)
				shards[i].rows = append(shards[i].rows, rows...)
				shards[i].done = len(rows) < per
				return err
			})
		}
		if err := runAll(ctx, Shards, fns); err != nil {
			return nil, "", err
		}
		var all []instanceRow
		for _, sh := range shards {
			all = append(all, sh.rows...)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
		// The page is complete when no shard read so far can hold an id
		// before its last one.
		again := false
		for i, sh := range shards {
			want[i] = !sh.done && (len(all) < n || sh.rows[len(sh.rows)-1].id < all[n-1].id)
			again = again || want[i]
		}
		if !again {
			if len(all) > n {
				return all[:n], all[n-1].id, nil
			}
			for _, sh := range shards {
				if !sh.done {
					return all, all[len(all)-1].id, nil
				}
			}
			return all, "", nil
		}
	}
}

// lookedUp returns the first n instances after marker of a project or host,
// and the id to read on after ("" if no more may follow).
func (s *Store) lookedUp(ctx context.Context, q storage.InstanceQuery, marker string, n int) ([]instanceRow, string, error) {
	stmt, key := `SELECT id FROM `+s.t("instances_by_project")+` WHERE project_id = ? AND id > ? LIMIT ?`, q.ProjectID
	if q.ProjectID == "" {
		stmt, key = `SELECT id FROM `+s.t("instances_by_host")+` WHERE host = ? AND id > ? LIMIT ?`, q.Host
	}
	iter := s.session.Query(stmt, key, marker, n).WithContext(ctx).Iter()
	var (
		ids []string
		id  string
	)
	for iter.Scan(&id) {
		ids = append(ids, id)
	}
	if err := iter.Close(); err != nil {
		return nil, "", fmt.Errorf("listing instances: %w", err)
	}
	byShard := map[int][]string{}
	for _, id := range ids {
		byShard[shardOf(id)] = append(byShard[shardOf(id)], id)
	}
	var (
		mu   sync.Mutex
		data = make(map[string]string, len(ids))
		fns  []func(context.Context) error
	)
	for shard, group := range byShard {
		fns = append(fns, func(ctx context.Context) error {
			iter := s.session.Query(`SELECT id, data FROM `+s.t("instances_by_shard")+` WHERE shard = ? AND id IN ?`, shard, group).WithContext(ctx).Iter()
			var r instanceRow
			for iter.Scan(&r.id, &r.data) {
				mu.Lock()
				data[r.id] = r.data
				mu.Unlock()
			}
			if err := iter.Close(); err != nil {
				return fmt.Errorf("reading instances: %w", err)
			}
			return nil
		})
	}
	if err := runAll(ctx, Shards, fns); err != nil {
		return nil, "", err
	}
	rows := make([]instanceRow, 0, len(ids))
	for _, id := range ids {
		if d, ok := data[id]; ok {
			rows = append(rows, instanceRow{id, d})
		}
	}
	if len(ids) < n {
		return rows, "", nil
	}
	return rows, ids[len(ids)-1], nil
}

// AddEvent stores an event (idempotent by instance, time and id).
func (s *Store) AddEvent(ctx context.Context, e storage.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.session.Query(`INSERT INTO `+s.t("events")+` (instance_id, month, ts, id, data) VALUES (?, ?, ?, ?, ?) USING TTL ?`,
		e.InstanceID, month(e.Time), e.Time.UTC(), e.ID, string(data), int(s.cfg.Retention.Hour.Seconds())).WithContext(ctx).Exec()
}

// Events returns an instance's events, newest first. An open start reaches
// back as far as events are kept (the hour rollups' retention).
func (s *Store) Events(ctx context.Context, q storage.EventQuery) ([]storage.Event, error) {
	start, end := q.Bounds()
	if earliest := s.now().Add(-s.cfg.Retention.Hour); start.Before(earliest) {
		start = earliest
	}
	if now := s.now().Add(24 * time.Hour); end.After(now) {
		end = now
	}
	out := []storage.Event{}
	ms := partitions(start, end, true)
	for i := len(ms) - 1; i >= 0 && (q.Limit <= 0 || len(out) < q.Limit); i-- {
		iter := s.session.Query(`SELECT data FROM `+s.t("events")+` WHERE instance_id = ? AND month = ? AND ts >= ? AND ts < ?`,
			q.InstanceID, ms[i], start, end).WithContext(ctx).Iter()
		var data string
		for iter.Scan(&data) {
			var e storage.Event
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				iter.Close()
				return nil, err
			}
			if q.Limit <= 0 || len(out) < q.Limit {
				out = append(out, e)
			}
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("reading events: %w", err)
		}
	}
	return out, nil
}

func (s *Store) putJSON(ctx context.Context, stmt string, v any, args ...any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.session.Query(stmt, append(args, string(data))...).WithContext(ctx).Exec()
}

func (s *Store) getJSON(ctx context.Context, dst any, stmt string, args ...any) error {
	var data string
	err := s.session.Query(stmt, args...).WithContext(ctx).Scan(&data)
	if errors.Is(err, gocql.ErrNotFound) {
		return storage.ErrNotFound
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(data), dst)
}

// PutHeartbeat stores a heartbeat; the heartbeat's time is the write time,
// so the newest wins whatever the order of arrival.
func (s *Store) PutHeartbeat(ctx context.Context, h storage.Host) error {
	return s.session.Query(`UPDATE `+s.t("hosts")+` USING TIMESTAMP ? SET last_heartbeat = ?, interval = ?, heartbeat = ? WHERE name = ?`,
		micros(h.LastHeartbeat), h.LastHeartbeat.UTC(), h.Interval, h.Heartbeat, h.Name).WithContext(ctx).Exec()
}

// RecordBatch notes a batch's arrival; gaps are counted when reading.
func (s *Store) RecordBatch(ctx context.Context, host, stream string, seq uint64, at time.Time) error {
	if err := s.session.Query(`INSERT INTO `+s.t("host_batches")+` (host, stream, seq) VALUES (?, ?, ?)`, host, stream, int64(seq)).
		WithContext(ctx).Exec(); err != nil {
		return err
	}
	return s.session.Query(`UPDATE `+s.t("hosts")+` USING TIMESTAMP ? SET stream = ? WHERE name = ?`, micros(at), stream, host).
		WithContext(ctx).Exec()
}

func (s *Store) withBatches(ctx context.Context, h storage.Host) (storage.Host, error) {
	if h.Stream == "" {
		return h, nil
	}
	var (
		n        int64
		min, max *int64
	)
	if err := s.session.Query(`SELECT count(*), min(seq), max(seq) FROM `+s.t("host_batches")+` WHERE host = ? AND stream = ?`,
		h.Name, h.Stream).WithContext(ctx).Scan(&n, &min, &max); err != nil {
		return h, fmt.Errorf("counting batches of %s: %w", h.Name, err)
	}
	if n > 0 && min != nil && max != nil {
		h.LastSeq, h.SeqGaps = uint64(*max), uint64(*max-*min+1-n)
	}
	return h, nil
}

const hostColumns = `name, last_heartbeat, interval, heartbeat, stream`

func scanHost(scan func(...any) bool) (storage.Host, bool) {
	var (
		h     storage.Host
		hb, s *string
		lh    *time.Time
		iv    *float64
	)
	if !scan(&h.Name, &lh, &iv, &hb, &s) {
		return h, false
	}
	if lh != nil {
		h.LastHeartbeat = lh.UTC()
	}
	if iv != nil {
		h.Interval = *iv
	}
	h.Heartbeat, h.Stream = deref(hb), deref(s)
	return h, true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// GetHost returns one host or ErrNotFound.
func (s *Store) GetHost(ctx context.Context, name string) (storage.Host, error) {
	iter := s.session.Query(`SELECT `+hostColumns+` FROM `+s.t("hosts")+` WHERE name = ?`, name).WithContext(ctx).Iter()
	h, ok := scanHost(iter.Scan)
	if err := iter.Close(); err != nil {
		return h, err
	}
	if !ok {
		return h, storage.ErrNotFound
	}
	return s.withBatches(ctx, h)
}

// ListHosts returns every host (a small table: one row per compute node).
func (s *Store) ListHosts(ctx context.Context) ([]storage.Host, error) {
	iter := s.session.Query(`SELECT ` + hostColumns + ` FROM ` + s.t("hosts")).WithContext(ctx).Iter()
	out := []storage.Host{}
	for {
		h, ok := scanHost(iter.Scan)
		if !ok {
			break
		}
		out = append(out, h)
	}
	if err := iter.Close(); err != nil {
		return nil, err
	}
	for i := range out {
		var err error
		if out[i], err = s.withBatches(ctx, out[i]); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// PutAction stores a new action, or returns the one its idempotency key named.
func (s *Store) PutAction(ctx context.Context, a storage.Action) (storage.Action, error) {
	if a.IdempotencyKey != "" {
		existing := map[string]any{}
		applied, err := s.session.Query(`INSERT INTO `+s.t("actions_by_key")+` (key, instance_id, id) VALUES (?, ?, ?) IF NOT EXISTS`,
			a.IdempotencyKey, a.InstanceID, a.ID).WithContext(ctx).MapScanCAS(existing)
		if err != nil {
			return a, fmt.Errorf("recording the idempotency key: %w", err)
		}
		if !applied {
			inst, _ := existing["instance_id"].(string)
			id, _ := existing["id"].(string)
			stored, err := s.GetAction(ctx, inst, id)
			if err != nil {
				return stored, err
			}
			return stored, storage.ErrConflict
		}
	}
	return a, s.writeAction(ctx, a)
}

func (s *Store) writeAction(ctx context.Context, a storage.Action) error {
	if a.RequestID != "" {
		if err := s.session.Query(`INSERT INTO `+s.t("actions_by_request")+` (request_id, instance_id, id) VALUES (?, ?, ?)`,
			a.RequestID, a.InstanceID, a.ID).WithContext(ctx).Exec(); err != nil {
			return err
		}
	}
	return s.putJSON(ctx, `INSERT INTO `+s.t("actions")+` (instance_id, id, data) VALUES (?, ?, ?)`, a, a.InstanceID, a.ID)
}

// UpdateAction overwrites an existing action.
func (s *Store) UpdateAction(ctx context.Context, a storage.Action) error {
	if _, err := s.GetAction(ctx, a.InstanceID, a.ID); err != nil {
		return fmt.Errorf("action %s: %w", a.ID, err)
	}
	return s.writeAction(ctx, a)
}

// SetNovaRequestID records Nova's request id, keeping the status a
// notification may have set meanwhile (a lightweight transaction on the
// stored document).
func (s *Store) SetNovaRequestID(ctx context.Context, instanceID, id, novaRequestID string) error {
	for attempt := 0; attempt < 5; attempt++ {
		var data string
		if err := s.session.Query(`SELECT data FROM `+s.t("actions")+` WHERE instance_id = ? AND id = ?`, instanceID, id).
			WithContext(ctx).Scan(&data); err != nil {
			if errors.Is(err, gocql.ErrNotFound) {
				return storage.ErrNotFound
			}
			return err
		}
		var a storage.Action
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			return err
		}
		a.NovaRequestID = novaRequestID
		updated, _ := json.Marshal(a)
		applied, err := s.session.Query(`UPDATE `+s.t("actions")+` SET data = ? WHERE instance_id = ? AND id = ? IF data = ?`,
			string(updated), instanceID, id, data).WithContext(ctx).MapScanCAS(map[string]any{})
		if err != nil {
			return err
		}
		if applied {
			return nil
		}
	}
	return fmt.Errorf("action %s changed too often to record Nova's request id", id)
}

// GetAction returns one action of an instance.
func (s *Store) GetAction(ctx context.Context, instanceID, id string) (storage.Action, error) {
	var a storage.Action
	return a, s.getJSON(ctx, &a, `SELECT data FROM `+s.t("actions")+` WHERE instance_id = ? AND id = ?`, instanceID, id)
}

// ListActions returns an instance's actions, oldest first.
func (s *Store) ListActions(ctx context.Context, instanceID string) ([]storage.Action, error) {
	iter := s.session.Query(`SELECT data FROM `+s.t("actions")+` WHERE instance_id = ?`, instanceID).WithContext(ctx).Iter()
	out := []storage.Action{}
	var data string
	for iter.Scan(&data) {
		var a storage.Action
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			iter.Close()
			return nil, err
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, iter.Close()
}

// ActionByRequestID finds the action Nova's request id belongs to.
func (s *Store) ActionByRequestID(ctx context.Context, requestID string) (storage.Action, error) {
	var inst, id string
	err := s.session.Query(`SELECT instance_id, id FROM `+s.t("actions_by_request")+` WHERE request_id = ?`, requestID).
		WithContext(ctx).Scan(&inst, &id)
	if errors.Is(err, gocql.ErrNotFound) {
		return storage.Action{}, storage.ErrNotFound
	}
	if err != nil {
		return storage.Action{}, err
	}
	return s.GetAction(ctx, inst, id)
}

var _ storage.Store = (*Store)(nil)
