//go:build functional && cluster

package functional

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/storage/cassandra"
)

// cluster drives tests/bed/cassandra-cluster.sh.
func cluster(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(bedenv.Script("cassandra-cluster.sh"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("cassandra-cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// clusterStore opens the keyspace on the cluster at consistency, through
// every node or (only) through one.
func clusterStore(t *testing.T, keyspace, consistency string, only ...string) *cassandra.Store {
	t.Helper()
	cfg := cassandra.Config{Hosts: strings.Split(cluster(t, "hosts"), ","), Port: 9042, Keyspace: keyspace,
		Consistency: consistency, Timeout: 20 * time.Second,
		Replication: "{'class': 'SimpleStrategy', 'replication_factor': 3}"}
	c, err := cfg.Cluster()
	if err != nil {
		t.Fatal(err)
	}
	if len(only) > 0 {
		c.Hosts = only
		c.HostFilter = gocql.WhiteListHostFilter(only...)
		c.PoolConfig.HostSelectionPolicy = gocql.RoundRobinHostPolicy()
	}
	session, err := c.CreateSession()
	if err != nil {
		t.Fatalf("connecting to the cluster: %v", err)
	}
	t.Cleanup(session.Close)
	s, err := cassandra.OpenWithSession(context.Background(), session, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// apiLoad reads from vmmon-api, 20 requests a second, and counts, per
// phase, the answers and their latencies.
type apiLoad struct {
	mu     sync.Mutex
	phase  string
	phases []string
	lat    map[string][]time.Duration
	errs   map[string]int
	first  map[string]string
}

func (l *apiLoad) enter(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase = p
	l.phases = append(l.phases, p)
}

func (l *apiLoad) run(ctx context.Context, urls []string) {
	c := &http.Client{Timeout: 10 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		<-tick.C
		t0 := time.Now()
		resp, err := c.Get(urls[i%len(urls)])
		d := time.Since(t0)
		code, body := 0, ""
		if err == nil {
			code = resp.StatusCode
			if code != http.StatusOK {
				raw, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
				body = string(raw)
			}
			resp.Body.Close()
		}
		l.mu.Lock()
		if err != nil || code != http.StatusOK {
			l.errs[l.phase]++
			if l.first[l.phase] == "" {
				l.first[l.phase] = fmt.Sprintf("%s: %v %d %s", urls[i%len(urls)], err, code, body)
			}
		} else {
			l.lat[l.phase] = append(l.lat[l.phase], d)
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *apiLoad) report(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.phases {
		lat := l.lat[p]
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p99 := time.Duration(0)
		if len(lat) > 0 {
			p99 = lat[len(lat)*99/100]
		}
		t.Logf("API %-22s %5d answered, %3d errors (first: %s), p99 %v", p+":", len(lat), l.errs[p], l.first[p], p99.Round(100*time.Microsecond))
	}
}

// A three-node Cassandra cluster (replication factor 3, vmmon at QUORUM)
// under an agent, two collectors and the API's reads: a node killed for
// 60 s and started again, then a node gone for good and replaced. No point
// is lost or stored twice (checked point by point), the API answers
// throughout, and the node that was away (or its replacement) ends up
// holding every point itself.
func TestCassandraCluster(t *testing.T) {
	env := bedenv.Load(t)
	url := env.Get(t, "VMMON_TRANSPORT_URL")
	t0 := time.Now()
	t.Cleanup(func() { _ = exec.Command(bedenv.Script("cassandra-cluster.sh"), "wipe").Run() })
	cluster(t, "start")
	t.Logf("three nodes up after %v", time.Since(t0).Round(time.Second))
	hosts := strings.Split(cluster(t, "hosts"), ",")

	ks := fmt.Sprintf("vmmon_cluster_%d", time.Now().UnixNano())
	store := clusterStore(t, ks, "QUORUM")
	if err := store.Sync(context.Background()); err != nil {
		t.Fatalf("db sync on the cluster: %v", err)
	}
	section := fmt.Sprintf("[storage]\ndriver = cassandra\n[cassandra]\nhosts = %s\nport = 9042\nkeyspace = %s\nconsistency = QUORUM\n",
		strings.Join(hosts, ","), ks)

	prefix := uniqueName(t)
	// The stream's first batch waits until the collectors consume their
	// queue (startStream's await).
	bin := buildCmd(t, "vmmon/cmd/vmmon-collector")
	// 200 instances every 5 s: some 1,000 points a second, each written
	// to three nodes sharing two cores with the rest of the bed.
	rig := startStream(t, url, 5*time.Second, prefix+"-agent")
	cleanup(t, url, []string{prefix + "-parked.exchange"}, []string{prefix + "-agent", prefix + "-nova", prefix + "-parked"})
	cfg := writeConfig(t, fmt.Sprintf("[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n[oslo_messaging_rabbit]\nrabbit_retry_interval = 0.2\n"+
		"rabbit_retry_backoff = 0.2\nrabbit_interval_max = 1\n[oslo_messaging_notifications]\ntopics = %s-none\n"+
		"[collector]\nagent_queue = %s-agent\nnotification_queue = %s-nova\nparking_queue = %s-parked\nrollup_interval = 1\n",
		url, rig.ex, prefix, prefix, prefix, prefix)+section)
	for i := 0; i < 2; i++ {
		c := collectorProcess(t, bin, cfg)
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	}
	port := freePort(t)
	base, _, _ := runAPI(t, writeConfig(t, fmt.Sprintf("[DEFAULT]\nauth_strategy = noauth\ntransport_url = %s\n[api]\nbind_host = 127.0.0.1\nbind_port = %d\n",
		url, port)+section), port)
	until(t, 60*time.Second, "three batches stored", func() bool { x, _, _ := rig.seen.snapshot(); return len(x) >= 3 })
	// The load starts once the API knows the instance's cpu (before, it
	// answers 400 "has no metric").
	measures := base + "/v1/instances/7e57d000-0000-4000-8000-000000000001/metrics/cpu/measures?granularity=0"
	until(t, 60*time.Second, "the instance's cpu in the API", func() bool { return answersOK(measures) })
	load := &apiLoad{lat: map[string][]time.Duration{}, errs: map[string]int{}, first: map[string]string{}}
	load.enter("before")
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	inst := "7e57d000-0000-4000-8000-000000000001"
	go load.run(ctx, []string{measures,
		base + "/v1/instances?limit=50", base + "/v1/instances/" + inst})
	time.Sleep(15 * time.Second)

	// The third node holds every point of batches (those the stream has sent
	// so far when nil), read at ONE through it alone: holds waits up to d
	// for it and says what it still lacks ("" once it holds them all).
	holds := func(t *testing.T, what string, d time.Duration, batches []agentmsg.Batch) string {
		t.Helper()
		node := clusterStore(t, ks, "ONE", hosts[2])
		if batches == nil {
			batches, _, _ = rig.seen.snapshot()
		}
		t0 := time.Now()
		// Each check reads every instance's points: every 5 s, not more.
		for {
			_, problems, err := storedDiff(node, batches)
			if err == nil && len(problems) == 0 {
				break
			}
			last := fmt.Sprint(err)
			if err == nil {
				last = strings.Join(problems[max(0, len(problems)-3):], "; ")
			}
			if time.Since(t0) > d {
				return last
			}
			time.Sleep(5 * time.Second)
		}
		t.Logf("%s after %v", what, time.Since(t0).Round(time.Second))
		verifyStored(t, node, batches)
		return ""
	}
	holdsAll := func(t *testing.T, what string) {
		t.Helper()
		if lacks := holds(t, what, 180*time.Second, nil); lacks != "" {
			t.Fatalf("%s: not within 3m0s: %s", what, lacks)
		}
	}
	// The two nodes that stayed up replay the hints they kept for node 3
	// (read from each node's own system_views.pending_hints).
	hintsDelivered := func(t *testing.T) {
		t.Helper()
		var sessions []*gocql.Session
		for _, h := range hosts[:2] {
			c := gocql.NewCluster(h)
			c.Port, c.Timeout, c.ConnectTimeout = 9042, 10*time.Second, 10*time.Second
			c.HostFilter = gocql.WhiteListHostFilter(h)
			sess, err := c.CreateSession()
			if err != nil {
				t.Fatalf("connecting to %s: %v", h, err)
			}
			defer sess.Close()
			sessions = append(sessions, sess)
		}
		pending := func() string {
			for i, sess := range sessions {
				var files, total int
				iter := sess.Query(`SELECT files FROM system_views.pending_hints`).Iter()
				for iter.Scan(&files) {
					total += files
				}
				if err := iter.Close(); err != nil {
					return fmt.Sprintf("%s: %v", hosts[i], err)
				}
				if total > 0 {
					return fmt.Sprintf("%s holds %d hint files", hosts[i], total)
				}
			}
			return ""
		}
		t0 := time.Now()
		for p := pending(); p != ""; p = pending() {
			if time.Since(t0) > 180*time.Second {
				// Node 1 or 2 still writes hints when node 3 is slow to
				// answer: what counts is what node 3 holds (holdsAll).
				t.Logf("hints still pending for node 3 after 3m0s: %s", p)
				return
			}
			time.Sleep(2 * time.Second)
		}
		t.Logf("hints delivered to node 3 %v after it started", time.Since(t0).Round(time.Second))
	}

	t.Run("node down 60 s", func(t *testing.T) {
		load.enter("node 3 down")
		cluster(t, "kill", "3")
		time.Sleep(60 * time.Second)
		load.enter("node 3 back")
		cluster(t, "start-node", "3")
		hintsDelivered(t)
		// Hints replayed on a loaded machine may still leave node 3 short:
		// the operator's remedy is a repair of the node, so is the test's.
		// (What the repair brings is what was written before it began:
		// points written since may be in flight to node 3 on a loaded box.)
		if lacks := holds(t, "node 3 caught up by its hints", 60*time.Second, nil); lacks != "" {
			t.Logf("node 3 still lacks points after its hints (%s): nodetool repair --full on node 3", lacks)
			before, _, _ := rig.seen.snapshot()
			t0 := time.Now()
			cluster(t, "nodetool", "3", "repair", "--full", ks)
			t.Logf("repair of node 3 took %v", time.Since(t0).Round(time.Second))
			if lacks := holds(t, "node 3 caught up by repair", 60*time.Second, before); lacks != "" {
				t.Fatalf("node 3 lacks points written before its repair: %s", lacks)
			}
		}
	})
	t.Run("node replaced", func(t *testing.T) {
		load.enter("node 3 gone")
		cluster(t, "kill", "3")
		time.Sleep(20 * time.Second)
		load.enter("node 3 replaced")
		cluster(t, "replace", "3")
		time.Sleep(15 * time.Second)
		holdsAll(t, "the new node 3 holds every point")
	})
	load.enter("after")
	time.Sleep(10 * time.Second)
	stopLoad()
	rig.finish(t, store, 120*time.Second)
	load.report(t)
	load.mu.Lock()
	defer load.mu.Unlock()
	for _, p := range load.phases {
		if n, errs := len(load.lat[p]), load.errs[p]; n == 0 || errs*20 > n {
			t.Errorf("API %s: %d answered, %d errors (first: %s): more than 5 %% failed", p, n, errs, load.first[p])
		}
	}
	if load.errs["after"] > 0 {
		t.Errorf("API after: %d errors with every node up", load.errs["after"])
	}
}
