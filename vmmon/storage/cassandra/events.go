package cassandra

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// AddEvent stores an event (idempotent by instance, time and id).
func (s *Store) AddEvent(ctx context.Context, e storage.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.session.Query(`INSERT INTO `+s.t("events")+` (instance_id, month, ts, id, data) VALUES (?, ?, ?, ?, ?) USING TTL ?`,
		e.InstanceID, month(e.Time), e.Time.UTC(), e.ID, string(data), int(s.cfg.Retention.Hour.Seconds())).WithContext(ctx).Exec()
}

// Events returns an instance's events, newest first. An open start reaches
// back as far as events are kept (the hour rollups' retention).
func (s *Store) Events(ctx context.Context, q storage.EventQuery) ([]storage.Event, error) {
	start, end := q.Bounds()
	if earliest := s.now().Add(-s.cfg.Retention.Hour); start.Before(earliest) {
		start = earliest
	}
	if now := s.now().Add(24 * time.Hour); end.After(now) {
		end = now
	}
	out := []storage.Event{}
	ms := partitions(start, end, true)
	for i := len(ms) - 1; i >= 0 && (q.Limit <= 0 || len(out) < q.Limit); i-- {
		iter := s.session.Query(`SELECT data FROM `+s.t("events")+` WHERE instance_id = ? AND month = ? AND ts >= ? AND ts < ?`,
			q.InstanceID, ms[i], start, end).WithContext(ctx).Iter()
		var data string
		for iter.Scan(&data) {
			var e storage.Event
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				iter.Close()
				return nil, err
			}
			if q.Limit <= 0 || len(out) < q.Limit {
				out = append(out, e)
			}
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("reading events: %w", err)
		}
	}
	return out, nil
}
