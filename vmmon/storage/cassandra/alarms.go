package cassandra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Alarms: definitions by id with lookups by project, instance and shard;
// each state in a row of its own, written with a lightweight transaction
// on its version; history entries clustered newest first.

// PutAlarm creates or replaces an alarm's definition; a new alarm starts
// in insufficient_data.
func (s *Store) PutAlarm(ctx context.Context, a storage.Alarm) error {
	old, err := s.GetAlarm(ctx, a.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if err == nil && old.InstanceID != "" && old.InstanceID != a.InstanceID {
		if err := s.session.Query(`DELETE FROM `+s.t("alarms_by_instance")+` WHERE instance_id = ? AND id = ?`, old.InstanceID, a.ID).
			WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("alarm %s: %w", a.ID, err)
		}
	}
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	for _, stmt := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO ` + s.t("alarms_by_project") + ` (project_id, id) VALUES (?, ?)`, []any{a.ProjectID, a.ID}},
		{`INSERT INTO ` + s.t("alarms_by_shard") + ` (shard, id, data) VALUES (?, ?, ?)`, []any{storage.AlarmShard(a.ID), a.ID, string(data)}},
	} {
		if err := s.session.Query(stmt.q, stmt.args...).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("alarm %s: %w", a.ID, err)
		}
	}
	if a.InstanceID != "" {
		if err := s.session.Query(`INSERT INTO `+s.t("alarms_by_instance")+` (instance_id, id) VALUES (?, ?)`, a.InstanceID, a.ID).
			WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("alarm %s: %w", a.ID, err)
		}
	}
	st := storage.AlarmState{AlarmID: a.ID, State: storage.AlarmInsufficientData, Reason: "Not evaluated yet.", Time: a.CreatedAt, Version: 1}
	stData, _ := json.Marshal(st)
	if _, err := s.session.Query(`INSERT INTO `+s.t("alarm_states")+` (id, version, data) VALUES (?, 1, ?) IF NOT EXISTS`, a.ID, string(stData)).
		WithContext(ctx).MapScanCAS(map[string]any{}); err != nil {
		return fmt.Errorf("alarm %s state: %w", a.ID, err)
	}
	if err := s.putJSON(ctx, `INSERT INTO `+s.t("alarms")+` (id, data) VALUES (?, ?)`, a, a.ID); err != nil {
		return err
	}
	return s.markShardChanged(ctx, storage.AlarmShard(a.ID))
}

// markShardChanged gives a shard a new change mark.
func (s *Store) markShardChanged(ctx context.Context, shard int) error {
	mark := fmt.Sprintf("%d-%s-%08x", time.Now().UnixNano(), s.owner, rand.Uint32())
	if err := s.session.Query(`INSERT INTO `+s.t("alarm_shard_changes")+` (shard, mark) VALUES (?, ?)`, shard, mark).
		WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("marking alarm shard %d changed: %w", shard, err)
	}
	return nil
}

// AlarmShardChanges returns each shard's change mark.
func (s *Store) AlarmShardChanges(ctx context.Context) (map[int]string, error) {
	iter := s.session.Query(`SELECT shard, mark FROM ` + s.t("alarm_shard_changes")).WithContext(ctx).Iter()
	out := map[int]string{}
	var (
		shard int
		mark  string
	)
	for iter.Scan(&shard, &mark) {
		out[shard] = mark
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("reading alarm shard changes: %w", err)
	}
	return out, nil
}

// GetAlarm returns one alarm or ErrNotFound.
func (s *Store) GetAlarm(ctx context.Context, id string) (storage.Alarm, error) {
	var a storage.Alarm
	return a, s.getJSON(ctx, &a, `SELECT data FROM `+s.t("alarms")+` WHERE id = ?`, id)
}

// ids reads a column of ids from a lookup partition after marker.
func (s *Store) ids(ctx context.Context, table, key string, value any, marker string, limit int) ([]string, error) {
	q := `SELECT id FROM ` + s.t(table) + ` WHERE ` + key + ` = ? AND id > ?`
	args := []any{value, marker}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	iter := s.session.Query(q, args...).WithContext(ctx).PageSize(1000).Iter()
	var (
		out []string
		id  string
	)
	for iter.Scan(&id) {
		out = append(out, id)
	}
	return out, iter.Close()
}

// ListAlarms pages through alarms by id: a project's or an instance's from
// their lookup partition, every project's merged from the shards'.
func (s *Store) ListAlarms(ctx context.Context, q storage.AlarmQuery) ([]storage.Alarm, error) {
	out := []storage.Alarm{}
	marker := q.Marker
	for {
		var (
			ids []string
			err error
		)
		// Read more than asked: a lookup may name alarms the filter drops.
		n := q.Limit
		if n > 0 {
			n = max(n, 100)
		}
		switch {
		case q.InstanceID != "":
			ids, err = s.ids(ctx, "alarms_by_instance", "instance_id", q.InstanceID, marker, n)
		case q.ProjectID != "":
			ids, err = s.ids(ctx, "alarms_by_project", "project_id", q.ProjectID, marker, n)
		default:
			for shard := 0; shard < storage.AlarmShards && err == nil; shard++ {
				var part []string
				part, err = s.ids(ctx, "alarms_by_shard", "shard", shard, marker, n)
				ids = append(ids, part...)
			}
			sort.Strings(ids)
			if n > 0 && len(ids) > n {
				ids = ids[:n]
			}
		}
		if err != nil {
			return nil, fmt.Errorf("listing alarms: %w", err)
		}
		for _, id := range ids {
			a, err := s.GetAlarm(ctx, id)
			if errors.Is(err, storage.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, err
			}
			if q.Match(a) {
				out = append(out, a)
				if q.Limit > 0 && len(out) == q.Limit {
					return out, nil
				}
			}
		}
		if n <= 0 || len(ids) < n {
			return out, nil
		}
		marker = ids[len(ids)-1]
	}
}

// AlarmsOfShard lists the alarms of one shard: one partition's read.
func (s *Store) AlarmsOfShard(ctx context.Context, shard int) ([]storage.Alarm, error) {
	iter := s.session.Query(`SELECT data FROM `+s.t("alarms_by_shard")+` WHERE shard = ?`, shard).WithContext(ctx).PageSize(5000).Iter()
	out := []storage.Alarm{}
	var data string
	for iter.Scan(&data) {
		var a storage.Alarm
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			iter.Close()
			return nil, fmt.Errorf("alarms of shard %d: %w", shard, err)
		}
		out = append(out, a)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("alarms of shard %d: %w", shard, err)
	}
	return out, nil
}

// AlarmShardOwners returns the holder of each leased shard.
func (s *Store) AlarmShardOwners(ctx context.Context) (map[int]string, error) {
	iter := s.session.Query(`SELECT shard, owner FROM ` + s.t("alarm_leases")).WithContext(ctx).Iter()
	out := map[int]string{}
	var (
		shard int
		owner string
	)
	for iter.Scan(&shard, &owner) {
		out[shard] = owner
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("reading alarm shard leases: %w", err)
	}
	return out, nil
}

// DeleteAlarm forgets an alarm, its state and its history.
func (s *Store) DeleteAlarm(ctx context.Context, id string) error {
	a, err := s.GetAlarm(ctx, id)
	if err != nil {
		return fmt.Errorf("alarm %s: %w", id, err)
	}
	stmts := []struct {
		q    string
		args []any
	}{
		{`DELETE FROM ` + s.t("alarms") + ` WHERE id = ?`, []any{id}},
		{`DELETE FROM ` + s.t("alarm_states") + ` WHERE id = ?`, []any{id}},
		{`DELETE FROM ` + s.t("alarm_history") + ` WHERE alarm_id = ?`, []any{id}},
		{`DELETE FROM ` + s.t("alarms_by_project") + ` WHERE project_id = ? AND id = ?`, []any{a.ProjectID, id}},
		{`DELETE FROM ` + s.t("alarms_by_shard") + ` WHERE shard = ? AND id = ?`, []any{storage.AlarmShard(id), id}},
	}
	if a.InstanceID != "" {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{`DELETE FROM ` + s.t("alarms_by_instance") + ` WHERE instance_id = ? AND id = ?`, []any{a.InstanceID, id}})
	}
	for _, st := range stmts {
		if err := s.session.Query(st.q, st.args...).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("deleting alarm %s: %w", id, err)
		}
	}
	return s.markShardChanged(ctx, storage.AlarmShard(id))
}

// GetAlarmState returns an alarm's state or ErrNotFound.
func (s *Store) GetAlarmState(ctx context.Context, id string) (storage.AlarmState, error) {
	var st storage.AlarmState
	err := s.getJSON(ctx, &st, `SELECT data FROM `+s.t("alarm_states")+` WHERE id = ?`, id)
	return st, err
}

// SetAlarmState writes st with a lightweight transaction on the stored
// version, which must be st.Version-1.
func (s *Store) SetAlarmState(ctx context.Context, st storage.AlarmState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if _, err := s.GetAlarm(ctx, st.AlarmID); err != nil {
		return fmt.Errorf("alarm %s: %w", st.AlarmID, err)
	}
	var q *gocql.Query
	if st.Version <= 1 {
		q = s.session.Query(`INSERT INTO `+s.t("alarm_states")+` (id, version, data) VALUES (?, ?, ?) IF NOT EXISTS`,
			st.AlarmID, st.Version, string(data))
	} else {
		q = s.session.Query(`UPDATE `+s.t("alarm_states")+` SET version = ?, data = ? WHERE id = ? IF version = ?`,
			st.Version, string(data), st.AlarmID, st.Version-1)
	}
	applied, err := q.WithContext(ctx).MapScanCAS(map[string]any{})
	if err != nil {
		return fmt.Errorf("alarm %s state: %w", st.AlarmID, err)
	}
	if !applied {
		return fmt.Errorf("alarm %s state changed meanwhile: %w", st.AlarmID, storage.ErrConflict)
	}
	return nil
}

// AddAlarmHistory appends an entry to an alarm's history.
func (s *Store) AddAlarmHistory(ctx context.Context, h storage.AlarmHistory) error {
	return s.putJSON(ctx, `INSERT INTO `+s.t("alarm_history")+` (alarm_id, id, data) VALUES (?, ?, ?)`, h, h.AlarmID, h.ID)
}

// AlarmHistory lists an alarm's history, newest first, below the marker.
func (s *Store) AlarmHistory(ctx context.Context, alarmID string, limit int, marker string) ([]storage.AlarmHistory, error) {
	q := `SELECT data FROM ` + s.t("alarm_history") + ` WHERE alarm_id = ?`
	args := []any{alarmID}
	if marker != "" {
		q += ` AND id < ?`
		args = append(args, marker)
	}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	iter := s.session.Query(q, args...).WithContext(ctx).PageSize(1000).Iter()
	out := []storage.AlarmHistory{}
	var data string
	for iter.Scan(&data) {
		var h storage.AlarmHistory
		if err := json.Unmarshal([]byte(data), &h); err != nil {
			iter.Close()
			return nil, err
		}
		out = append(out, h)
	}
	return out, iter.Close()
}

// LeaseAlarmShard renews owner's lease of a shard, or takes it if free: a
// lightweight transaction with a TTL, so that the lease of a collector
// that died expires.
func (s *Store) LeaseAlarmShard(ctx context.Context, shard int, owner string, ttl time.Duration) (bool, error) {
	secs := max(1, int(ttl.Seconds()))
	renewed, err := s.session.Query(`UPDATE `+s.t("alarm_leases")+` USING TTL ? SET owner = ? WHERE shard = ? IF owner = ?`,
		secs, owner, shard, owner).WithContext(ctx).SerialConsistency(gocql.LocalSerial).MapScanCAS(map[string]any{})
	if err != nil {
		return false, fmt.Errorf("renewing the lease of alarm shard %d: %w", shard, err)
	}
	if renewed {
		return true, nil
	}
	taken, err := s.session.Query(`INSERT INTO `+s.t("alarm_leases")+` (shard, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ?`,
		shard, owner, secs).WithContext(ctx).SerialConsistency(gocql.LocalSerial).MapScanCAS(map[string]any{})
	if err != nil {
		return false, fmt.Errorf("leasing alarm shard %d: %w", shard, err)
	}
	return taken, nil
}

// ReleaseAlarmShard gives the lease back, if owner still holds it.
func (s *Store) ReleaseAlarmShard(ctx context.Context, shard int, owner string) error {
	_, err := s.session.Query(`DELETE FROM `+s.t("alarm_leases")+` WHERE shard = ? IF owner = ?`, shard, owner).
		WithContext(ctx).SerialConsistency(gocql.LocalSerial).MapScanCAS(map[string]any{})
	if err != nil {
		return fmt.Errorf("releasing alarm shard %d: %w", shard, err)
	}
	return nil
}
