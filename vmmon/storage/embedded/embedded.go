// Package embedded is vmmon's single-file storage driver on bbolt (pure Go,
// crash-safe, one writer): the default of the all-in-one and of small
// installs. Rollups are computed in the same transaction as the raw points
// they summarise.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// SchemaVersion is the layout this code reads and writes. Layout 2 added
// the buckets of fleet views (aggregates.go).
// Layout 3, the buckets of alarms (alarms.go).
const SchemaVersion = 3

var (
	bMeta        = []byte("meta")
	bRaw         = []byte("raw")
	bMinute      = []byte("rollup_1m")
	bHour        = []byte("rollup_1h")
	bMetrics     = []byte("metrics")
	bInstances   = []byte("instances")
	bEvents      = []byte("events")
	bHosts       = []byte("hosts")
	bHostBatches = []byte("host_batches")
	bActions     = []byte("actions")
	bActionsReq  = []byte("actions_by_request")
	bActionsKey  = []byte("actions_by_idempotency_key")
	bMembers     = []byte("group_members")
	bGroups      = []byte("groups")
	bUnits       = []byte("metric_units")
	allBuckets   = [][]byte{bMeta, bRaw, bMinute, bHour, bMetrics, bInstances, bEvents, bHosts, bHostBatches, bActions, bActionsReq, bActionsKey,
		bMembers, bGroups, bUnits, bAlarms, bAlarmStates, bAlarmHistory}
	keyVersion = []byte("schema_version")
)

// Store is the embedded driver.
type Store struct {
	db        *bolt.DB
	retention storage.Retention
	now       func() time.Time
	lastPrune time.Time
	keysSwept time.Time // when expired idempotency keys were last forgotten (under bolt's write lock)

	leaseMu sync.Mutex
	leases  map[int]lease // alarm shards' leases (alarms.go)
	// Each alarm shard's change mark (alarms.go), under leaseMu.
	changes   map[int]string
	changeSeq uint64
}

// PruneEvery is how often ProcessRollups scans for expired points.
const PruneEvery = 10 * time.Minute

// Open opens the store in dir/vmmon.db, creating or upgrading its layout.
func Open(dir string, retention storage.Retention) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "vmmon.db"), 0o640, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("embedded store %s: %w (is another vmmon using it?)", dir, err)
	}
	s := &Store{db: db, retention: retention, now: time.Now}
	if err := s.Sync(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Sync creates the layout, or refuses a newer one.
func (s *Store) Sync() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(keyVersion); v != nil {
			if have := int(binary.BigEndian.Uint32(v)); have > SchemaVersion {
				return fmt.Errorf("%w: the embedded store has layout %d, this vmmon knows up to %d: upgrade vmmon", storage.ErrSchema, have, SchemaVersion)
			}
		}
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return meta.Put(keyVersion, binary.BigEndian.AppendUint32(nil, SchemaVersion))
	})
}

// Version returns the stored layout version.
func (s *Store) Version() (int, error) {
	var v int
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bMeta); b != nil {
			if raw := b.Get(keyVersion); raw != nil {
				v = int(binary.BigEndian.Uint32(raw))
			}
		}
		return nil
	})
	return v, err
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func seriesKey(instance, metric, device string) []byte {
	return []byte(instance + "\x00" + metric + "\x00" + device + "\x00")
}

func timeKey(prefix []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), uint64(t.UnixNano()))
}

func keyTime(k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[len(k)-8:]))).UTC()
}

func f64(v float64) []byte    { return binary.BigEndian.AppendUint64(nil, math.Float64bits(v)) }
func getF64(b []byte) float64 { return math.Float64frombits(binary.BigEndian.Uint64(b)) }

type bucketKey struct {
	series string
	t      time.Time
}

// pairing is the project and host of a sample's instance at the time.
type pairing struct{ project, host string }

// WriteSamples stores raw points and recomputes the minute and hour rollups
// they fall in, and the minutes as members of their groups, in one
// transaction.
func (s *Store) WriteSamples(ctx context.Context, samples []storage.Sample) error {
	if len(samples) == 0 {
		return ctx.Err()
	}
	now := s.now()
	return s.db.Update(func(tx *bolt.Tx) error {
		raw, metrics := tx.Bucket(bRaw), tx.Bucket(bMetrics)
		minutes := map[bucketKey]map[pairing]storage.Sample{}
		for _, sm := range samples {
			sk := seriesKey(sm.InstanceID, sm.Metric, sm.Device)
			t := sm.Time.UTC().Truncate(time.Millisecond)
			if err := raw.Put(timeKey(sk, t), f64(sm.Value)); err != nil {
				return err
			}
			k := bucketKey{string(sk), t.Truncate(time.Minute)}
			if minutes[k] == nil {
				minutes[k] = map[pairing]storage.Sample{}
			}
			minutes[k][pairing{sm.ProjectID, sm.Host}] = sm
			if units := tx.Bucket(bUnits); sm.Unit != "" && string(units.Get([]byte(sm.Metric))) != sm.Unit {
				if err := units.Put([]byte(sm.Metric), []byte(sm.Unit)); err != nil {
					return err
				}
			}
			mk := sk[:len(sk)-1]
			var info storage.MetricInfo
			if old := metrics.Get(mk); old != nil {
				_ = json.Unmarshal(old, &info)
			}
			if info.LastTime.IsZero() || !t.Before(info.LastTime) {
				info = storage.MetricInfo{Name: sm.Metric, Device: sm.Device, Unit: sm.Unit, Kind: sm.Kind, LastTime: t, LastValue: sm.Value}
				b, _ := json.Marshal(info)
				if err := metrics.Put(mk, b); err != nil {
					return err
				}
			}
		}
		hours := map[bucketKey]bool{}
		for k, pairings := range minutes {
			a, err := rollup(raw, tx.Bucket(bMinute), []byte(k.series), k.t, time.Minute, false)
			if err != nil {
				return err
			}
			for _, sm := range pairings {
				m := storage.Member{InstanceID: sm.InstanceID, Device: sm.Device, ProjectID: sm.ProjectID, Host: sm.Host, Minute: k.t, Agg: a}
				if err := putMember(tx, sm.Metric, m, now); err != nil {
					return err
				}
			}
			hours[bucketKey{k.series, k.t.Truncate(time.Hour)}] = true
		}
		for k := range hours {
			if _, err := rollup(tx.Bucket(bMinute), tx.Bucket(bHour), []byte(k.series), k.t, time.Hour, true); err != nil {
				return err
			}
		}
		return nil
	})
}

// rollup recomputes the bucket of width w at t of series from src (raw points,
// or finer rollups when fromAggs) into dst, and returns it.
func rollup(src, dst *bolt.Bucket, series []byte, t time.Time, w time.Duration, fromAggs bool) (storage.Agg, error) {
	var a storage.Agg
	c := src.Cursor()
	end := timeKey(series, t.Add(w))
	for k, v := c.Seek(timeKey(series, t)); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		if fromAggs {
			a.Merge(decodeAgg(v))
		} else {
			a.Add(keyTime(k), getF64(v))
		}
	}
	return a, dst.Put(timeKey(series, t), storage.AppendAgg(nil, a))
}

func decodeAgg(b []byte) storage.Agg {
	a, _ := storage.ReadAgg(b)
	return a
}

// ProcessRollups removes points past their retention; rollups are already
// computed at write time.
func (s *Store) ProcessRollups(ctx context.Context, limit int) (int, error) {
	now := s.now()
	if now.Sub(s.lastPrune) < PruneEvery {
		return 0, nil
	}
	s.lastPrune = now
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range []struct {
			b   []byte
			ttl time.Duration
		}{{bRaw, s.retention.Raw}, {bMinute, s.retention.Minute}, {bHour, s.retention.Hour}} {
			if r.ttl <= 0 {
				continue
			}
			cutoff := now.Add(-r.ttl)
			c := tx.Bucket(r.b).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if keyTime(k).Before(cutoff) {
					if err := c.Delete(); err != nil {
						return err
					}
				}
			}
		}
		if err := s.pruneGroups(tx, now); err != nil {
			return err
		}
		if err := s.purgeDeleted(tx, now); err != nil {
			return err
		}
		cutoff := uint64(now.Add(-storage.BatchWindow).UnixNano())
		c := tx.Bucket(bHostBatches).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if binary.BigEndian.Uint64(v) < cutoff {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return 0, err
}

// Measures answers a measures query.
func (s *Store) Measures(ctx context.Context, q storage.MeasureQuery) ([]storage.Series, error) {
	base, err := q.Validate()
	if err != nil {
		return nil, err
	}
	var out []storage.Series
	err = s.db.View(func(tx *bolt.Tx) error {
		infos, err := s.seriesOf(tx, q)
		if err != nil {
			return err
		}
		for _, info := range infos {
			sk := seriesKey(q.InstanceID, q.Metric, info.Device)
			series := storage.Series{Device: info.Device, Unit: info.Unit, Points: []storage.Point{}}
			if base == storage.Raw {
				c := tx.Bucket(bRaw).Cursor()
				end := timeKey(sk, q.End)
				for k, v := c.Seek(timeKey(sk, q.Start)); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
					if err := cancelled(ctx, len(series.Points)); err != nil {
						return err
					}
					series.Points = append(series.Points, storage.Point{Time: keyTime(k), Value: getF64(v)})
				}
			} else {
				b := bMinute
				if base == storage.Hour {
					b = bHour
				}
				var buckets []storage.Bucket
				c := tx.Bucket(b).Cursor()
				end := timeKey(sk, q.End)
				for k, v := c.Seek(timeKey(sk, q.Start.Truncate(q.Granularity))); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
					if err := cancelled(ctx, len(buckets)); err != nil {
						return err
					}
					buckets = append(buckets, storage.Bucket{Time: keyTime(k), Agg: decodeAgg(v)})
				}
				series.Points = storage.Regroup(buckets, q.Granularity, q.Aggregation, q.Start, q.End)
			}
			out = append(out, series)
		}
		return nil
	})
	return out, err
}

// cancelled returns ctx's error every 4,096 rows read (n), so that a read
// stops soon after its request is cancelled.
func cancelled(ctx context.Context, n int) error {
	if n%4096 != 4095 {
		return nil
	}
	return ctx.Err()
}

// seriesOf returns the series a query reads, or a typed error for a metric the
// instance does not have.
func (s *Store) seriesOf(tx *bolt.Tx, q storage.MeasureQuery) ([]storage.MetricInfo, error) {
	var all []storage.MetricInfo
	prefix := []byte(q.InstanceID + "\x00" + q.Metric + "\x00")
	c := tx.Bucket(bMetrics).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var info storage.MetricInfo
		if err := json.Unmarshal(v, &info); err != nil {
			return nil, err
		}
		all = append(all, info)
	}
	return q.Select(all)
}

// Metrics lists an instance's metrics with their latest values.
func (s *Store) Metrics(ctx context.Context, instanceID string) ([]storage.MetricInfo, error) {
	out := []storage.MetricInfo{}
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(instanceID + "\x00")
		c := tx.Bucket(bMetrics).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var info storage.MetricInfo
			if err := json.Unmarshal(v, &info); err != nil {
				return err
			}
			out = append(out, info)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Device < out[j].Device
	})
	return out, err
}

func getJSON(b *bolt.Bucket, key string, dst any) error {
	v := b.Get([]byte(key))
	if v == nil {
		return storage.ErrNotFound
	}
	return json.Unmarshal(v, dst)
}

// listJSON pages through a bucket of JSON values in key order: those after
// marker that match, at most limit of them (all when limit is 0).
func listJSON[T any](db *bolt.DB, bucket []byte, marker string, limit int, match func(T) bool) ([]T, error) {
	out := []T{}
	err := db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		k, v := c.First()
		if marker != "" {
			k, v = c.Seek([]byte(marker))
			if k != nil && string(k) == marker {
				k, v = c.Next()
			}
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			var item T
			if err := json.Unmarshal(v, &item); err != nil {
				return err
			}
			if match(item) {
				out = append(out, item)
			}
		}
		return nil
	})
	return out, err
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// PutInstance stores inst unless the stored one is newer.
func (s *Store) PutInstance(ctx context.Context, inst storage.Instance) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bInstances)
		var old storage.Instance
		if err := getJSON(b, inst.ID, &old); err == nil && old.UpdatedAt.After(inst.UpdatedAt) {
			return nil
		}
		return putJSON(b, inst.ID, inst)
	})
}

// GetInstance returns one instance or ErrNotFound.
func (s *Store) GetInstance(ctx context.Context, id string) (storage.Instance, error) {
	var inst storage.Instance
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bInstances), id, &inst) })
	if errors.Is(err, storage.ErrNotFound) {
		return inst, fmt.Errorf("instance %s: %w", id, err)
	}
	return inst, err
}

// ListInstances pages through instances by id.
func (s *Store) ListInstances(ctx context.Context, q storage.InstanceQuery) ([]storage.Instance, error) {
	return listJSON(s.db, bInstances, q.Marker, q.Limit, q.Match)
}

func eventKey(e storage.Event) []byte {
	return append(timeKey([]byte(e.InstanceID+"\x00"), e.Time.UTC()), []byte(e.ID)...)
}

// AddEvent stores an event (again: idempotent by instance, time and id).
func (s *Store) AddEvent(ctx context.Context, e storage.Event) error {
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	return s.db.Update(func(tx *bolt.Tx) error {
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return tx.Bucket(bEvents).Put(eventKey(e), raw)
	})
}

// Events returns an instance's events between Start and End, newest first.
func (s *Store) Events(ctx context.Context, q storage.EventQuery) ([]storage.Event, error) {
	out := []storage.Event{}
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(q.InstanceID + "\x00")
		c := tx.Bucket(bEvents).Cursor()
		qs, qe := q.Bounds()
		end := timeKey(prefix, qe)
		var k, v []byte
		if k, _ = c.Seek(end); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		start := timeKey(prefix, qs)
		for ; k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k[:len(start)], start) >= 0 && (q.Limit <= 0 || len(out) < q.Limit); k, v = c.Prev() {
			var e storage.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// hostRow is what the hosts bucket keeps.
type hostRow struct {
	storage.Host
	StreamAt time.Time `json:"stream_at"`
}

func (s *Store) updateHost(tx *bolt.Tx, name string, f func(*hostRow)) error {
	b := tx.Bucket(bHosts)
	var h hostRow
	if v := b.Get([]byte(name)); v != nil {
		if err := json.Unmarshal(v, &h); err != nil {
			return err
		}
	}
	h.Name = name
	f(&h)
	return putJSON(b, name, h)
}

// PutHeartbeat stores a heartbeat unless a newer one is stored.
func (s *Store) PutHeartbeat(ctx context.Context, hb storage.Host) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return s.updateHost(tx, hb.Name, func(h *hostRow) {
			if hb.LastHeartbeat.After(h.LastHeartbeat) {
				h.LastHeartbeat, h.Interval, h.Heartbeat, h.ClockSkew = hb.LastHeartbeat, hb.Interval, hb.Heartbeat, hb.ClockSkew
			}
		})
	})
}

func batchPrefix(host, stream string) []byte { return []byte(host + "\x00" + stream + "\x00") }

// RecordBatch notes a batch's arrival.
func (s *Store) RecordBatch(ctx context.Context, host, stream string, seq uint64, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		k := binary.BigEndian.AppendUint64(batchPrefix(host, stream), seq)
		if err := tx.Bucket(bHostBatches).Put(k, binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))); err != nil {
			return err
		}
		return s.updateHost(tx, host, func(h *hostRow) {
			if !at.Before(h.StreamAt) {
				h.Stream, h.StreamAt = stream, at
			}
		})
	})
}

func (s *Store) hostView(tx *bolt.Tx, h hostRow) storage.Host {
	out := h.Host
	if h.Stream == "" {
		return out
	}
	var (
		n        uint64
		min, max uint64
	)
	prefix := batchPrefix(h.Name, h.Stream)
	c := tx.Bucket(bHostBatches).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		seq := binary.BigEndian.Uint64(k[len(prefix):])
		if n == 0 || seq < min {
			min = seq
		}
		if seq > max {
			max = seq
		}
		n++
	}
	if n > 0 {
		out.LastSeq, out.SeqGaps = max, max-min+1-n
	}
	return out
}

// GetHost returns one host or ErrNotFound.
func (s *Store) GetHost(ctx context.Context, name string) (storage.Host, error) {
	var out storage.Host
	err := s.db.View(func(tx *bolt.Tx) error {
		var h hostRow
		if err := getJSON(tx.Bucket(bHosts), name, &h); err != nil {
			return err
		}
		out = s.hostView(tx, h)
		return nil
	})
	return out, err
}

// ListHosts returns every host by name.
func (s *Store) ListHosts(ctx context.Context) ([]storage.Host, error) {
	out := []storage.Host{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bHosts).ForEach(func(_, v []byte) error {
			var h hostRow
			if err := json.Unmarshal(v, &h); err != nil {
				return err
			}
			out = append(out, s.hostView(tx, h))
			return nil
		})
	})
	return out, err
}

func actionKey(instanceID, id string) string { return instanceID + "\x00" + id }

// keyRef is what an idempotency key names, until when.
type keyRef struct {
	Action  string    `json:"action"`
	Expires time.Time `json:"expires"`
}

// expireKeys forgets idempotency keys past their time (or of an older
// format), at most once a minute.
func (s *Store) expireKeys(keys *bolt.Bucket) error {
	now := s.now()
	if now.Sub(s.keysSwept) < time.Minute {
		return nil
	}
	s.keysSwept = now
	var old [][]byte
	err := keys.ForEach(func(k, v []byte) error {
		var ref keyRef
		if json.Unmarshal(v, &ref) != nil || !now.Before(ref.Expires) {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range old {
		if err == nil {
			err = keys.Delete(k)
		}
	}
	return err
}

// PutAction stores a new action or returns the one its idempotency key named.
func (s *Store) PutAction(ctx context.Context, a storage.Action) (storage.Action, error) {
	var stored storage.Action
	err := s.db.Update(func(tx *bolt.Tx) error {
		if a.IdempotencyKey != "" {
			keys := tx.Bucket(bActionsKey)
			var ref keyRef
			if raw := keys.Get([]byte(a.IdempotencyKey)); raw != nil && json.Unmarshal(raw, &ref) == nil && s.now().Before(ref.Expires) {
				if err := getJSON(tx.Bucket(bActions), ref.Action, &stored); err != nil {
					return err
				}
				return storage.ErrConflict
			}
			if err := s.expireKeys(keys); err != nil {
				return err
			}
			if err := putJSON(keys, a.IdempotencyKey, keyRef{Action: actionKey(a.InstanceID, a.ID), Expires: s.now().Add(storage.IdempotencyTTL)}); err != nil {
				return err
			}
		}
		if a.RequestID != "" {
			if err := tx.Bucket(bActionsReq).Put([]byte(a.RequestID), []byte(actionKey(a.InstanceID, a.ID))); err != nil {
				return err
			}
		}
		stored = a
		return putJSON(tx.Bucket(bActions), actionKey(a.InstanceID, a.ID), a)
	})
	return stored, err
}

// UpdateAction overwrites an existing action.
func (s *Store) UpdateAction(ctx context.Context, a storage.Action) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bActions)
		if b.Get([]byte(actionKey(a.InstanceID, a.ID))) == nil {
			return fmt.Errorf("action %s: %w", a.ID, storage.ErrNotFound)
		}
		if a.RequestID != "" {
			if err := tx.Bucket(bActionsReq).Put([]byte(a.RequestID), []byte(actionKey(a.InstanceID, a.ID))); err != nil {
				return err
			}
		}
		return putJSON(b, actionKey(a.InstanceID, a.ID), a)
	})
}

// SetNovaRequestID records Nova's request id, atomically keeping the status.
func (s *Store) SetNovaRequestID(ctx context.Context, instanceID, id, novaRequestID string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var a storage.Action
		if err := getJSON(tx.Bucket(bActions), actionKey(instanceID, id), &a); err != nil {
			return err
		}
		a.NovaRequestID = novaRequestID
		return putJSON(tx.Bucket(bActions), actionKey(instanceID, id), a)
	})
}

// GetAction returns one action of an instance.
func (s *Store) GetAction(ctx context.Context, instanceID, id string) (storage.Action, error) {
	var a storage.Action
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bActions), actionKey(instanceID, id), &a) })
	return a, err
}

// ListActions returns an instance's actions, oldest first.
func (s *Store) ListActions(ctx context.Context, instanceID string) ([]storage.Action, error) {
	out := []storage.Action{}
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(instanceID + "\x00")
		c := tx.Bucket(bActions).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var a storage.Action
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// ActionByRequestID finds the action Nova's request id belongs to.
func (s *Store) ActionByRequestID(ctx context.Context, requestID string) (storage.Action, error) {
	var a storage.Action
	err := s.db.View(func(tx *bolt.Tx) error {
		ref := tx.Bucket(bActionsReq).Get([]byte(requestID))
		if ref == nil {
			return storage.ErrNotFound
		}
		return getJSON(tx.Bucket(bActions), string(ref), &a)
	})
	return a, err
}

var _ storage.Store = (*Store)(nil)
