package cassandra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

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
	// A deleted instance is forgotten, rows and lookups, once its data has
	// expired: after the longest retention (0: never).
	ttl := 0
	if inst.Deleted {
		ttl = int(s.cfg.Retention.Longest().Seconds())
	}
	b := s.session.NewBatch(gocql.LoggedBatch).WithContext(ctx)
	b.Query(`INSERT INTO `+s.t("instances")+` (id, data, updated_at) VALUES (?, ?, ?) USING TIMESTAMP ? AND TTL ?`, inst.ID, string(data), inst.UpdatedAt, ts, ttl)
	if inst.ProjectID != "" {
		b.Query(`INSERT INTO `+s.t("instances_by_project")+` (project_id, id) VALUES (?, ?) USING TIMESTAMP ? AND TTL ?`, inst.ProjectID, inst.ID, ts, ttl)
	}
	if inst.Host != "" {
		b.Query(`INSERT INTO `+s.t("instances_by_host")+` (host, id) VALUES (?, ?) USING TIMESTAMP ? AND TTL ?`, inst.Host, inst.ID, ts, ttl)
	}
	b.Query(`INSERT INTO `+s.t("instances_by_shard")+` (shard, id, data) VALUES (?, ?, ?) USING TIMESTAMP ? AND TTL ?`, shardOf(inst.ID), inst.ID, string(data), ts, ttl)
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
			if q.Match(inst) && len(out) < limit {
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
	data, err := s.dataByID(ctx, ids)
	if err != nil {
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

// dataByID reads the data of instances from their shards' rows, a query per
// shard (of at most 500 ids), all at once.
func (s *Store) dataByID(ctx context.Context, ids []string) (map[string]string, error) {
	byShard := map[int][]string{}
	for _, id := range ids {
		byShard[shardOf(id)] = append(byShard[shardOf(id)], id)
	}
	var (
		mu   sync.Mutex
		data = make(map[string]string, len(ids))
		fns  []func(context.Context) error
	)
	for shard, all := range byShard {
		for i := 0; i < len(all); i += 500 {
			group := all[i:min(i+500, len(all))]
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
	}
	if err := runAll(ctx, Shards, fns); err != nil {
		return nil, err
	}
	return data, nil
}

// instancesByID returns the instances of ids that are stored.
func (s *Store) instancesByID(ctx context.Context, ids []string) (map[string]storage.Instance, error) {
	data, err := s.dataByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]storage.Instance, len(data))
	for id, d := range data {
		if d == "" {
			continue
		}
		var inst storage.Instance
		if err := json.Unmarshal([]byte(d), &inst); err != nil {
			return nil, fmt.Errorf("instance %s: %w", id, err)
		}
		out[id] = inst
	}
	return out, nil
}
