package cassandra

import (
	"context"
	"fmt"
	"sync"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// DefaultLatestCache is how long a fold of latest values is reused. Groups
// are folded once a minute, so a fold stays true that long at the most; a
// top-N asked for again and again (a dashboard's) reads Cassandra once in
// that time, and never waits for it but the first time: a fold past its
// time is served while it is refreshed, for up to LatestCacheStale.
const DefaultLatestCache = 15 * time.Second

// LatestCacheStale bounds how old a fold a query may be served while the
// fold is refreshed; older, the query waits for a new fold.
const LatestCacheStale = time.Minute

// latestCacheSize bounds how many folds are kept (the oldest goes first).
const latestCacheSize = 64

// latestCache keeps folds of latest values (before paging), by query: a
// fold of every project's 10,000 instances takes tens of milliseconds,
// reusing one well under one.
type latestCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]*latestFold
}

type latestFold struct {
	at      time.Time
	all     []storage.Aggregate
	err     error
	ready   chan struct{} // closed once the first fold is done
	pending bool          // a refresh is under way
}

func newLatestCache(ttl time.Duration) *latestCache {
	return &latestCache{ttl: ttl, entries: map[string]*latestFold{}}
}

// get returns the fold of q's groups, from the cache or from fold.
func (c *latestCache) get(ctx context.Context, q storage.AggregateQuery, now time.Time,
	fold func(context.Context) ([]storage.Aggregate, error)) ([]storage.Aggregate, error) {
	if c.ttl < 0 {
		return fold(ctx)
	}
	key := fmt.Sprintf("%q %q %q %q %q %q %q", q.Metric, q.Aggregation, q.GroupBy, q.ProjectID, q.Host, q.State, q.Flavor)
	c.mu.Lock()
	e, ok := c.entries[key]
	switch {
	case !ok || (now.Sub(e.at) > LatestCacheStale && !e.pending):
		// The fold is the cache's, not the request's: others may wait for it.
		e = &latestFold{at: now, ready: make(chan struct{}), pending: true}
		c.put(key, e)
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			all, err := fold(fctx)
			c.mu.Lock()
			e.all, e.err, e.pending = all, err, false
			if err != nil && c.entries[key] == e {
				delete(c.entries, key)
			}
			c.mu.Unlock()
			close(e.ready)
		}()
	case now.Sub(e.at) > c.ttl && !e.pending:
		e.pending = true
		go c.refresh(key, e, now, fold)
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return e.all, e.err
}

// refresh folds again in the background and replaces the entry.
func (c *latestCache) refresh(key string, old *latestFold, now time.Time, fold func(context.Context) ([]storage.Aggregate, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	all, err := fold(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	old.pending = false
	if err == nil {
		e := &latestFold{at: now, all: all, ready: make(chan struct{})}
		close(e.ready)
		c.put(key, e)
	}
}

// put stores an entry, forgetting the oldest beyond latestCacheSize; the
// caller holds mu.
func (c *latestCache) put(key string, e *latestFold) {
	if _, ok := c.entries[key]; !ok && len(c.entries) >= latestCacheSize {
		oldest := ""
		for k, x := range c.entries {
			if oldest == "" || x.at.Before(c.entries[oldest].at) {
				oldest = k
			}
		}
		delete(c.entries, oldest)
	}
	c.entries[key] = e
}
