package cassandra

import (
	"context"
	"fmt"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Grace is how long after its end a minute bucket still takes points before
// its rollup is computed; later points mark it again, so nothing is missed.
const Grace = 30 * time.Second

// WriteSamples writes raw points (one unlogged batch per partition), the
// latest value of each metric (last write wins by sample time), then the
// pending rollup buckets.
func (s *Store) WriteSamples(ctx context.Context, samples []storage.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	latest := map[string]storage.Sample{}
	pending := map[bucketKey]time.Time{}
	units := map[string]string{} // metrics whose unit is not written yet
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
		if sm.Unit != "" && s.units[sm.Metric] != sm.Unit {
			units[sm.Metric] = sm.Unit
		}
		b := t.Truncate(time.Minute)
		k := keyOf(markID(sm), b)
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
	for metric, unit := range units {
		fns = append(fns, func(ctx context.Context) error {
			if err := s.session.Query(`INSERT INTO `+s.t("metric_units")+` (metric, unit) VALUES (?, ?)`, metric, unit).WithContext(ctx).Exec(); err != nil {
				return fmt.Errorf("writing the unit of %s: %w", metric, err)
			}
			return nil
		})
	}
	if err := runAll(ctx, 16, fns); err != nil {
		return err
	}
	s.mu.Lock()
	for metric, unit := range units {
		s.units[metric] = unit
	}
	s.mu.Unlock()
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

// bucketKey names a series' bucket in a map. The bucket is in Unix seconds,
// which tell buckets apart as their RFC 3339 form in UTC does.
type bucketKey struct {
	series string
	bucket int64
}

func keyOf(series string, bucket time.Time) bucketKey { return bucketKey{series, bucket.Unix()} }

// seriesBucket is a series' bucket as the backlog of pending rollups holds it.
type seriesBucket struct {
	series string
	bucket time.Time
}

// mark writes pending buckets (by series and bucket time) into the current
// slot of their shards' backlog.
func (s *Store) mark(ctx context.Context, pending map[bucketKey]time.Time) error {
	slot := s.now().UTC().Truncate(time.Minute)
	byShard := map[int][]seriesBucket{}
	for k, b := range pending {
		byShard[markShard(k.series)] = append(byShard[markShard(k.series)], seriesBucket{k.series, b})
	}
	var fns []func(context.Context) error
	for shard, all := range byShard {
		for i := 0; i < len(all); i += batchSize {
			rows := all[i:min(i+batchSize, len(all))]
			fns = append(fns, func(ctx context.Context) error {
				b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
				for _, r := range rows {
					b.Query(`INSERT INTO `+s.t("rollup_marks")+` (shard, slot, series, bucket) VALUES (?, ?, ?, ?)`, shard, slot, r.series, r.bucket)
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
