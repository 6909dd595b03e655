// Package cassandra is vmmon's production storage driver on Apache Cassandra
// (gocql): partitions bounded in time (instance, metric, device and day or
// month), rows clustered by timestamp, TimeWindowCompactionStrategy with a TTL
// per resolution, lookup tables for instances by project, host and shard, and
// rollups computed from a backlog of pending buckets so that any number of
// collectors can share the work. Rollups are also kept packed, a span of
// buckets to a row (packed.go), which is what measures read.
package cassandra

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// batchSize is how many statements go into one unlogged batch.
const batchSize = 100

// Shards spread unbounded sets (all instances, pending rollups) over partitions.
const Shards = 16

// Config says how to reach the cluster.
type Config struct {
	Hosts       []string
	Port        int
	Keyspace    string
	Replication string // a CQL map, used when Sync creates the keyspace
	Consistency string
	Username    string
	Password    string
	Timeout     time.Duration
	Retention   storage.Retention
	// LatestCache is how long a fold of latest values is reused (default
	// DefaultLatestCache; negative: never).
	LatestCache time.Duration
}

// Store is the Cassandra driver.
type Store struct {
	cfg        Config
	session    *gocql.Session
	ownSession bool // Close closes the session: Open created it
	now        func() time.Time

	owner string // names this store in rollup leases

	mu     sync.Mutex
	marked map[bucketKey]time.Time // open buckets already marked pending, by series and bucket
	pruned time.Time               // when marked was last cleared of closed buckets
	units  map[string]string       // metrics' units as last written to metric_units

	latest *latestCache // folds of latest values, by query
}

// Open connects to the cluster. Call Sync (vmmon-manage db sync) to create the
// schema, or CheckVersion to insist it is current.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.checkKeyspace(); err != nil {
		return nil, err
	}
	c, err := cfg.Cluster()
	if err != nil {
		return nil, err
	}
	session, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("connecting to Cassandra at %s: %w", strings.Join(cfg.Hosts, ","), err)
	}
	s := newStore(cfg, session)
	s.ownSession = true
	return s, nil
}

// OpenWithSession makes a store on a session that the caller created (from
// Cluster, say) and owns, to share one connection pool with other users of
// the cluster: Close leaves it open. The session's own hosts, consistency,
// timeouts and credentials apply; of cfg, the store uses the keyspace, the
// replication and the retentions.
func OpenWithSession(ctx context.Context, session *gocql.Session, cfg Config) (*Store, error) {
	if session == nil {
		return nil, errors.New("[cassandra] no session")
	}
	if err := cfg.checkKeyspace(); err != nil {
		return nil, err
	}
	return newStore(cfg, session), nil
}

func (cfg Config) checkKeyspace() error {
	if cfg.Keyspace == "" || strings.ContainsAny(cfg.Keyspace, " .;\"'") {
		return fmt.Errorf("[cassandra] keyspace %q: expected a plain CQL identifier", cfg.Keyspace)
	}
	return nil
}

// Cluster returns the gocql configuration that Open connects with.
func (cfg Config) Cluster() (*gocql.ClusterConfig, error) {
	c := gocql.NewCluster(cfg.Hosts...)
	if cfg.Port > 0 {
		c.Port = cfg.Port
	}
	if cfg.Timeout > 0 {
		c.Timeout, c.ConnectTimeout = cfg.Timeout, cfg.Timeout
	}
	if cfg.Consistency != "" {
		cons, err := gocql.ParseConsistencyWrapper(cfg.Consistency)
		if err != nil {
			return nil, fmt.Errorf("[cassandra] consistency: %w", err)
		}
		c.Consistency = cons
	}
	if cfg.Username != "" {
		c.Authenticator = gocql.PasswordAuthenticator{Username: cfg.Username, Password: cfg.Password}
	}
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	c.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 2}
	return c, nil
}

func newStore(cfg Config, session *gocql.Session) *Store {
	if cfg.Retention == (storage.Retention{}) {
		cfg.Retention = storage.DefaultRetention
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
	ttl := cfg.LatestCache
	if ttl == 0 {
		ttl = DefaultLatestCache
	}
	return &Store{cfg: cfg, session: session, now: time.Now, owner: owner, marked: map[bucketKey]time.Time{}, units: map[string]string{},
		latest: newLatestCache(ttl)}
}

// Close closes the session, unless the caller owns it (OpenWithSession).
func (s *Store) Close() error {
	if s.ownSession {
		s.session.Close()
	}
	return nil
}

// Keyspace returns the keyspace the store uses.
func (s *Store) Keyspace() string { return s.cfg.Keyspace }

func (s *Store) t(name string) string { return s.cfg.Keyspace + "." + name }

func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

func month(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func seriesID(instance, metric, device string) string {
	return instance + "\x00" + metric + "\x00" + device
}

func splitSeries(s string) (instance, metric, device string) {
	instance, metric, device, _, _ = splitMark(s)
	return instance, metric, device
}

// markID names a sample's series in the backlog of pending rollups, with
// the project and host it had (which groups its minute goes to), if any.
func markID(sm storage.Sample) string {
	id := seriesID(sm.InstanceID, sm.Metric, sm.Device)
	if sm.ProjectID == "" && sm.Host == "" {
		return id
	}
	return id + "\x00" + sm.ProjectID + "\x00" + sm.Host
}

// splitMark undoes markID.
func splitMark(s string) (instance, metric, device, project, host string) {
	p := strings.SplitN(s, "\x00", 5)
	for len(p) < 5 {
		p = append(p, "")
	}
	return p[0], p[1], p[2], p[3], p[4]
}

// markShard is the backlog shard of a mark: its series' (whatever the
// pairing), so that one store rolls a series up at a time.
func markShard(mark string) int {
	inst, metric, device := splitSeries(mark)
	return shardOf(seriesID(inst, metric, device))
}

func shardOf(s string) int {
	h := fnv.New32a()
	h.Write([]byte(s))
	return int(h.Sum32() % Shards)
}

// runAll runs fns, at most n at a time, and returns the first error, which
// cancels the context of the others.
func runAll(ctx context.Context, n int, fns []func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for _, fn := range fns {
		g.Go(func() error { return fn(ctx) })
	}
	return g.Wait()
}

// perPartition reads every partition at once and returns what they hold in
// partition order.
func perPartition[T any](ctx context.Context, parts []time.Time, read func(ctx context.Context, part time.Time) ([]T, error)) ([]T, error) {
	results := make([][]T, len(parts))
	fns := make([]func(context.Context) error, len(parts))
	for i, part := range parts {
		fns[i] = func(ctx context.Context) error {
			var err error
			results[i], err = read(ctx, part)
			return err
		}
	}
	if err := runAll(ctx, 8, fns); err != nil {
		return nil, err
	}
	var out []T
	for _, r := range results {
		out = append(out, r...)
	}
	return out, nil
}

// partitions lists the day (or month) partitions that [start, end) touches.
func partitions(start, end time.Time, monthly bool) []time.Time {
	var out []time.Time
	if monthly {
		for m := month(start); m.Before(end); m = m.AddDate(0, 1, 0) {
			out = append(out, m)
		}
		return out
	}
	for d := day(start); d.Before(end); d = d.Add(24 * time.Hour) {
		out = append(out, d)
	}
	return out
}

var _ storage.Store = (*Store)(nil)
