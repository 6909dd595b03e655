package scrape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const doc = "# HELP up 1 when up.\n# TYPE up gauge\nup 1\n"

// serve starts a Server on a loopback port and returns its address.
func serve(t *testing.T, write func(context.Context, io.Writer) error) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := &Server{Path: "/metrics", Write: write, ReadTimeout: 300 * time.Millisecond}
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

func writeDoc(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, doc)
	return err
}

// raw sends request as it is and returns the whole answer.
func raw(t *testing.T, addr, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return string(b)
}

func TestAnswers(t *testing.T) {
	addr := serve(t, writeDoc)
	for _, tc := range []struct {
		name, request string
		status        string // the status line
		has, hasNot   []string
	}{
		{"GET", "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n", "HTTP/1.1 200 OK",
			[]string{"Content-Type: " + ContentType + "\r\n", fmt.Sprintf("Content-Length: %d\r\n", len(doc)), "Connection: close\r\n", "\r\n\r\n" + doc}, nil},
		{"GET with a query", "GET /metrics?x=1 HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK", []string{doc}, nil},
		{"GET, bare newlines", "GET /metrics HTTP/1.1\nHost: x\n\n", "HTTP/1.1 200 OK", []string{doc}, nil},
		{"absolute form", "GET http://node-1:9110/metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK", []string{doc}, nil},
		{"HEAD", "HEAD /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK", []string{fmt.Sprintf("Content-Length: %d\r\n", len(doc))}, []string{"up 1"}},
		{"other path", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found", []string{"this agent serves /metrics"}, []string{"up 1"}},
		{"POST", "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed", []string{"Allow: GET, HEAD\r\n"}, []string{"up 1"}},
		{"not HTTP", "hello\r\n\r\n", "HTTP/1.1 400 Bad Request", []string{"not an HTTP/1.x request line"}, nil},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 400 Bad Request", nil, nil},
		{"bad target", "GET metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request", []string{"request target"}, nil},
		{"head cut short", "GET /metrics HTTP/1.1\r\nHost: x\r\n", "", nil, nil},
		{"head too long", "GET /metrics HTTP/1.1\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n", "HTTP/1.1 400 Bad Request",
			[]string{"longer than 8192 bytes"}, []string{"up 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := raw(t, addr, tc.request)
			if tc.status == "" {
				// Half a head and then nothing: the server waits for the
				// rest until its read timeout, then closes.
				if got != "" {
					t.Errorf("answer %q, want none", got)
				}
				return
			}
			if line, _, _ := strings.Cut(got, "\r\n"); line != tc.status {
				t.Errorf("status line %q, want %q (answer %q)", line, tc.status, got)
			}
			for _, s := range tc.has {
				if !strings.Contains(got, s) {
					t.Errorf("answer lacks %q: %q", s, got)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(got, s) {
					t.Errorf("answer has %q: %q", s, got)
				}
			}
		})
	}
}

// TestHTTPClient scrapes with Go's HTTP client, as Prometheus does.
func TestHTTPClient(t *testing.T) {
	addr := serve(t, writeDoc)
	for range 3 { // one connection each: the client must not reuse a closed one
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(body) != doc || resp.Header.Get("Content-Type") != ContentType {
			t.Fatalf("GET: %d %q %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
		}
	}
	resp, err := http.Head("http://" + addr + "/metrics")
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(doc)) {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestWriteFails(t *testing.T) {
	addr := serve(t, func(context.Context, io.Writer) error { return errors.New("heartbeat unavailable") })
	got := raw(t, addr, "GET /metrics HTTP/1.1\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 500 ") || !strings.HasSuffix(got, "heartbeat unavailable\n") {
		t.Errorf("answer %q", got)
	}
}

// TestSilentClient: a client that connects and sends nothing holds a slot
// only until the read timeout, and the others are still answered.
func TestSilentClient(t *testing.T) {
	addr := serve(t, writeDoc)
	var idle []net.Conn
	for range maxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	for _, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
			t.Fatalf("a silent client got %d bytes, %v; want the connection closed", n, err)
		}
	}
	if got := raw(t, addr, "GET /metrics HTTP/1.1\r\n\r\n"); !strings.HasSuffix(got, doc) {
		t.Errorf("after the silent clients: %q", got)
	}
}

// TestStops: Serve returns once its context ends, and the port is closed.
func TestStops(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{Path: "/metrics", Write: writeDoc}).Serve(ctx, l) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still running after its context ended")
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Error("the port still accepts connections")
	}
}
