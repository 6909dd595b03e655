package transporturl

import (
	"errors"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in    string
		hosts []Host
		vhost string
		tls   bool
	}{
		{"rabbit://guest:guest@127.0.0.1:5672/", []Host{{"127.0.0.1", 5672, "guest", "guest"}}, "/", false},
		{"rabbit://u:p@h1:5673,u2:p2@h2/nova", []Host{{"h1", 5673, "u", "p"}, {"h2", 5672, "u2", "p2"}}, "nova", false},
		{"rabbit://h1", []Host{{"h1", 5672, "guest", "guest"}}, "/", false},
		{"rabbit://us%40er:p%3Aw%2Fd@[::1]:5671/v%2Fh?ssl=1", []Host{{"::1", 5671, "us@er", "p:w/d"}}, "v/h", true},
		{"rabbit://u:p@a@host:1/", []Host{{"host", 1, "u", "p@a"}}, "/", false},
		{"kombu://u@h?ssl=true&heartbeat=5", []Host{{"h", 5672, "u", ""}}, "/", true},
	}
	for _, c := range cases {
		u, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(u.Hosts, c.hosts) || u.VirtualHost != c.vhost || u.TLS() != c.tls {
			t.Errorf("Parse(%q) = %+v vhost %q tls %v; want %+v %q %v", c.in, u.Hosts, u.VirtualHost, u.TLS(), c.hosts, c.vhost, c.tls)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"", "127.0.0.1:5672", "kafka://h:9092", "rabbit://", "rabbit:///vhost",
		"rabbit://h:notaport/", "rabbit://h:70000/", "rabbit://[::1/", "rabbit://a,,b/",
		"rabbit://u:p@/", "rabbit://u:%zz@h/", "rabbit://h/%zz",
	} {
		if _, err := Parse(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v; want ErrSyntax", in, err)
		}
	}
}

func TestAMQPURIAndRedacted(t *testing.T) {
	u, err := Parse("rabbit://us%40er:s%2Fecret@h1:5673,bob:pw@[fe80::1]/my%2Fvhost?ssl=1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.AMQPURI(0), "amqps://us%40er:s%2Fecret@h1:5673/my%2Fvhost"; got != want {
		t.Errorf("AMQPURI(0) = %q; want %q", got, want)
	}
	if got, want := u.AMQPURI(1), "amqps://bob:pw@[fe80::1]:5672/my%2Fvhost"; got != want {
		t.Errorf("AMQPURI(1) = %q; want %q", got, want)
	}
	red := u.Redacted()
	if want := "rabbit://us%40er:***@h1:5673,bob:***@[fe80::1]:5672/my%2Fvhost?ssl=1"; red != want {
		t.Errorf("Redacted = %q; want %q", red, want)
	}
	u2, _ := Parse("rabbit://u:p@h/")
	if got, want := u2.AMQPURI(0), "amqp://u:p@h:5672/"; got != want {
		t.Errorf("AMQPURI default vhost = %q; want %q", got, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("rabbit://u:p@h1:5672,u:p@h2:5673/v?ssl=1")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			return
		}
		if len(u.Hosts) == 0 {
			t.Fatalf("Parse(%q) gave no hosts", s)
		}
		for i := range u.Hosts {
			_ = u.AMQPURI(i)
		}
		_ = u.Redacted()
	})
}
