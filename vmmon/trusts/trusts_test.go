package trusts

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// keystone is a fixture of the identity calls trusts make.
func keystone(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body map[string]any)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
		handle(w, r, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCreate(t *testing.T) {
	var got map[string]any
	var token string
	srv := keystone(t, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		if r.Method != http.MethodPost || r.URL.Path != "/v3/OS-TRUST/trusts" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		got, token = body["trust"].(map[string]any), r.Header.Get("X-Auth-Token")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"trust": {"id": "t-1", "impersonation": true}}`)
	})
	m := &Maker{IdentityURL: srv.URL + "/v3", Trustee: func(context.Context) (string, error) { return "vmmon-user", nil }}
	id, err := m.Create(context.Background(), Trustor{UserID: "u-1", ProjectID: "p-1", Roles: []string{"member", "reader"}, Token: "tok"})
	if err != nil || id != "t-1" {
		t.Fatalf("Create: %q, %v", id, err)
	}
	roles, _ := json.Marshal(got["roles"])
	if token != "tok" || got["trustor_user_id"] != "u-1" || got["trustee_user_id"] != "vmmon-user" || got["project_id"] != "p-1" ||
		got["impersonation"] != true || string(roles) != `[{"name":"member"},{"name":"reader"}]` || got["expires_at"] != nil {
		t.Errorf("request: token %q, %v", token, got)
	}
	if _, err := m.Create(context.Background(), Trustor{UserID: "u-1", Token: "tok"}); !errors.Is(err, ErrRefused) {
		t.Errorf("without a project: %v", err)
	}
}

func TestCreateRefused(t *testing.T) {
	for _, c := range []struct {
		status int
		want   error
	}{{403, ErrRefused}, {400, ErrRefused}, {503, ErrUnavailable}} {
		srv := keystone(t, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(c.status)
			_, _ = io.WriteString(w, `{"error": {"code": 403, "message": "Using method 'application_credential' is not allowed for managing trusts."}}`)
		})
		m := &Maker{IdentityURL: srv.URL + "/v3", Trustee: func(context.Context) (string, error) { return "vmmon-user", nil }}
		_, err := m.Create(context.Background(), Trustor{UserID: "u", ProjectID: "p", Token: "t"})
		if !errors.Is(err, c.want) || (c.status < 500 && !strings.Contains(err.Error(), "not allowed for managing trusts")) {
			t.Errorf("%d: %v", c.status, err)
		}
	}
}

func TestDelete(t *testing.T) {
	status := http.StatusNoContent
	var paths []string
	srv := keystone(t, func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		paths = append(paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Auth-Token"))
		w.WriteHeader(status)
	})
	m := &Maker{IdentityURL: srv.URL + "/v3"}
	if err := m.Delete(context.Background(), "tok", "t-1"); err != nil {
		t.Fatal(err)
	}
	status = http.StatusNotFound
	if err := m.Delete(context.Background(), "tok", "t-1"); err != nil {
		t.Errorf("a trust already gone: %v", err)
	}
	status = http.StatusForbidden
	if err := m.Delete(context.Background(), "tok", "t-1"); !errors.Is(err, ErrRefused) {
		t.Errorf("refused: %v", err)
	}
	if paths[0] != "DELETE /v3/OS-TRUST/trusts/t-1 tok" {
		t.Errorf("requests: %v", paths)
	}
}

// Use authenticates the service user scoped to the trust and picks Nova's
// endpoint of the configured interface; a revoked trust is ErrInvalid.
func TestUse(t *testing.T) {
	revoked := false
	var scope any
	srv := keystone(t, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		if r.URL.Path != "/v3/auth/tokens" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		scope = body["auth"].(map[string]any)["scope"]
		w.Header().Set("Content-Type", "application/json")
		if revoked {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error": {"code": 404, "message": "Could not find trust: t-1."}}`)
			return
		}
		w.Header().Set("X-Subject-Token", "trust-token")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"token": {"expires_at": "2099-01-01T00:00:00Z", "catalog": [{"type": "compute", "name": "nova", "endpoints": [
			{"interface": "public", "region": "RegionOne", "url": "http://nova.public/v2.1"},
			{"interface": "internal", "region": "RegionOne", "url": "http://nova.internal/v2.1"}]}]}}`)
	})
	c := &Credentials{AuthURL: srv.URL + "/v3", Username: "vmmon", Password: "pw", UserDomainName: "Default", Interface: "internal"}
	s, err := c.Use(context.Background(), "t-1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Token != "trust-token" || s.ComputeURL != "http://nova.internal/v2.1/" {
		t.Errorf("session %+v", s)
	}
	if raw, _ := json.Marshal(scope); string(raw) != `{"OS-TRUST:trust":{"id":"t-1"}}` {
		t.Errorf("scope %s", raw)
	}
	revoked = true
	if _, err := c.Use(context.Background(), "t-1"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Could not find trust") {
		t.Errorf("revoked: %v", err)
	}
}
