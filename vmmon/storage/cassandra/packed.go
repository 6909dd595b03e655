package cassandra

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// A packed row holds the rollups of one span (an hour of minute buckets, or a
// day of hour buckets) in one blob: a day at 1 min is 24 rows to read rather
// than 1,440, which costs Cassandra about a seventh of the CPU.
//
// The blob is a version byte followed by fixed-size entries in time order:
//
//	index uint8    bucket start = span start + index × step
//	min, max, sum, last float64 (IEEE 754, big endian)
//	count uint64
//	last_ts int64  microseconds since the epoch
const (
	packedVersion = 1
	entrySize     = 1 + 4*8 + 8 + 8
)

// packing describes one packed table: its partition column and span, and the
// step of the buckets inside a span.
type packing struct {
	table     string // packed table
	source    string // table of one row per bucket that it is packed from
	partition string // "day" or "month"
	cluster   string // "hour" or "day"
	span      time.Duration
	step      time.Duration
}

var (
	minutesPacked = packing{table: "rollup_1m_packed", source: "rollup_1m", partition: "day", cluster: "hour", span: time.Hour, step: time.Minute}
	hoursPacked   = packing{table: "rollup_1h_packed", source: "rollup_1h", partition: "month", cluster: "day", span: 24 * time.Hour, step: time.Hour}
)

// partitionOf returns the partition key value of a span start.
func (p packing) partitionOf(t time.Time) time.Time {
	if p.partition == "month" {
		return month(t)
	}
	return day(t)
}

// spanOf returns the start of the span holding t.
func (p packing) spanOf(t time.Time) time.Time { return t.UTC().Truncate(p.span) }

var errPacked = errors.New("malformed packed rollups")

// pack encodes the buckets of the span starting at start; every bucket must
// lie inside it.
func (p packing) pack(start time.Time, buckets []storage.Bucket) ([]byte, error) {
	out := make([]byte, 1, 1+len(buckets)*entrySize)
	out[0] = packedVersion
	for _, b := range buckets {
		off := b.Time.Sub(start)
		if off < 0 || off >= p.span || off%p.step != 0 {
			return nil, fmt.Errorf("bucket %s is not a %v step of the span at %s", b.Time.UTC().Format(time.RFC3339), p.step, start.UTC().Format(time.RFC3339))
		}
		out = append(out, byte(off/p.step))
		for _, f := range []float64{b.Agg.Min, b.Agg.Max, b.Agg.Sum, b.Agg.Last} {
			out = binary.BigEndian.AppendUint64(out, math.Float64bits(f))
		}
		out = binary.BigEndian.AppendUint64(out, uint64(b.Agg.Count))
		out = binary.BigEndian.AppendUint64(out, uint64(b.Agg.LastTime.UnixMicro()))
	}
	return out, nil
}

// unpack appends to dst the buckets of a packed span that fall in [from, to).
func (p packing) unpack(dst []storage.Bucket, start time.Time, data []byte, from, to time.Time) ([]storage.Bucket, error) {
	if len(data) == 0 {
		return dst, nil
	}
	if data[0] != packedVersion {
		return dst, fmt.Errorf("%w: version %d, this vmmon reads %d", errPacked, data[0], packedVersion)
	}
	body := data[1:]
	if len(body)%entrySize != 0 {
		return dst, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte entries", errPacked, len(body), entrySize)
	}
	limit := int(p.span / p.step)
	prev := -1
	for ; len(body) > 0; body = body[entrySize:] {
		idx := int(body[0])
		if idx >= limit || idx <= prev {
			return dst, fmt.Errorf("%w: entry %d out of order or past the span", errPacked, idx)
		}
		prev = idx
		t := start.Add(time.Duration(idx) * p.step)
		if t.Before(from) || !t.Before(to) {
			continue
		}
		f := func(i int) float64 { return math.Float64frombits(binary.BigEndian.Uint64(body[1+i*8:])) }
		dst = append(dst, storage.Bucket{Time: t, Agg: storage.Agg{
			Min: f(0), Max: f(1), Sum: f(2), Last: f(3),
			Count:    int64(binary.BigEndian.Uint64(body[33:])),
			LastTime: time.UnixMicro(int64(binary.BigEndian.Uint64(body[41:]))).UTC(),
		}})
	}
	return dst, nil
}

// unpacker scans packed rows (span start, then blob) into buckets in
// [from, to), decoding each blob where the driver holds it, without a copy.
type unpacker struct {
	p        packing
	from, to time.Time
	at       time.Time // the span start scanned before the blob
	out      []storage.Bucket
}

// UnmarshalCQL implements gocql.Unmarshaler.
func (u *unpacker) UnmarshalCQL(_ gocql.TypeInfo, data []byte) error {
	var err error
	if u.out, err = u.p.unpack(u.out, u.at.UTC(), data, u.from, u.to); err != nil {
		return fmt.Errorf("%s at %s: %w", u.p.table, u.at.UTC().Format(time.RFC3339), err)
	}
	return nil
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
