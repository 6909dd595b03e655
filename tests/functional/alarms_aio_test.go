//go:build functional

package functional

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
)

// The all-in-one evaluates alarms in its own process: an alarm created
// through its API fires on the test driver's samples, calls its webhook
// (signed) and shows as an "alarm" event in the instance's live stream;
// changed through PATCH, it returns to ok and calls the webhook again.
func TestAlarmAllInOne(t *testing.T) {
	env := bedenv.Load(t)
	base, _, logs := startAIO(t, buildCmd(t, "vmmon/cmd/vmmon-aio"), t.TempDir(), env.Get(t, "VMMON_LIBVIRT_TEST_URI_200"))
	const inst = "7e57d000-0000-4000-8000-000000000001"
	until(t, 30*time.Second, "the instance's cpu_util", func() bool {
		var ms struct{ Metrics []struct{ Name string } }
		if code, err := getJSON(base+"/v1/instances/"+inst+"/metrics", &ms); err != nil || code != 200 {
			return false
		}
		for _, m := range ms.Metrics {
			if m.Name == "cpu_util" {
				return true
			}
		}
		return false
	})
	hook, url := newHookReceiver(t, "aio-secret")
	resp, err := http.Get(base + "/v1/instances/" + inst + "/stream")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, resp)
	}
	defer resp.Body.Close()
	alarmEvents := make(chan string, 4)
	go func() {
		rd := bufio.NewScanner(resp.Body)
		event := ""
		for rd.Scan() {
			line := rd.Text()
			if strings.HasPrefix(line, "event: ") {
				event = strings.TrimPrefix(line, "event: ")
			}
			if strings.HasPrefix(line, "data: ") && event == "alarm" {
				alarmEvents <- strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	send := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(r.Body).Decode(&out)
		return r.StatusCode, out
	}
	code, created := send("POST", "/v1/alarms", `{"name": "aio", "metric": "cpu_util", "instance_id": "`+inst+`", "comparison": "gt",
		"threshold": -1, "window": 10, "actions": [{"type": "webhook", "url": "`+url+`", "secret": "aio-secret"}]}`)
	if code != 201 {
		t.Fatalf("create: %d %v\n%s", code, created, logs.String())
	}
	id := created["alarm"].(map[string]any)["id"].(string)
	waitCalls := func(n int, current string) {
		t.Helper()
		until(t, 30*time.Second, "webhook call "+current, func() bool {
			calls, _ := hook.snapshot()
			return len(calls) >= n && calls[n-1].Current == current && calls[n-1].AlarmID == id
		})
	}
	waitCalls(1, "alarm")
	select {
	case ev := <-alarmEvents:
		if !strings.Contains(ev, `"current":"alarm"`) || !strings.Contains(ev, id) {
			t.Errorf("stream alarm event %s", ev)
		}
	case <-time.After(10 * time.Second):
		t.Error("no alarm event in the live stream")
	}
	if code, _ := send("PATCH", "/v1/alarms/"+id, `{"threshold": 1e9}`); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	waitCalls(2, "ok")
	time.Sleep(4 * time.Second)
	calls, per := hook.snapshot()
	if len(calls) != 2 || len(per) != 2 {
		t.Errorf("%d webhook calls over %d deliveries; want 2", len(calls), len(per))
	}
	var h struct {
		History []struct{ Type, Outcome string } `json:"history"`
	}
	if code, err := getJSON(base+"/v1/alarms/"+id+"/history", &h); err != nil || code != 200 {
		t.Fatalf("history: %d %v", code, err)
	}
	kinds := map[string]int{}
	for _, e := range h.History {
		kinds[e.Type+"/"+e.Outcome]++
	}
	if kinds["state_transition/"] != 2 || kinds["action/succeeded"] != 2 || kinds["creation/"] != 1 || kinds["rule_change/"] != 1 {
		t.Errorf("history %v", kinds)
	}
}
