package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// An idempotency key names its action for storage.IdempotencyTTL, then is
// forgotten, and a new action may take it.
func TestIdempotencyKeyExpires(t *testing.T) {
	s, err := Open(t.TempDir(), storage.DefaultRetention)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	a := storage.Action{ID: "a1", InstanceID: "i", Action: "stop", Status: "pending", IdempotencyKey: "k", CreatedAt: now}
	if _, err := s.PutAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := a
	b.ID = "a2"
	now = now.Add(storage.IdempotencyTTL - time.Second)
	if got, err := s.PutAction(ctx, b); !errors.Is(err, storage.ErrConflict) || got.ID != "a1" {
		t.Fatalf("within the TTL: %+v, %v; want a1 and ErrConflict", got, err)
	}
	now = now.Add(2 * time.Second)
	if got, err := s.PutAction(ctx, b); err != nil || got.ID != "a2" {
		t.Fatalf("after the TTL: %+v, %v; want a2 stored", got, err)
	}
	// The expired entry was swept, the new one is kept.
	var keys int
	_ = s.db.View(func(tx *bolt.Tx) error { keys = tx.Bucket(bActionsKey).Stats().KeyN; return nil })
	if keys != 1 {
		t.Errorf("%d idempotency keys kept; want 1", keys)
	}
}
