package cassandra

import (
	"encoding/json"
	"testing"
)

// A clock skew kept in the heartbeat column leaves valid JSON (what an older
// vmmon reads) and reads back as written.
func TestHeartbeatWithSkew(t *testing.T) {
	for _, c := range []struct {
		heartbeat string
		skew      float64
		stored    string
		back      string
	}{
		{`{"host":"h1","interval_s":10}`, 0, `{"host":"h1","interval_s":10}`, `{"host":"h1","interval_s":10}`},
		{`{"host":"h1","interval_s":10}`, 300.125, `{"vmmon_clock_skew_s":300.125,"host":"h1","interval_s":10}`, `{"host":"h1","interval_s":10}`},
		{`{"host":"h1"}`, -31, `{"vmmon_clock_skew_s":-31,"host":"h1"}`, `{"host":"h1"}`},
		{` { "a": {"b": "}"} } `, 1e-3, `{"vmmon_clock_skew_s":0.001, "a": {"b": "}"} }`, `{ "a": {"b": "}"} }`},
		{``, 45, `{"vmmon_clock_skew_s":45}`, ``},
		{`{}`, 45, `{"vmmon_clock_skew_s":45}`, ``},
		{``, 0, ``, ``},
	} {
		stored := withSkew(c.heartbeat, c.skew)
		if stored != c.stored {
			t.Errorf("withSkew(%q, %v) = %q; want %q", c.heartbeat, c.skew, stored, c.stored)
		}
		if stored != "" && !json.Valid([]byte(stored)) {
			t.Errorf("withSkew(%q, %v) = %q: not JSON", c.heartbeat, c.skew, stored)
		}
		back, skew := splitSkew(stored)
		if back != c.back || skew != c.skew {
			t.Errorf("splitSkew(%q) = %q, %v; want %q, %v", stored, back, skew, c.back, c.skew)
		}
	}
	// A heartbeat that merely starts like the member is left alone.
	if back, skew := splitSkew(`{"vmmon_clock_skew_s":"x"}`); back != `{"vmmon_clock_skew_s":"x"}` || skew != 0 {
		t.Errorf("splitSkew of a foreign member: %q, %v", back, skew)
	}
}
