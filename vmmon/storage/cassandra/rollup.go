package cassandra

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

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
	var (
		ps    []seriesBucket
		p     seriesBucket
		carry = map[bucketKey]time.Time{}
	)
	for iter.Scan(&p.series, &p.bucket) {
		p.bucket = p.bucket.UTC()
		// A margin for clock skew between collectors; a group's minute
		// waits for its members' (groups.go).
		open := s.open(p.bucket, started.Add(-10*time.Second))
		if isGroupSeries(p.series) {
			open = !s.groupReady(p.bucket, started.Add(-10*time.Second))
		}
		switch {
		case !open:
			ps = append(ps, p)
		case finished:
			carry[keyOf(p.series, p.bucket)] = p.bucket
		}
	}
	if err := iter.Close(); err != nil {
		return 0, fmt.Errorf("reading pending rollups: %w", err)
	}
	hours := map[bucketKey]time.Time{}
	members := &memberRows{}
	var fns []func(context.Context) error
	for _, p := range ps {
		h := p.bucket.Truncate(time.Hour)
		for _, series := range rolledUp(p.series) {
			hours[keyOf(series, h)] = h
		}
		fns = append(fns, func(ctx context.Context) error { return s.rollupMinute(ctx, p.series, p.bucket, members) })
	}
	if err := runAll(ctx, 16, fns); err != nil {
		return 0, err
	}
	// The minutes' members, then their groups' minutes marked pending.
	if err := s.writeMembers(ctx, members.rows); err != nil {
		return 0, err
	}
	if err := s.mark(ctx, members.groupMarks()); err != nil {
		return 0, err
	}
	fns = fns[:0]
	for k, h := range hours {
		fns = append(fns, func(ctx context.Context) error { return s.rollupHour(ctx, k.series, h) })
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

// rollupMinute computes the minute rollup of a series from its raw points
// and adds it to members as a member of its groups; a group's minute is
// folded from its members instead.
func (s *Store) rollupMinute(ctx context.Context, series string, b time.Time, members *memberRows) error {
	if isGroupSeries(series) {
		return s.foldGroup(ctx, series, b)
	}
	inst, metric, device, project, host := splitMark(series)
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
	members.add(storage.Member{InstanceID: inst, Device: device, ProjectID: project, Host: host, Minute: b, Agg: a}, metric, read)
	return s.writeMinute(ctx, inst, metric, device, b, a, read)
}

// writeMinute writes a series' minute rollup, with the time its source was
// read as the write time.
func (s *Store) writeMinute(ctx context.Context, inst, metric, device string, b time.Time, a storage.Agg, read time.Time) error {
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
