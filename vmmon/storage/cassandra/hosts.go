package cassandra

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// PutHeartbeat stores a heartbeat; the heartbeat's time is the write time,
// so the newest wins whatever the order of arrival. The host's clock skew
// is kept in the heartbeat column (see withSkew): no schema change.
func (s *Store) PutHeartbeat(ctx context.Context, h storage.Host) error {
	return s.session.Query(`UPDATE `+s.t("hosts")+` USING TIMESTAMP ? SET last_heartbeat = ?, interval = ?, heartbeat = ? WHERE name = ?`,
		micros(h.LastHeartbeat), h.LastHeartbeat.UTC(), h.Interval, withSkew(h.Heartbeat, h.ClockSkew), h.Name).WithContext(ctx).Exec()
}

// skewMember opens the heartbeat column of a host whose clock skew is not 0:
// the skew is spliced in as the first member of the heartbeat's JSON object
// (an older vmmon reading it sees one more member of the heartbeat), and
// taken out again when read.
const skewMember = `{"vmmon_clock_skew_s":`

// withSkew returns the heartbeat column's text for a heartbeat (a JSON
// object, or empty) and a clock skew.
func withSkew(heartbeat string, skew float64) string {
	if skew == 0 || math.IsNaN(skew) || math.IsInf(skew, 0) {
		return heartbeat
	}
	num := strconv.FormatFloat(skew, 'g', -1, 64)
	rest, ok := strings.CutPrefix(strings.TrimSpace(heartbeat), "{")
	switch {
	case heartbeat == "":
		return skewMember + num + "}"
	case !ok: // not an object: nowhere to keep the skew
		return heartbeat
	case strings.HasPrefix(strings.TrimSpace(rest), "}"): // {}
		return skewMember + num + "}"
	}
	return skewMember + num + "," + rest
}

// splitSkew undoes withSkew.
func splitSkew(text string) (heartbeat string, skew float64) {
	rest, ok := strings.CutPrefix(text, skewMember)
	if !ok {
		return text, 0
	}
	end := strings.IndexAny(rest, ",}")
	if end < 0 {
		return text, 0
	}
	v, err := strconv.ParseFloat(rest[:end], 64)
	if err != nil {
		return text, 0
	}
	if rest[end] == '}' {
		return "", v
	}
	return "{" + rest[end+1:], v
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
	h.Heartbeat, h.ClockSkew = splitSkew(deref(hb))
	h.Stream = deref(s)
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
