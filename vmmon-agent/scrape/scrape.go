// Package scrape answers Prometheus' scrapes of vmmon-agent's own metrics:
// a GET or HEAD of one path over HTTP/1.x, one request per connection, with
// the net package alone.
//
// net/http, with what it brings, is an eighth of the agent's executable, and
// on a compute node most of those pages stay resident: 0.8 MiB of the
// agent's 30 at 200 domains (doc/benchmarks.rst). A scrape needs none of
// it: one request line, headers to skip, one answer.
package scrape

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ContentType is Prometheus' text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

const (
	maxHead  = 8 << 10 // request line and headers
	maxConns = 4       // answered at once
)

// Server answers GET and HEAD of Path with what Write writes; other paths
// get 404, other methods 405, what is not an HTTP/1.x request 400.
type Server struct {
	Path  string
	Write func(ctx context.Context, w io.Writer) error
	// ReadTimeout bounds reading a request, WriteTimeout writing the
	// answer (5 s and 10 s when zero).
	ReadTimeout, WriteTimeout time.Duration
}

// ListenAndServe listens on addr (host:port) and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, l)
}

// Serve answers connections accepted on l until ctx ends, then closes l.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	slots := make(chan struct{}, maxConns)
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return fmt.Errorf("scrape: accepting: %w", err)
		}
		// Beyond maxConns, connections wait in the listen queue until a
		// slot is free (a silent client frees its own at ReadTimeout).
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			_ = c.Close()
			return nil
		}
		go func() {
			defer func() { <-slots }()
			s.answer(ctx, c)
		}()
	}
}

// answer reads one request from c and answers it.
func (s *Server) answer(ctx context.Context, c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(or(s.ReadTimeout, 5*time.Second)))
	method, target, err := readHead(bufio.NewReaderSize(io.LimitReader(c, maxHead), 1024))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		_ = c.Close() // a client that sends no whole request gets nothing
		return
	}
	defer linger(c)
	_ = c.SetWriteDeadline(time.Now().Add(or(s.WriteTimeout, 10*time.Second)))
	withBody := method != "HEAD"
	switch {
	case err != nil:
		reply(c, "400 Bad Request", "", []byte(err.Error()+"\n"), true)
	case target != s.Path:
		reply(c, "404 Not Found", "", []byte("404 page not found: this agent serves "+s.Path+"\n"), withBody)
	case method != "GET" && method != "HEAD":
		reply(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", []byte("use GET or HEAD\n"), true)
	default:
		var body bytes.Buffer
		if err := s.Write(ctx, &body); err != nil {
			reply(c, "500 Internal Server Error", "", []byte(err.Error()+"\n"), withBody)
			return
		}
		reply(c, "200 OK", "Content-Type: "+ContentType+"\r\n", body.Bytes(), withBody)
	}
}

// readHead reads a request line and skips the headers up to the empty line
// (a connection closed with unread data would be reset, and the answer lost).
// It returns the method and the target's path.
func readHead(r *bufio.Reader) (method, path string, err error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", "", headErr(err)
	}
	parts := strings.Split(strings.TrimRight(line, "\r\n"), " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") || parts[0] == "" {
		return "", "", errors.New("not an HTTP/1.x request line")
	}
	u, err := url.ParseRequestURI(parts[1])
	if err != nil {
		return "", "", fmt.Errorf("request target: %w", err)
	}
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return "", "", headErr(err)
		}
		if h == "\r\n" || h == "\n" {
			return parts[0], u.Path, nil
		}
	}
}

func headErr(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("request head cut short or longer than %d bytes", maxHead)
	}
	return err
}

// reply writes a whole answer; the connection closes after it.
func reply(w io.Writer, status, headers string, body []byte, withBody bool) {
	if !strings.HasPrefix(status, "200") {
		headers += "Content-Type: text/plain; charset=utf-8\r\n"
	}
	head := "HTTP/1.1 " + status + "\r\n" + headers +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n"
	if !withBody {
		body = nil
	}
	_, _ = w.Write(append([]byte(head), body...))
}

// linger closes c once the client has what was written: a connection
// closed with data it has not read is reset, which may drop the answer
// before the client reads it (a request longer than maxHead, a POST's
// body). The write side is shut first, then what the client still sends is
// read and dropped, for a moment and up to a bound.
func linger(c net.Conn) {
	defer c.Close()
	tc, ok := c.(*net.TCPConn)
	if !ok || tc.CloseWrite() != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
