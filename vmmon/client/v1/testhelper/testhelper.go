// Package testhelper is the fake vmmon-api of the client's fixture tests
// (as gophercloud's testhelper): a server whose handlers check each
// request (method, token) and answer canned bodies, and a client of it.
package testhelper

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
)

// Token is the token the fake server expects.
const Token = "token"

// Request is what a handler was asked.
type Request struct {
	Method, Path string
	Query        map[string][]string
	Header       http.Header
	Body         string
}

// Server is the fake API.
type Server struct {
	Mux      *http.ServeMux
	URL      string
	Requests []Request
}

// Setup starts a fake server for the test.
func Setup(t *testing.T) *Server {
	t.Helper()
	s := &Server{Mux: http.NewServeMux()}
	srv := httptest.NewServer(s.Mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Client returns a client of the server's /v1 with Token.
func (s *Server) Client() *gophercloud.ServiceClient {
	provider := &gophercloud.ProviderClient{}
	provider.SetToken(Token)
	return &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: s.URL + "/v1/", ResourceBase: s.URL + "/v1/"}
}

// Handle answers method path with status and body, where %s stands for the
// server's URL; next, when given, answers a request with a marker instead.
// It fails the test on another method or token, and records the request.
func (s *Server) Handle(t *testing.T, method, path string, status int, body string, next ...string) {
	s.Mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method || r.Header.Get("X-Auth-Token") != Token {
			t.Errorf("%s %s with token %q; want %s with %q", r.Method, r.URL, r.Header.Get("X-Auth-Token"), method, Token)
		}
		raw, _ := io.ReadAll(r.Body)
		s.Requests = append(s.Requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: string(raw)})
		out := body
		if len(next) > 0 && r.URL.Query().Get("marker") != "" {
			out = next[0]
		}
		if strings.HasPrefix(out, "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(strings.ReplaceAll(out, "%s", s.URL)))
	})
}

// ResponseCodeIs reports whether err is an unexpected response of status
// code (gophercloud.ResponseCodeIs, for tests' readability).
func ResponseCodeIs(err error, code int) bool { return gophercloud.ResponseCodeIs(err, code) }
