package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Alarms live in three buckets: definitions by id, states by id, and
// history entries under alarm id + NUL + entry id (ids sort by time).
var (
	bAlarms       = []byte("alarms")
	bAlarmStates  = []byte("alarm_states")
	bAlarmHistory = []byte("alarm_history")
)

// PutAlarm creates or replaces an alarm's definition; a new alarm starts
// in insufficient_data.
func (s *Store) PutAlarm(ctx context.Context, a storage.Alarm) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bAlarmStates).Get([]byte(a.ID)) == nil {
			st := storage.AlarmState{AlarmID: a.ID, State: storage.AlarmInsufficientData, Reason: "Not evaluated yet.",
				Time: a.CreatedAt, Version: 1}
			if err := putJSON(tx.Bucket(bAlarmStates), a.ID, st); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bAlarms), a.ID, a)
	})
	if err == nil {
		s.markShardChanged(storage.AlarmShard(a.ID))
	}
	return err
}

// markShardChanged gives a shard a new change mark (in memory: one
// process holds an embedded store).
func (s *Store) markShardChanged(shard int) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.changes == nil {
		s.changes = map[int]string{}
	}
	s.changeSeq++
	s.changes[shard] = fmt.Sprint(s.changeSeq)
}

// AlarmShardChanges returns each shard's change mark.
func (s *Store) AlarmShardChanges(ctx context.Context) (map[int]string, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	out := make(map[int]string, len(s.changes))
	for k, v := range s.changes {
		out[k] = v
	}
	return out, nil
}

// GetAlarm returns one alarm or ErrNotFound.
func (s *Store) GetAlarm(ctx context.Context, id string) (storage.Alarm, error) {
	var a storage.Alarm
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bAlarms), id, &a) })
	return a, err
}

// ListAlarms pages through alarms by id.
func (s *Store) ListAlarms(ctx context.Context, q storage.AlarmQuery) ([]storage.Alarm, error) {
	return listJSON(s.db, bAlarms, q.Marker, q.Limit, q.Match)
}

// AlarmsOfShard lists the alarms of one shard.
func (s *Store) AlarmsOfShard(ctx context.Context, shard int) ([]storage.Alarm, error) {
	out := []storage.Alarm{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bAlarms).ForEach(func(k, v []byte) error {
			if storage.AlarmShard(string(k)) != shard {
				return nil
			}
			var a storage.Alarm
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}

// DeleteAlarm forgets an alarm, its state and its history.
func (s *Store) DeleteAlarm(ctx context.Context, id string) error {
	defer s.markShardChanged(storage.AlarmShard(id))
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bAlarms).Get([]byte(id)) == nil {
			return fmt.Errorf("alarm %s: %w", id, storage.ErrNotFound)
		}
		if err := tx.Bucket(bAlarms).Delete([]byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bAlarmStates).Delete([]byte(id)); err != nil {
			return err
		}
		h := tx.Bucket(bAlarmHistory)
		prefix := []byte(id + "\x00")
		var keys [][]byte
		c := h.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			if err := h.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetAlarmState returns an alarm's state or ErrNotFound.
func (s *Store) GetAlarmState(ctx context.Context, id string) (storage.AlarmState, error) {
	var st storage.AlarmState
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bAlarmStates), id, &st) })
	return st, err
}

// SetAlarmState writes st if the stored version is st.Version-1, under
// bolt's single writer lock.
func (s *Store) SetAlarmState(ctx context.Context, st storage.AlarmState) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bAlarms).Get([]byte(st.AlarmID)) == nil {
			return fmt.Errorf("alarm %s: %w", st.AlarmID, storage.ErrNotFound)
		}
		var have storage.AlarmState
		b := tx.Bucket(bAlarmStates)
		if err := getJSON(b, st.AlarmID, &have); err != nil && err != storage.ErrNotFound {
			return err
		}
		if have.Version != st.Version-1 {
			return fmt.Errorf("alarm %s state version %d, not %d: %w", st.AlarmID, have.Version, st.Version-1, storage.ErrConflict)
		}
		return putJSON(b, st.AlarmID, st)
	})
}

// AddAlarmHistory appends an entry to an alarm's history (idempotent on
// the entry's id).
func (s *Store) AddAlarmHistory(ctx context.Context, h storage.AlarmHistory) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bAlarmHistory), h.AlarmID+"\x00"+h.ID, h)
	})
}

// AlarmHistory lists an alarm's history, newest first, below the marker.
func (s *Store) AlarmHistory(ctx context.Context, alarmID string, limit int, marker string) ([]storage.AlarmHistory, error) {
	out := []storage.AlarmHistory{}
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(alarmID + "\x00")
		c := tx.Bucket(bAlarmHistory).Cursor()
		// Start after the last key of the prefix, or at the marker.
		var k, v []byte
		if marker != "" {
			k, v = c.Seek(append(append([]byte(nil), prefix...), marker...))
			if k == nil {
				k, v = c.Last()
			}
			if k != nil && (!bytes.HasPrefix(k, prefix) || string(k[len(prefix):]) >= marker) {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Seek(append(append([]byte(nil), prefix[:len(prefix)-1]...), 1))
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var h storage.AlarmHistory
			if err := json.Unmarshal(v, &h); err != nil {
				return err
			}
			out = append(out, h)
		}
		return nil
	})
	return out, err
}

// lease is a shard's holder until when; an embedded store is one
// process's, so leases live in memory.
type lease struct {
	owner string
	until time.Time
}

// LeaseAlarmShard renews owner's lease of a shard, or takes it if free.
func (s *Store) LeaseAlarmShard(ctx context.Context, shard int, owner string, ttl time.Duration) (bool, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.leases == nil {
		s.leases = map[int]lease{}
	}
	now := s.now()
	if l, ok := s.leases[shard]; ok && l.owner != owner && now.Before(l.until) {
		return false, nil
	}
	s.leases[shard] = lease{owner: owner, until: now.Add(ttl)}
	return true, nil
}

// ReleaseAlarmShard gives the lease back, if owner still holds it.
func (s *Store) ReleaseAlarmShard(ctx context.Context, shard int, owner string) error {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if l, ok := s.leases[shard]; ok && l.owner == owner {
		delete(s.leases, shard)
	}
	return nil
}

// AlarmShardOwners returns the holder of each leased shard.
func (s *Store) AlarmShardOwners(ctx context.Context) (map[int]string, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	out := map[int]string{}
	now := s.now()
	for shard, l := range s.leases {
		if now.Before(l.until) {
			out[shard] = l.owner
		}
	}
	return out, nil
}
