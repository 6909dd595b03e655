package cassandra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

func (s *Store) putJSON(ctx context.Context, stmt string, v any, args ...any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.session.Query(stmt, append(args, string(data))...).WithContext(ctx).Exec()
}

func (s *Store) getJSON(ctx context.Context, dst any, stmt string, args ...any) error {
	var data string
	err := s.session.Query(stmt, args...).WithContext(ctx).Scan(&data)
	if errors.Is(err, gocql.ErrNotFound) {
		return storage.ErrNotFound
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(data), dst)
}

// PutAction stores a new action, or returns the one its idempotency key named.
func (s *Store) PutAction(ctx context.Context, a storage.Action) (storage.Action, error) {
	if a.IdempotencyKey != "" {
		existing := map[string]any{}
		applied, err := s.session.Query(`INSERT INTO `+s.t("actions_by_key")+` (key, instance_id, id) VALUES (?, ?, ?) IF NOT EXISTS USING TTL ?`,
			a.IdempotencyKey, a.InstanceID, a.ID, int(storage.IdempotencyTTL.Seconds())).WithContext(ctx).MapScanCAS(existing)
		if err != nil {
			return a, fmt.Errorf("recording the idempotency key: %w", err)
		}
		if !applied {
			inst, _ := existing["instance_id"].(string)
			id, _ := existing["id"].(string)
			stored, err := s.GetAction(ctx, inst, id)
			if err != nil {
				return stored, err
			}
			return stored, storage.ErrConflict
		}
	}
	return a, s.writeAction(ctx, a)
}

func (s *Store) writeAction(ctx context.Context, a storage.Action) error {
	if a.RequestID != "" {
		if err := s.session.Query(`INSERT INTO `+s.t("actions_by_request")+` (request_id, instance_id, id) VALUES (?, ?, ?)`,
			a.RequestID, a.InstanceID, a.ID).WithContext(ctx).Exec(); err != nil {
			return err
		}
	}
	return s.putJSON(ctx, `INSERT INTO `+s.t("actions")+` (instance_id, id, data) VALUES (?, ?, ?)`, a, a.InstanceID, a.ID)
}

// UpdateAction overwrites an existing action.
func (s *Store) UpdateAction(ctx context.Context, a storage.Action) error {
	if _, err := s.GetAction(ctx, a.InstanceID, a.ID); err != nil {
		return fmt.Errorf("action %s: %w", a.ID, err)
	}
	return s.writeAction(ctx, a)
}

// SetNovaRequestID records Nova's request id, keeping the status a
// notification may have set meanwhile (a lightweight transaction on the
// stored document).
func (s *Store) SetNovaRequestID(ctx context.Context, instanceID, id, novaRequestID string) error {
	for attempt := 0; attempt < 5; attempt++ {
		var data string
		if err := s.session.Query(`SELECT data FROM `+s.t("actions")+` WHERE instance_id = ? AND id = ?`, instanceID, id).
			WithContext(ctx).Scan(&data); err != nil {
			if errors.Is(err, gocql.ErrNotFound) {
				return storage.ErrNotFound
			}
			return err
		}
		var a storage.Action
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			return err
		}
		a.NovaRequestID = novaRequestID
		updated, _ := json.Marshal(a)
		applied, err := s.session.Query(`UPDATE `+s.t("actions")+` SET data = ? WHERE instance_id = ? AND id = ? IF data = ?`,
			string(updated), instanceID, id, data).WithContext(ctx).MapScanCAS(map[string]any{})
		if err != nil {
			return err
		}
		if applied {
			return nil
		}
	}
	return fmt.Errorf("action %s changed too often to record Nova's request id", id)
}

// GetAction returns one action of an instance.
func (s *Store) GetAction(ctx context.Context, instanceID, id string) (storage.Action, error) {
	var a storage.Action
	return a, s.getJSON(ctx, &a, `SELECT data FROM `+s.t("actions")+` WHERE instance_id = ? AND id = ?`, instanceID, id)
}

// ListActions returns an instance's actions, oldest first.
func (s *Store) ListActions(ctx context.Context, instanceID string) ([]storage.Action, error) {
	iter := s.session.Query(`SELECT data FROM `+s.t("actions")+` WHERE instance_id = ?`, instanceID).WithContext(ctx).Iter()
	out := []storage.Action{}
	var data string
	for iter.Scan(&data) {
		var a storage.Action
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			iter.Close()
			return nil, err
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, iter.Close()
}

// ActionByRequestID finds the action Nova's request id belongs to.
func (s *Store) ActionByRequestID(ctx context.Context, requestID string) (storage.Action, error) {
	var inst, id string
	err := s.session.Query(`SELECT instance_id, id FROM `+s.t("actions_by_request")+` WHERE request_id = ?`, requestID).
		WithContext(ctx).Scan(&inst, &id)
	if errors.Is(err, gocql.ErrNotFound) {
		return storage.Action{}, storage.ErrNotFound
	}
	if err != nil {
		return storage.Action{}, err
	}
	return s.GetAction(ctx, inst, id)
}
