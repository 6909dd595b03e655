package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeKeystone issues the service token and validates tokens as body
// says; it counts validations.
func fakeKeystone(t *testing.T, validations *atomic.Int64, body func(token string) map[string]any) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v3/auth/tokens":
			w.Header().Set("X-Subject-Token", "service-token")
			w.WriteHeader(201)
			_ = json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
				"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "catalog": []any{
					map[string]any{"type": "identity", "endpoints": []any{map[string]any{"interface": "public", "url": srv.URL + "/v3"}}}}}})
		case r.Method == http.MethodGet && r.URL.Path == "/v3/auth/tokens":
			validations.Add(1)
			if r.Header.Get("OpenStack-Identity-Access-Rules") == "" {
				t.Error("validation without OpenStack-Identity-Access-Rules")
			}
			if r.Header.Get("X-Subject-Token") == "good-project" {
				time.Sleep(50 * time.Millisecond) // so that concurrent checks overlap
			}
			b := body(r.Header.Get("X-Subject-Token"))
			if b == nil {
				w.WriteHeader(404)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"token": b})
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestKeystoneCachesAndCoalesces(t *testing.T) {
	var validations atomic.Int64
	expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	srv := fakeKeystone(t, &validations, func(token string) map[string]any {
		switch token {
		case "good-project":
			return map[string]any{"expires_at": expires, "user": map[string]any{"id": "u", "domain": map[string]any{"id": "d"}},
				"project": map[string]any{"id": "p"}, "roles": []any{map[string]any{"name": "reader"}}}
		case "good-system":
			return map[string]any{"expires_at": expires, "system": map[string]any{"all": true}, "roles": []any{map[string]any{"name": "reader"}}}
		case "good-domain":
			return map[string]any{"expires_at": expires, "domain": map[string]any{"id": "default"}}
		case "good-appcred":
			return map[string]any{"expires_at": expires, "project": map[string]any{"id": "p"},
				"application_credential": map[string]any{"id": "ac", "access_rules": []any{
					map[string]any{"service": "vm-monitor", "method": "GET", "path": "/v1/instances/*"}}}}
		}
		return nil
	})
	now := time.Now()
	clock := func() time.Time { return now }
	k, err := NewKeystone(context.Background(), KeystoneOptions{AuthURL: srv.URL + "/v3", Username: "vmmon", Password: "secret", UserDomainName: "Default", CacheTime: time.Minute,
		InvalidCacheTime: 5 * time.Second, CacheSize: 100, Now: func() time.Time { return clock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Fifty concurrent checks of one token reach Keystone once.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err := k.Validate(ctx, "good-project"); err != nil || c.ProjectID != "p" || c.Scope() != ScopeProject {
				t.Errorf("good-project: %+v %v", c, err)
			}
		}()
	}
	wg.Wait()
	if n := validations.Load(); n != 1 {
		t.Errorf("%d validations for 50 concurrent checks of one token; want 1", n)
	}
	// A garbage token is refused, then refused from the cache until its
	// (short) time is up.
	for i := 0; i < 3; i++ {
		if _, err := k.Validate(ctx, "garbage"); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("garbage: %v", err)
		}
	}
	if n := validations.Load(); n != 2 {
		t.Errorf("%d validations after three checks of one garbage token; want 2", n)
	}
	// The 50 concurrent checks joined one validation; the garbage token's
	// second and third checks came from the cache.
	if st := k.Stats(); st.Asked != 2 || st.CacheHits != 2 || st.Refused != 3 {
		t.Errorf("stats %+v; want 2 asked, 2 cache hits, 3 refused", st)
	}
	now = now.Add(6 * time.Second)
	_, _ = k.Validate(ctx, "garbage")
	if n := validations.Load(); n != 3 {
		t.Errorf("the garbage token was not asked again after its cache time: %d validations", n)
	}
	// Scopes and access rules are read from the token.
	if c, _ := k.Validate(ctx, "good-system"); c.Scope() != ScopeSystem {
		t.Errorf("system token: %+v", c)
	}
	if c, _ := k.Validate(ctx, "good-domain"); c.Scope() != ScopeDomain || c.DomainID != "default" {
		t.Errorf("domain token: %+v", c)
	}
	c, _ := k.Validate(ctx, "good-appcred")
	if c.AppCredID != "ac" || !c.Permits("vm-monitor", "GET", "/v1/instances/x") || c.Permits("vm-monitor", "GET", "/v1/instances") ||
		c.Permits("vm-monitor", "POST", "/v1/instances/x") || c.Permits("compute", "GET", "/v1/instances/x") {
		t.Errorf("application credential: %+v", c)
	}
	// The cache never holds more than its size, however many tokens come.
	for i := 0; i < 300; i++ {
		_, _ = k.Validate(ctx, fmt.Sprintf("garbage-%d", i))
	}
	if n := k.CacheLen(); n > 100 {
		t.Errorf("%d tokens cached; the bound is 100", n)
	}
}

func TestPathMatches(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"/v1/instances", "/v1/instances", true},
		{"/v1/instances", "/v1/instances/x", false},
		{"/v1/instances/*", "/v1/instances/x", true},
		{"/v1/instances/*", "/v1/instances/x/events", false},
		{"/v1/instances/**", "/v1/instances/x/events", true},
		{"/v1/instances/{id}/events", "/v1/instances/x/events", true},
		{"/v1/instances/{id}/events", "/v1/instances//events", false},
		{"/v1/a.b", "/v1/axb", false},
	}
	for _, c := range cases {
		if got := pathMatches(c.path, c.pattern); got != c.want {
			t.Errorf("%q ~ %q = %v; want %v", c.path, c.pattern, got, c.want)
		}
	}
}
