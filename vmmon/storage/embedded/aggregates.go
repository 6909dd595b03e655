package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Fleet views (see storage.AggregateQuery). Each series' minute rollup is
// written, in the same transaction as the points it summarises, as a member
// of its project's and its host's groups: group_members keys are
// group \0 metric \0 minute (8 bytes) member-id, values the rollup
// (storage.AppendAgg) and the member's host (in a project's group) or
// project (in a host's). groups keys are metric \0 group, values the group's
// latest minute and when it was written (nanoseconds, 8 bytes each). Every
// query folds the members on read.

// Groups are named by kind and name, as in the Cassandra driver.
const (
	hostGroup    = "host:"
	projectGroup = "project:"
)

func membersPrefix(grp, metric string) []byte { return []byte(grp + "\x00" + metric + "\x00") }

// putMember writes a member's minute into both its groups.
func putMember(tx *bolt.Tx, metric string, m storage.Member, now time.Time) error {
	for _, g := range []struct{ grp, other string }{{projectGroup + m.ProjectID, m.Host}, {hostGroup + m.Host, m.ProjectID}} {
		if g.grp == projectGroup || g.grp == hostGroup {
			continue
		}
		k := append(timeKey(membersPrefix(g.grp, metric), m.Minute), m.ID()...)
		if err := tx.Bucket(bMembers).Put(k, append(storage.AppendAgg(nil, m.Agg), g.other...)); err != nil {
			return err
		}
		gk := []byte(metric + "\x00" + g.grp)
		latest, _ := groupLatest(tx.Bucket(bGroups).Get(gk))
		if !m.Minute.Before(latest) {
			v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(m.Minute.UnixNano())), uint64(now.UnixNano()))
			if err := tx.Bucket(bGroups).Put(gk, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// groupLatest decodes a groups value: the latest minute and when it was
// written.
func groupLatest(v []byte) (minute, written time.Time) {
	if len(v) < 16 {
		return time.Time{}, time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))).UTC()
}

// readMembers returns a group's members in [start, end); n counts them over
// a query, which fails past limit (0: no limit).
func readMembers(tx *bolt.Tx, grp, metric string, start, end time.Time, n *int, limit int) ([]storage.Member, error) {
	prefix := membersPrefix(grp, metric)
	from, to := timeKey(prefix, start), timeKey(prefix, end)
	var out []storage.Member
	c := tx.Bucket(bMembers).Cursor()
	for k, v := c.Seek(from); k != nil && bytes.Compare(k, to) < 0; k, v = c.Next() {
		if *n++; limit > 0 {
			if err := storage.CheckMemberMinutes(*n); err != nil {
				return nil, err
			}
		}
		agg, err := storage.ReadAgg(v)
		if err != nil {
			return nil, err
		}
		minute := time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefix):]))).UTC()
		inst, device, _ := strings.Cut(string(k[len(prefix)+8:]), "\x00")
		m := storage.Member{InstanceID: inst, Device: device, Minute: minute, Agg: agg}
		other := string(v[storage.AggSize:])
		if name, ok := strings.CutPrefix(grp, hostGroup); ok {
			m.Host, m.ProjectID = name, other
		} else {
			m.ProjectID, m.Host = strings.TrimPrefix(grp, projectGroup), other
		}
		out = append(out, m)
	}
	return out, nil
}

// scopeGroups returns the groups a query reads: the project or host it
// filters on, else every group of the kind it groups by (projects when
// grouping by instance).
func scopeGroups(tx *bolt.Tx, q storage.AggregateQuery) []string {
	switch {
	case q.ProjectID != "":
		return []string{projectGroup + q.ProjectID}
	case q.Host != "":
		return []string{hostGroup + q.Host}
	}
	kind := projectGroup
	if q.GroupBy == storage.GroupByHost {
		kind = hostGroup
	}
	var out []string
	prefix := []byte(q.Metric + "\x00" + kind)
	c := tx.Bucket(bGroups).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(q.Metric)+1:]))
	}
	return out
}

// Aggregates answers a fleet view by folding the members of the groups in
// its scope: each group's latest minute written within
// storage.LatestWindow, or every minute of the window.
func (s *Store) Aggregates(ctx context.Context, q storage.AggregateQuery) ([]storage.Aggregate, error) {
	if q.Now.IsZero() {
		q.Now = s.now()
	}
	if _, err := q.Validate(); err != nil {
		return nil, err
	}
	var (
		members []storage.Member
		unit    string
		insts   = map[string]storage.Instance{}
	)
	load := func(ids []string) (map[string]storage.Instance, error) { return insts, nil }
	err := s.db.View(func(tx *bolt.Tx) error {
		unit = string(tx.Bucket(bUnits).Get([]byte(q.Metric)))
		// Grouped by host or project alone, a window is the groups' own:
		// as in the Cassandra driver, it is not bounded.
		limit := storage.MaxMemberMinutes
		if !q.Latest() && q.State == "" && q.Flavor == "" &&
			((q.GroupBy == storage.GroupByHost && q.ProjectID == "") || (q.GroupBy == storage.GroupByProject && q.Host == "")) {
			limit = 0
		}
		n := 0
		for _, grp := range scopeGroups(tx, q) {
			start, end := q.Start.Truncate(time.Minute), q.End
			if q.Granularity > 0 {
				start = q.Start.Truncate(q.Granularity)
			}
			if q.Latest() {
				minute, written := groupLatest(tx.Bucket(bGroups).Get([]byte(q.Metric + "\x00" + grp)))
				if written.Before(q.Now.Add(-storage.LatestWindow)) {
					continue
				}
				start, end = minute, minute.Add(time.Minute)
			}
			ms, err := readMembers(tx, grp, q.Metric, start, end, &n, limit)
			if err != nil {
				return err
			}
			for _, m := range ms {
				if (q.ProjectID == "" || m.ProjectID == q.ProjectID) && (q.Host == "" || m.Host == q.Host) {
					members = append(members, m)
				}
			}
		}
		b := tx.Bucket(bInstances)
		for _, m := range members {
			if _, ok := insts[m.InstanceID]; ok {
				continue
			}
			var inst storage.Instance
			if err := getJSON(b, m.InstanceID, &inst); err == nil {
				insts[m.InstanceID] = inst
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	if members, err = q.FilterMembers(members, load); err != nil {
		return nil, err
	}
	all := q.Fold(members)
	for i := range all {
		all[i].Unit = unit
	}
	if q.GroupBy == storage.GroupByInstance {
		return q.PageInstances(all, load)
	}
	return q.Page(all)
}

// pruneGroups forgets members and groups past the minute rollups'
// retention.
func (s *Store) pruneGroups(tx *bolt.Tx, now time.Time) error {
	if s.retention.Minute <= 0 {
		return nil
	}
	cutoff := now.Add(-s.retention.Minute)
	c := tx.Bucket(bMembers).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		// group \0 metric \0, then the minute.
		i := bytes.IndexByte(k, 0)
		j := i + 1 + bytes.IndexByte(k[i+1:], 0)
		if i < 0 || j <= i || len(k) < j+9 {
			continue
		}
		if time.Unix(0, int64(binary.BigEndian.Uint64(k[j+1:]))).Before(cutoff) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	g := tx.Bucket(bGroups).Cursor()
	for k, v := g.First(); k != nil; k, v = g.Next() {
		if minute, _ := groupLatest(v); minute.Before(cutoff) {
			if err := g.Delete(); err != nil {
				return err
			}
		}
	}
	return nil
}

// purgeDeleted forgets instances deleted longer ago than the longest
// retention (their data is gone).
func (s *Store) purgeDeleted(tx *bolt.Tx, now time.Time) error {
	keep := s.retention.Longest()
	if keep <= 0 {
		return nil
	}
	c := tx.Bucket(bInstances).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var inst storage.Instance
		if json.Unmarshal(v, &inst) != nil || !inst.Deleted {
			continue
		}
		at := inst.UpdatedAt
		if inst.DeletedAt != nil {
			at = *inst.DeletedAt
		}
		if at.Before(now.Add(-keep)) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	return nil
}
