// Package transporturl parses oslo.messaging transport URLs such as
// rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost?ssl=1, which list
// several hosts and so cannot be parsed by net/url.
package transporturl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPort is RabbitMQ's AMQP port.
const DefaultPort = 5672

// Host is one broker of a transport URL.
type Host struct {
	Hostname string
	Port     int
	Username string
	Password string
}

// Addr is host:port, with IPv6 literals bracketed.
func (h Host) Addr() string { return net.JoinHostPort(h.Hostname, strconv.Itoa(h.Port)) }

// URL is a parsed transport URL.
type URL struct {
	Scheme      string
	Hosts       []Host
	VirtualHost string // "/" when the URL names none
	Query       url.Values
}

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid transport URL")

func syntax(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, a...))
}

// Parse parses s. Hosts without credentials get RabbitMQ's guest/guest; the
// query keys ssl=true|1 and the rest are kept in Query.
func Parse(s string) (*URL, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, syntax("expected rabbit://user:pass@host:port[,user:pass@host:port]/vhost")
	}
	switch scheme {
	case "rabbit", "kombu", "amqp":
	default:
		return nil, syntax("scheme %q is not supported; vmmon speaks to RabbitMQ: use rabbit://", scheme)
	}
	u := &URL{Scheme: "rabbit", VirtualHost: "/", Query: url.Values{}}
	netloc := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		netloc = rest[:i]
		rest = rest[i:]
	} else {
		rest = ""
	}
	path, query, _ := strings.Cut(rest, "?")
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, syntax("query %q: %v", query, err)
		}
		u.Query = q
	}
	if p := strings.TrimPrefix(path, "/"); p != "" {
		vh, err := url.PathUnescape(p)
		if err != nil {
			return nil, syntax("virtual host %q: %v", p, err)
		}
		u.VirtualHost = vh
	}
	if netloc == "" {
		return nil, syntax("no host; expected rabbit://user:pass@host:port/")
	}
	for _, part := range strings.Split(netloc, ",") {
		h, err := parseHost(part)
		if err != nil {
			return nil, err
		}
		u.Hosts = append(u.Hosts, h)
	}
	return u, nil
}

func parseHost(s string) (Host, error) {
	h := Host{Username: "guest", Password: "guest", Port: DefaultPort}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		user, pass, hasPass := strings.Cut(s[:i], ":")
		var err error
		if h.Username, err = url.PathUnescape(user); err != nil {
			return h, syntax("user name in %q: %v", redactHost(s), err)
		}
		h.Password = ""
		if hasPass {
			if h.Password, err = url.PathUnescape(pass); err != nil {
				return h, syntax("password of %q cannot be decoded (percent-encode it)", h.Username)
			}
		}
		s = s[i+1:]
	}
	if s == "" {
		return h, syntax("empty host in host list")
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return h, syntax("IPv6 address %q lacks its closing ]", s)
		}
		host, port = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return h, syntax("unexpected %q after IPv6 address", s[end+1:])
		}
	} else if i := strings.LastIndex(s, ":"); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	if host == "" {
		return h, syntax("empty host name in %q", s)
	}
	h.Hostname = host
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return h, syntax("port %q of %s is not a number between 1 and 65535", port, host)
		}
		h.Port = p
	}
	return h, nil
}

func redactHost(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "***@" + s[i+1:]
	}
	return s
}

// TLS reports whether the URL asks for TLS (?ssl=1 or ?ssl=true).
func (u *URL) TLS() bool {
	switch strings.ToLower(u.Query.Get("ssl")) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// AMQPURI returns the amqp:// (or amqps://) URI of host i, for amqp091-go.
func (u *URL) AMQPURI(i int) string {
	h := u.Hosts[i]
	scheme := "amqp"
	if u.TLS() {
		scheme = "amqps"
	}
	vh := u.VirtualHost
	if vh == "/" {
		vh = ""
	}
	return (&url.URL{Scheme: scheme, User: url.UserPassword(h.Username, h.Password),
		Host: h.Addr(), Path: "/" + vh, RawPath: "/" + url.PathEscape(vh)}).String()
}

// Redacted renders the URL with passwords hidden, for logs and errors.
func (u *URL) Redacted() string {
	var hosts []string
	for _, h := range u.Hosts {
		hosts = append(hosts, escapeUser(h.Username)+":***@"+h.Addr())
	}
	s := u.Scheme + "://" + strings.Join(hosts, ",") + "/"
	if u.VirtualHost != "/" {
		s += url.PathEscape(u.VirtualHost)
	}
	if len(u.Query) > 0 {
		s += "?" + u.Query.Encode()
	}
	return s
}

// Validate checks that s parses, for configuration options.
func Validate(s string) error {
	_, err := Parse(s)
	return err
}

// escapeUser percent-encodes a user name so that it reads back unchanged.
func escapeUser(s string) string {
	return strings.NewReplacer("@", "%40", ":", "%3A", ",", "%2C").Replace(url.PathEscape(s))
}
