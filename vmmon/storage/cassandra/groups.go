package cassandra

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Fleet views (see storage.AggregateQuery). When a series' minute is rolled
// up, the rollup is also written as a member of its project's and its host's
// groups (group_members, one row per member and minute, so that recomputing
// it replaces it), and the groups' minutes are marked pending in the same
// backlog as series. Once the minute's members have had time to arrive
// (GroupSettle), a group's minute is folded from them: into the three
// series a group keeps (rollup rows of the series "host:<name>" or
// "project:<id>", devices points, sums and means, packed like an
// instance's), and into group_latest, the folded members of the group's
// latest minutes, which latest values and top-N read in one row per group.

// GroupSettle is how long after a minute's bucket closes its groups wait for
// the rollups of their members before they are folded; a member rolled up
// later folds its groups again.
const GroupSettle = time.Minute

// Group series are named by kind and name.
const (
	hostGroup    = "host:"
	projectGroup = "project:"
)

// The devices of a group's three series.
const (
	formPoints = "points"
	formSums   = "sums"
	formMeans  = "means"
)

func isGroupSeries(series string) bool {
	return strings.HasPrefix(series, hostGroup) || strings.HasPrefix(series, projectGroup)
}

// groupReady reports whether a group's minute bucket may be folded at now.
func (s *Store) groupReady(bucket, now time.Time) bool {
	return !now.Before(bucket.Add(time.Minute + Grace + GroupSettle))
}

// rolledUp returns the series whose hours a mark's minute changes.
func rolledUp(mark string) []string {
	inst, metric, device := splitSeries(mark)
	if isGroupSeries(mark) {
		return []string{seriesID(inst, metric, formPoints), seriesID(inst, metric, formSums), seriesID(inst, metric, formMeans)}
	}
	return []string{seriesID(inst, metric, device)}
}

// memberRow is a series' minute as a member of one group; other is the
// member's project in a host's group, its host in a project's. Its cell
// holds the rollup (storage.AppendAgg) followed by other.
type memberRow struct {
	grp, metric, other string
	m                  storage.Member
	read               time.Time
}

// memberRows collects the members of the minutes rolled up at once.
type memberRows struct {
	mu   sync.Mutex
	rows []memberRow
}

func (r *memberRows) add(m storage.Member, metric string, read time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.ProjectID != "" {
		r.rows = append(r.rows, memberRow{grp: projectGroup + m.ProjectID, metric: metric, other: m.Host, m: m, read: read})
	}
	if m.Host != "" {
		r.rows = append(r.rows, memberRow{grp: hostGroup + m.Host, metric: metric, other: m.ProjectID, m: m, read: read})
	}
}

// groupMarks returns the group minutes the rows belong to.
func (r *memberRows) groupMarks() map[bucketKey]time.Time {
	out := map[bucketKey]time.Time{}
	for _, row := range r.rows {
		out[keyOf(seriesID(row.grp, row.metric, ""), row.m.Minute)] = row.m.Minute
	}
	return out
}

// writeMembers writes members, each with the time its rollup's source was
// read as write time, in unlogged batches sorted by partition: Cassandra
// applies a batch's rows of one partition as one mutation.
func (s *Store) writeMembers(ctx context.Context, rows []memberRow) error {
	sort.Slice(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		if a.grp != b.grp {
			return a.grp < b.grp
		}
		if a.metric != b.metric {
			return a.metric < b.metric
		}
		return a.m.Minute.Before(b.m.Minute)
	})
	var fns []func(context.Context) error
	for i := 0; i < len(rows); i += batchSize {
		chunk := rows[i:min(i+batchSize, len(rows))]
		fns = append(fns, func(ctx context.Context) error {
			b := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
			for _, r := range chunk {
				// One cell a member (an update writes no row marker).
				b.Query(`UPDATE `+s.t("group_members")+` USING TIMESTAMP ? SET v = ? WHERE grp = ? AND metric = ? AND day = ? AND ts = ? AND member = ?`,
					micros(r.read), append(storage.AppendAgg(nil, r.m.Agg), r.other...), r.grp, r.metric, day(r.m.Minute), r.m.Minute, r.m.ID())
			}
			if err := s.session.ExecuteBatch(b); err != nil {
				return fmt.Errorf("writing group members: %w", err)
			}
			return nil
		})
	}
	return runAll(ctx, 16, fns)
}

// member completes a member read from a group's row: the group names its
// project or host, other the one it does not.
func member(grp, id, other string, minute time.Time, agg storage.Agg) storage.Member {
	inst, device, _ := strings.Cut(id, "\x00")
	m := storage.Member{InstanceID: inst, Device: device, Minute: minute.UTC(), Agg: agg}
	if name, ok := strings.CutPrefix(grp, hostGroup); ok {
		m.Host, m.ProjectID = name, other
	} else {
		m.ProjectID, m.Host = strings.TrimPrefix(grp, projectGroup), other
	}
	return m
}

// readMembers returns a group's members in [start, end), in time then
// member order; read counts the rows read over every call of a query, which
// fails past storage.MaxMemberMinutes.
func (s *Store) readMembers(ctx context.Context, grp, metric string, start, end time.Time, read *atomic.Int64) ([]storage.Member, error) {
	return perPartition(ctx, partitions(start, end, false), func(ctx context.Context, d time.Time) ([]storage.Member, error) {
		iter := s.session.Query(`SELECT ts, member, v FROM `+s.t("group_members")+` WHERE grp = ? AND metric = ? AND day = ? AND ts >= ? AND ts < ?`,
			grp, metric, d, start, end).WithContext(ctx).PageSize(5000).Iter()
		var (
			out []storage.Member
			ts  time.Time
			id  string
			v   []byte
		)
		for iter.Scan(&ts, &id, &v) {
			if err := storage.CheckMemberMinutes(int(read.Add(1))); err != nil {
				_ = iter.Close()
				return nil, err
			}
			agg, err := storage.ReadAgg(v)
			if err != nil {
				_ = iter.Close()
				return nil, fmt.Errorf("group %s member %q: %w", grp, id, err)
			}
			out = append(out, member(grp, id, string(v[storage.AggSize:]), ts, agg))
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("reading the members of group %s: %w", grp, err)
		}
		return out, nil
	})
}

// foldGroup folds a group's minute from its members: its three series'
// minute rollups, its latest members and its name, with the time the members
// were read as write time (a later fold, which saw more, wins).
func (s *Store) foldGroup(ctx context.Context, series string, b time.Time) error {
	grp, metric, _ := splitSeries(series)
	read := s.now()
	members, err := s.readMembers(ctx, grp, metric, b, b.Add(time.Minute), &atomic.Int64{})
	if err != nil || len(members) == 0 {
		return err
	}
	g := storage.FoldMinute(b, members)
	kind, name, _ := strings.Cut(grp, ":")
	batch := s.session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
	for form, a := range map[string]storage.Agg{formPoints: g.Points, formSums: g.Sums, formMeans: g.Means} {
		batch.Query(`INSERT INTO `+s.t("rollup_1m")+` (instance_id, metric, device, day, ts, min, max, sum, count, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
			grp, metric, form, day(b), b, a.Min, a.Max, a.Sum, a.Count, a.Last, a.LastTime, micros(read))
	}
	batch.Query(`INSERT INTO `+s.t("group_names")+` (kind, metric, name) VALUES (?, ?, ?)`, kind, metric, name)
	// The latest members on their own: a large group's are more than a
	// batch may hold.
	return runAll(ctx, 2, []func(context.Context) error{
		func(context.Context) error {
			if err := s.session.ExecuteBatch(batch); err != nil {
				return fmt.Errorf("folding group %s: %w", grp, err)
			}
			return nil
		},
		func(ctx context.Context) error {
			if err := s.session.Query(`INSERT INTO `+s.t("group_latest")+` (grp, metric, minute, v) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`,
				grp, metric, b, encodeMembers(grp, members), micros(read)).WithContext(ctx).Exec(); err != nil {
				return fmt.Errorf("writing the latest members of group %s: %w", grp, err)
			}
			return nil
		},
	})
}

// encodeMembers packs a minute's members (id, other, rollup) into a blob:
// for each, the lengths of its id and other as uvarints, then them, then
// the rollup (storage.AppendAgg).
func encodeMembers(grp string, members []storage.Member) []byte {
	var out []byte
	for _, m := range members {
		id, other := m.ID(), m.Host
		if strings.HasPrefix(grp, hostGroup) {
			other = m.ProjectID
		}
		out = binary.AppendUvarint(out, uint64(len(id)))
		out = binary.AppendUvarint(out, uint64(len(other)))
		out = append(out, id...)
		out = append(out, other...)
		out = storage.AppendAgg(out, m.Agg)
	}
	return out
}

var errMembers = errors.New("malformed group members")

// decodeMembers undoes encodeMembers for a group's minute, appending to out.
func decodeMembers(out []storage.Member, grp string, minute time.Time, blob []byte) ([]storage.Member, error) {
	for len(blob) > 0 {
		idLen, n1 := binary.Uvarint(blob)
		otherLen, n2 := binary.Uvarint(blob[max(n1, 0):])
		if n1 <= 0 || n2 <= 0 {
			return nil, errMembers
		}
		blob = blob[n1+n2:]
		if uint64(len(blob)) < idLen+otherLen+storage.AggSize {
			return nil, errMembers
		}
		id, other := string(blob[:idLen]), string(blob[idLen:idLen+otherLen])
		agg, err := storage.ReadAgg(blob[idLen+otherLen:])
		if err != nil {
			return nil, err
		}
		out = append(out, member(grp, id, other, minute, agg))
		blob = blob[idLen+otherLen+storage.AggSize:]
	}
	return out, nil
}
