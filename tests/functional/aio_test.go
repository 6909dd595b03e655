//go:build functional

package functional

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
)

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func getJSON(url string, v any) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(v)
}

// startAIO runs vmmon-aio and returns its base URL once it says it serves.
func startAIO(t *testing.T, bin, dataDir, uri string) (string, *exec.Cmd, *strings.Builder) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin, "--data-dir", dataDir, "--bind", fmt.Sprintf("127.0.0.1:%d", port), "--libvirt-uri", uri, "--interval", "2s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if strings.Contains(lines.Text(), "is serving on") {
			go func() {
				for lines.Scan() {
				}
			}()
			return fmt.Sprintf("http://127.0.0.1:%d", port), cmd, &stderr
		}
	}
	t.Fatalf("vmmon-aio did not start: %s", stderr.String())
	return "", nil, nil
}

// The all-in-one of `make run`: within 30 s of start it serves the test
// driver's instances with moving measures; Ctrl-C stops it cleanly; a second
// start finds its data again; it refuses to listen beyond loopback.
func TestAllInOne(t *testing.T) {
	env := bedenv.Load(t)
	bin := buildCmd(t, "vmmon/cmd/vmmon-aio")
	dataDir := t.TempDir()
	uri := env.Get(t, "VMMON_LIBVIRT_TEST_URI_200")
	base, cmd, logs := startAIO(t, bin, dataDir, uri)
	started := time.Now()
	var list struct {
		Instances []struct {
			ID, State, Source string
		} `json:"instances"`
	}
	var points int
	until(t, 30*time.Second, "instances with moving measures", func() bool {
		if code, err := getJSON(base+"/v1/instances", &list); err != nil || code != 200 || len(list.Instances) != 200 {
			return false
		}
		var m struct {
			Measures struct {
				Series []struct {
					Points []struct{ Value float64 } `json:"points"`
				} `json:"series"`
			} `json:"measures"`
		}
		code, err := getJSON(base+"/v1/instances/7e57d000-0000-4000-8000-000000000001/metrics/cpu/measures?granularity=raw", &m)
		if err != nil || code != 200 || len(m.Measures.Series) != 1 {
			return false
		}
		pts := m.Measures.Series[0].Points
		points = len(pts)
		return points >= 2 && pts[len(pts)-1].Value > pts[0].Value
	})
	t.Logf("instances and moving measures %v after start", time.Since(started).Round(time.Millisecond))
	// The live stream delivers the next sample of an instance.
	resp, err := http.Get(base + "/v1/instances/7e57d000-0000-4000-8000-000000000001/stream")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, resp)
	}
	events := make(chan string, 1)
	go func() {
		rd := bufio.NewScanner(resp.Body)
		for rd.Scan() {
			if strings.HasPrefix(rd.Text(), "data: ") {
				events <- rd.Text()
				return
			}
		}
	}()
	select {
	case ev := <-events:
		if !strings.Contains(ev, `"name":"cpu"`) {
			t.Errorf("stream event %s", ev)
		}
	case <-time.After(15 * time.Second):
		t.Error("no sample on the live stream within 15 s")
	}
	resp.Body.Close()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after Ctrl-C: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("vmmon-aio did not stop within 15 s of Ctrl-C")
	}
	if !strings.Contains(logs.String(), "AUTHENTICATION IS DISABLED") {
		t.Errorf("the log does not say that authentication is off:\n%s", logs.String())
	}
	base, _, _ = startAIO(t, bin, dataDir, uri)
	var again struct {
		Measures struct {
			Series []struct {
				Points []any `json:"points"`
			} `json:"series"`
		} `json:"measures"`
	}
	if code, err := getJSON(base+"/v1/instances/7e57d000-0000-4000-8000-000000000001/metrics/cpu/measures?granularity=raw&start="+
		started.Add(-time.Minute).UTC().Format(time.RFC3339), &again); err != nil || code != 200 || len(again.Measures.Series) != 1 ||
		len(again.Measures.Series[0].Points) < points {
		t.Errorf("after a restart: %d %v %+v (had %d points)", code, err, again, points)
	}
	out, err := exec.Command(bin, "--data-dir", t.TempDir(), "--bind", "0.0.0.0:18780").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "loopback only") {
		t.Errorf("binding beyond loopback: %v %s", err, out)
	}
}
