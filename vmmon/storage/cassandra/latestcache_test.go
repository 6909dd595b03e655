package cassandra

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// A fold is reused for its time, then served while it is refreshed, and
// folded again, waited for, once too old; a failed fold is not kept.
func TestLatestCache(t *testing.T) {
	ctx := context.Background()
	c := newLatestCache(15 * time.Second)
	var folds atomic.Int64
	fold := func(context.Context) ([]storage.Aggregate, error) {
		n := folds.Add(1)
		return []storage.Aggregate{{Value: float64(n)}}, nil
	}
	q := storage.AggregateQuery{Metric: "cpu_util"}
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	value := func(now time.Time) float64 {
		t.Helper()
		all, err := c.get(ctx, q, now, fold)
		if err != nil || len(all) != 1 {
			t.Fatalf("%v, %v", all, err)
		}
		return all[0].Value
	}
	if v := value(at); v != 1 {
		t.Errorf("first: %v", v)
	}
	if v := value(at.Add(10 * time.Second)); v != 1 || folds.Load() != 1 {
		t.Errorf("within its time: %v after %d folds", v, folds.Load())
	}
	if v := value(at.Add(20 * time.Second)); v != 1 {
		t.Errorf("past its time, served while refreshed: %v", v)
	}
	for folds.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	if v := value(at.Add(21 * time.Second)); v != 2 {
		t.Errorf("refreshed: %v", v)
	}
	if v := value(at.Add(3 * time.Minute)); v != 3 {
		t.Errorf("too old, folded again: %v", v)
	}
	q.Metric = "other"
	if _, err := c.get(ctx, q, at, func(context.Context) ([]storage.Aggregate, error) { return nil, errors.New("down") }); err == nil {
		t.Error("a failed fold succeeded")
	}
	if v := value(at); v != 4 {
		t.Errorf("after a failure, folded again: %v", v)
	}
	off := newLatestCache(-1)
	for i := 0; i < 2; i++ {
		if _, err := off.get(ctx, q, at, fold); err != nil {
			t.Fatal(err)
		}
	}
	if folds.Load() != 6 {
		t.Errorf("without a cache: %d folds in all; want 6", folds.Load())
	}
}
