//go:build functional

package functional

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// keystoneValidations counts the token validations Keystone has served so
// far (from its access log).
func keystoneValidations(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(bedenv.Dir(), "log", "keystone-uwsgi.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(raw), "GET /v3/auth/tokens")
}

func openFDs(t *testing.T, pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// hammer sends n requests from workers goroutines; each answer's status is
// counted, and the slowest answers kept.
func hammer(t *testing.T, n, workers int, req func(i int) *http.Request) (map[int]int, []time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		lat   []time.Duration
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				t0 := time.Now()
				resp, err := client.Do(req(i))
				d := time.Since(t0)
				code := -1
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				codes[code]++
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return codes, lat
}

func p99(lat []time.Duration) time.Duration { return lat[len(lat)*99/100] }

// scrape reads one unlabelled value from a vmmon process's /metrics.
func scrape(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("%s not in %s/metrics", name, base)
	return 0
}

// A bounded abuse run against the vmmon-api binary with Keystone: garbage
// tokens at a high rate, huge measures spans, thousands of live stream
// requests and slow clients. Every request is answered or refused within its
// deadline, Keystone sees at most one validation per distinct token, and
// vmmon-api's connections are released afterwards. The figures are logged
// (go test -tags functional -run TestAPIAbuse -v ./tests/functional/).
func TestAPIAbuse(t *testing.T) {
	env := bedenv.Load(t)
	cfg, port, store := keystoneAPIConfig(t, env,
		"[keystone_authtoken]\ntoken_cache_time = 300\n[api]\nrequest_timeout = 5\nclient_timeout = 2\nmax_streams_per_user = 5\n")
	demo, alt := "de000000-0000-4000-8000-0000000000a1", "a1700000-0000-4000-8000-0000000000a1"
	seedInstances(t, store,
		storage.Instance{ID: demo, ProjectID: env.Get(t, "VMMON_PROJECT_DEMO_ID"), Name: "demo-vm", Host: "cmp1", State: "active", UpdatedAt: time.Now()},
		storage.Instance{ID: alt, ProjectID: env.Get(t, "VMMON_PROJECT_ALT_DEMO_ID"), Name: "alt-vm", Host: "cmp1", State: "active", UpdatedAt: time.Now()})
	base, cmd, apiLog := runAPI(t, cfg, port)
	pid := cmd.Process.Pid
	pw := env.Get(t, "VMMON_TEST_PASSWORD")
	tokens := map[string]string{
		"demo-member": tokenFor(t, env, "demo-member", "demo", pw),
		"demo-reader": tokenFor(t, env, "demo-reader", "demo", pw),
		"alt-member":  tokenFor(t, env, "alt-member", "alt-demo", pw),
		"admin":       tokenFor(t, env, "admin", "admin", env.Get(t, "VMMON_KEYSTONE_ADMIN_PASSWORD")),
	}
	fdsBefore := openFDs(t, pid)
	get := func(path, token string) *http.Request {
		r, _ := http.NewRequest("GET", base+path, nil)
		r.Header.Set("X-Auth-Token", token)
		return r
	}

	// Garbage tokens at a high rate: 100 distinct ones, 20 times each.
	v0 := keystoneValidations(t)
	t0 := time.Now()
	codes, lat := hammer(t, 2000, 32, func(i int) *http.Request {
		return get("/v1/instances", fmt.Sprintf("garbage-token-%03d", i%100))
	})
	rate := 2000 / time.Since(t0).Seconds()
	time.Sleep(time.Second)
	validations := keystoneValidations(t) - v0
	t.Logf("garbage tokens: %v at %.0f req/s, p99 %v, %d Keystone validations for 100 distinct tokens", codes, rate, p99(lat), validations)
	if codes[401] != 2000 {
		t.Errorf("garbage tokens: %v; want 2000 × 401", codes)
	}
	if validations > 100 {
		t.Errorf("Keystone validated %d times for 100 distinct garbage tokens; want at most 100", validations)
	}
	// vmmon-api's own count agrees.
	if asked, hits := scrape(t, base, "vmmon_api_token_validations_total"), scrape(t, base, "vmmon_api_token_cache_hits_total"); asked > 100 || hits < 1800 {
		t.Errorf("vmmon-api counted %v validations and %v cache hits for 2000 requests of 100 garbage tokens", asked, hits)
	}

	// Valid tokens used concurrently reach Keystone once each.
	v0 = keystoneValidations(t)
	names := []string{"demo-member", "demo-reader", "alt-member", "admin"}
	codes, _ = hammer(t, 400, 32, func(i int) *http.Request { return get("/v1/instances", tokens[names[i%4]]) })
	time.Sleep(time.Second)
	if v := keystoneValidations(t) - v0; codes[200] != 400 || v > 4 {
		t.Errorf("valid tokens: %v, %d validations; want 400 × 200 and at most 4 validations", codes, v)
	}

	// Huge spans, on one's own instance (400) and on another project's (404).
	huge := "/metrics/cpu_util/measures?start=2026-01-01T00:00:00Z&end=9999-12-31T00:00:00Z&granularity=922380"
	codes, lat = hammer(t, 400, 16, func(i int) *http.Request {
		if i%2 == 0 {
			return get("/v1/instances/"+demo+huge, tokens["demo-member"])
		}
		return get("/v1/instances/"+demo+huge, tokens["alt-member"])
	})
	t.Logf("huge spans: %v, p99 %v", codes, p99(lat))
	if codes[400] != 200 || codes[404] != 200 {
		t.Errorf("huge spans: %v; want 200 × 400 and 200 × 404", codes)
	}

	// Thousands of live stream requests from four users: each holds at most
	// five, the rest are refused with 429.
	var (
		open   []*http.Response
		openMu sync.Mutex
	)
	streamClient := &http.Client{Timeout: 0}
	streamCodes := map[int]int{}
	var wg sync.WaitGroup
	var scMu sync.Mutex
	var nextStream atomic.Int64
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(nextStream.Add(1)) - 1; i < 2000; i = int(nextStream.Add(1)) - 1 {
				user := names[i%4]
				inst := demo
				if user == "alt-member" {
					inst = alt
				}
				resp, err := streamClient.Do(get("/v1/instances/"+inst+"/stream", tokens[user]))
				code := -1
				if err == nil {
					code = resp.StatusCode
					if code == 200 {
						openMu.Lock()
						open = append(open, resp)
						openMu.Unlock()
					} else {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
				scMu.Lock()
				streamCodes[code]++
				scMu.Unlock()
			}
		}()
	}
	wg.Wait()
	fdsStreaming := openFDs(t, pid)
	if n := scrape(t, base, "vmmon_api_live_streams"); n != 20 {
		t.Errorf("vmmon_api_live_streams = %v with 20 streams open", n)
	}
	t.Logf("live streams: %v; vmmon-api holds %d file descriptors with them open (%d before)", streamCodes, fdsStreaming, fdsBefore)
	if streamCodes[200] != 20 || streamCodes[429] != 1980 {
		t.Errorf("live streams: %v; want 20 × 200 (5 per user) and 1980 × 429", streamCodes)
	}
	for _, resp := range open {
		resp.Body.Close()
	}

	// Slow clients: connections that never finish their request headers are
	// closed by vmmon-api after [api] client_timeout.
	var conns []net.Conn
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("GET /v1/instances HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: "))
		conns = append(conns, c)
	}
	closed := 0
	t0 = time.Now()
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					closed++
				}
				break
			}
		}
		c.Close()
	}
	t.Logf("slow clients: %d of 200 closed by vmmon-api within %v", closed, time.Since(t0).Round(time.Millisecond))
	if closed != 200 {
		t.Errorf("%d of 200 slow clients were closed by vmmon-api; want all", closed)
	}

	// Everything is released; memory stayed bounded.
	until(t, 10*time.Second, "vmmon-api releasing its connections", func() bool { return openFDs(t, pid) <= fdsBefore+5 })
	rss := peakRSSMB(t, pid)
	t.Logf("vmmon-api: peak RSS %.1f MB; %d file descriptors after the run (%d before)", rss, openFDs(t, pid), fdsBefore)
	if code, _, _ := (&apiBed{url: base}).get(t, "/v1/instances", tokens["demo-member"]); code != 200 {
		t.Errorf("after the run, a member's listing: %d\n%s", code, apiLog.String())
	}
}

// Keystone stopped while vmmon-api serves: a token it has validated before
// keeps working from the cache, a new one is answered 503 with a message
// that names the identity service, and once Keystone is back the new token
// works without restarting vmmon-api.
func TestAPIKeystoneStopped(t *testing.T) {
	env := bedenv.Load(t)
	cfg, port, store := keystoneAPIConfig(t, env, "")
	demo := "de000000-0000-4000-8000-0000000000b1"
	seedInstances(t, store, storage.Instance{ID: demo, ProjectID: env.Get(t, "VMMON_PROJECT_DEMO_ID"), Name: "demo-vm",
		State: "active", UpdatedAt: time.Now()})
	base, _, apiLog := runAPI(t, cfg, port)
	b := &apiBed{url: base}
	pw := env.Get(t, "VMMON_TEST_PASSWORD")
	seen, fresh := tokenFor(t, env, "demo-member", "demo", pw), tokenFor(t, env, "demo-reader", "demo", pw)
	if code, _, body := b.get(t, "/v1/instances/"+demo, seen); code != 200 {
		t.Fatalf("before: %d %s", code, body)
	}
	keystone := func(verb string) {
		if out, err := exec.Command(bedenv.Script("keystone.sh"), verb).CombinedOutput(); err != nil {
			t.Fatalf("keystone.sh %s: %v\n%s", verb, err, out)
		}
	}
	keystone("stop")
	t.Cleanup(func() {
		if _, err := http.Get(env.Get(t, "VMMON_KEYSTONE_URL")); err != nil {
			keystone("start")
		}
	})
	if code, _, body := b.get(t, "/v1/instances/"+demo, seen); code != 200 {
		t.Errorf("a cached token while Keystone is down: %d %s", code, body)
	}
	code, _, body := b.get(t, "/v1/instances/"+demo, fresh)
	if code != 503 || !strings.Contains(body, "vmmon.identity_unavailable") || !strings.Contains(body, "Keystone") {
		t.Errorf("a new token while Keystone is down: %d %s", code, body)
	}
	keystone("start")
	until(t, 30*time.Second, "vmmon-api validating again", func() bool {
		code, _, _ := b.get(t, "/v1/instances/"+demo, fresh)
		return code == 200
	})
	if !strings.Contains(apiLog.String(), "validating a token") {
		t.Errorf("vmmon-api did not log the failed validation:\n%s", apiLog.String())
	}
}
