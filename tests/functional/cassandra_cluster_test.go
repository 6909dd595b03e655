//go:build functional && cluster

package functional

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/tests/bedenv"
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

// apiLoad reads measures from vmmon-api without pause and counts, per
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
	for i := 0; ctx.Err() == nil; i++ {
		t0 := time.Now()
		resp, err := c.Get(urls[i%len(urls)])
		d := time.Since(t0)
		code := 0
		if err == nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		l.mu.Lock()
		if err != nil || code != http.StatusOK {
			l.errs[l.phase]++
			if l.first[l.phase] == "" {
				l.first[l.phase] = fmt.Sprintf("%v %d", err, code)
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
	rig := startStream(t, url, 2*time.Second)
	cleanup(t, url, []string{prefix + "-parked.exchange"}, []string{prefix + "-agent", prefix + "-nova", prefix + "-parked"})
	bin := buildCmd(t, "vmmon/cmd/vmmon-collector")
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
	load := &apiLoad{lat: map[string][]time.Duration{}, errs: map[string]int{}, first: map[string]string{}}
	load.enter("before")
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	inst := "7e57d000-0000-4000-8000-000000000001"
	go load.run(ctx, []string{base + "/v1/instances/" + inst + "/metrics/cpu/measures?granularity=0",
		base + "/v1/instances?limit=50", base + "/v1/instances/" + inst})
	time.Sleep(15 * time.Second)

	// The third node holds every point the stream has sent so far, read at
	// ONE through it alone.
	holdsAll := func(what string) {
		t.Helper()
		node := clusterStore(t, ks, "ONE", hosts[2])
		batches, _, _ := rig.seen.snapshot()
		until(t, 180*time.Second, what, func() bool {
			_, problems, err := storedDiff(node, batches)
			return err == nil && len(problems) == 0
		})
		verifyStored(t, node, batches)
	}

	t.Run("node down 60 s", func(t *testing.T) {
		load.enter("node 3 down")
		cluster(t, "kill", "3")
		time.Sleep(60 * time.Second)
		load.enter("node 3 back")
		cluster(t, "start-node", "3")
		time.Sleep(15 * time.Second)
		holdsAll("node 3 caught up")
	})
	t.Run("node replaced", func(t *testing.T) {
		load.enter("node 3 gone")
		cluster(t, "kill", "3")
		time.Sleep(20 * time.Second)
		load.enter("node 3 replaced")
		cluster(t, "replace", "3")
		time.Sleep(15 * time.Second)
		holdsAll("the new node 3 holds every point")
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
