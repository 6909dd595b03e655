package conf

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testRegistry declares a small set of options of every kind.
type testOpts struct {
	reg    *Registry
	name   StringOpt
	secret StringOpt
	port   IntOpt
	ratio  FloatOpt
	wait   SecondsOpt
	on     BoolOpt
	hosts  ListOpt
	mode   StringOpt
}

func newTestOpts() testOpts {
	r := NewRegistry()
	g := r.Group("DEFAULT", "", ServiceFile)
	a := r.Group("app", "The app.", ServiceFile|AgentFile)
	return testOpts{
		reg:    r,
		name:   r.String(g, "name", "vmmon", "A name."),
		secret: r.String(a, "password", "", "A password.", Secret()),
		port:   r.Port(a, "port", 8780, "A port.", DeprecatedName("DEFAULT", "app_port")),
		ratio:  r.Float(a, "ratio", 0.5, "A ratio.", Range(0, 1)),
		wait:   r.Seconds(a, "wait", 1.5, "A wait."),
		on:     r.Bool(a, "on", false, "A switch."),
		hosts:  r.List(a, "hosts", "a,b", "Hosts."),
		mode:   r.String(a, "mode", "fast", "A mode.", Choices("fast", "slow")),
	}
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	o := newTestOpts()
	c := o.reg.Empty()
	if o.name.Get(c) != "vmmon" || o.port.Get(c) != 8780 || o.ratio.Get(c) != 0.5 ||
		o.wait.Get(c) != 1500*time.Millisecond || o.on.Get(c) || o.mode.Get(c) != "fast" ||
		o.secret.Get(c) != "" || !reflect.DeepEqual(o.hosts.Get(c), []string{"a", "b"}) {
		t.Fatalf("defaults wrong: %v %v %v %v %v %v %q %v", o.name.Get(c), o.port.Get(c), o.ratio.Get(c),
			o.wait.Get(c), o.on.Get(c), o.mode.Get(c), o.secret.Get(c), o.hosts.Get(c))
	}
}

func TestLoadLaterWinsAndDir(t *testing.T) {
	o := newTestOpts()
	dir := t.TempDir()
	f1 := write(t, dir, "one.conf", "[DEFAULT]\nname = first\n[app]\nport = 1000\nhosts = x, y ,z\non = yes\n")
	f2 := write(t, dir, "two.conf", "# comment\n[app]\n; other comment\nport: 2000\nmode = 'slow'\n")
	cd := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(cd, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, cd, "20-b.conf", "[app]\nratio = 0.25\n")
	write(t, cd, "10-a.conf", "[app]\nratio = 0.75\nwait = 3\n")
	write(t, cd, "ignored.txt", "[nonsense\n")
	c, err := o.reg.Load(Sources{Files: []string{f1, f2}, Dirs: []string{cd}})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.name.Get(c); got != "first" {
		t.Errorf("name = %q", got)
	}
	if got := o.port.Get(c); got != 2000 {
		t.Errorf("port = %d; want the later file's 2000", got)
	}
	if got := o.ratio.Get(c); got != 0.25 {
		t.Errorf("ratio = %v; want 20-b.conf's 0.25", got)
	}
	if got := o.wait.Get(c); got != 3*time.Second {
		t.Errorf("wait = %v", got)
	}
	if got := o.hosts.Get(c); !reflect.DeepEqual(got, []string{"x", "y", "z"}) {
		t.Errorf("hosts = %q", got)
	}
	if !o.on.Get(c) || o.mode.Get(c) != "slow" {
		t.Errorf("on=%v mode=%q", o.on.Get(c), o.mode.Get(c))
	}
	if got := len(c.Files()); got != 4 {
		t.Errorf("files read = %d; want 4", got)
	}
}

func TestMultilineValue(t *testing.T) {
	o := newTestOpts()
	f := write(t, t.TempDir(), "m.conf", "[DEFAULT]\nname = line one\n  line two\n\n[app]\nport = 1\n")
	c, err := o.reg.Load(Sources{Files: []string{f}})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.name.Get(c); got != "line one\nline two" {
		t.Errorf("name = %q", got)
	}
}

func TestDeprecatedName(t *testing.T) {
	o := newTestOpts()
	f := write(t, t.TempDir(), "d.conf", "[DEFAULT]\napp_port = 1234\n")
	c, err := o.reg.Load(Sources{Files: []string{f}})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.port.Get(c); got != 1234 {
		t.Errorf("port = %d; want 1234 from the deprecated name", got)
	}
	var buf bytes.Buffer
	c.Log(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if !strings.Contains(buf.String(), `used="[DEFAULT] app_port" use_instead="[app] port"`) {
		t.Errorf("no deprecation warning in log:\n%s", buf.String())
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		body string
		want string
	}{
		{"[app]\nport = abc\n", `x.conf:2: [app] port = "abc": expected an integer between 1 and 65535`},
		{"[app]\nport = 70000\n", `x.conf:2: [app] port = "70000": expected an integer between 1 and 65535`},
		{"[app]\nratio = 2\n", `x.conf:2: [app] ratio = "2": expected a number between 0 and 1`},
		{"[app]\non = maybe\n", `x.conf:2: [app] on = "maybe": expected true or false`},
		{"[app]\nmode = medium\n", `x.conf:2: [app] mode = "medium": expected one of fast, slow`},
		{"[app]\nprot = 1\n", `x.conf:2: [app] prot: unknown option; options of [app] are password, port, ratio, wait, on, hosts, mode`},
		{"[DEFAULT]\nport = 1\n", `x.conf:2: [DEFAULT] port: unknown option; did you mean [app] port?`},
		{"[nope]\n", `x.conf:1: [nope] unknown section; known sections: DEFAULT, app`},
		{"name = x\n", `x.conf:1: option before any [section] header`},
		{"[app\n", `x.conf:1: section header "[app" lacks its closing ]`},
		{"[app]\njust words\n", `x.conf:2: [app] expected 'name = value', found "just words"`},
		{"[app]\npassword = \n", ""},
		{"[app]\nwait = -1\n", `x.conf:2: [app] wait = "-1": expected a number of at least 0`},
	}
	for _, c := range cases {
		o := newTestOpts()
		dir := t.TempDir()
		f := write(t, dir, "x.conf", c.body)
		_, err := o.reg.Load(Sources{Files: []string{f}})
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: unexpected error %v", c.body, err)
			}
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %v is not a *conf.Error", c.body, err)
			continue
		}
		if got := strings.TrimPrefix(err.Error(), dir+"/"); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.body, got, c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error spans lines: %q", c.body, err)
		}
	}
}

func TestUnknownIsWrapped(t *testing.T) {
	o := newTestOpts()
	f := write(t, t.TempDir(), "x.conf", "[app]\nbogus = 1\n")
	_, err := o.reg.Load(Sources{Files: []string{f}})
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("err = %v; want ErrUnknown", err)
	}
}

func TestMissingFileAndDir(t *testing.T) {
	o := newTestOpts()
	_, err := o.reg.Load(Sources{Files: []string{"/nonexistent/vmmon.conf"}})
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "/nonexistent/vmmon.conf: cannot read config file") {
		t.Errorf("missing file: %v", err)
	}
	_, err = o.reg.Load(Sources{Dirs: []string{"/nonexistent/conf.d"}})
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "/nonexistent/conf.d: cannot read config directory") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestSecretNeverShown(t *testing.T) {
	r := NewRegistry()
	g := r.Group("a", "", ServiceFile)
	pw := r.String(g, "pw", "", "", Secret(), Validator(func(string) error { return errors.New("bad value") }))
	f := write(t, t.TempDir(), "x.conf", "[a]\npw = hunter2\n")
	_, err := r.Load(Sources{Files: []string{f}})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "****") {
		t.Errorf("error shows or lacks mask: %v", err)
	}
	c := r.Empty()
	if err := c.Set(pw.Opt, "ok"); err == nil {
		t.Fatal("validator not applied by Set")
	}
	o := newTestOpts()
	f = write(t, t.TempDir(), "y.conf", "[app]\npassword = hunter2\n")
	c, err = o.reg.Load(Sources{Files: []string{f}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c.Log(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if strings.Contains(buf.String(), "hunter2") || !strings.Contains(buf.String(), "option=app.password value=****") {
		t.Errorf("log shows the secret or no mask:\n%s", buf.String())
	}
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	def := write(t, dir, "default.conf", "")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := AddFlags(fs, def, filepath.Join(dir, "absent.conf"))
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if got := f.Sources(); !reflect.DeepEqual(got.Files, []string{def}) {
		t.Errorf("defaults: %v", got.Files)
	}
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	f = AddFlags(fs, def)
	if err := fs.Parse([]string{"--config-file", "a", "--config-file=b", "--config-dir", "d"}); err != nil {
		t.Fatal(err)
	}
	got := f.Sources()
	if !reflect.DeepEqual(got.Files, []string{"a", "b"}) || !reflect.DeepEqual(got.Dirs, []string{"d"}) {
		t.Errorf("flags: %+v", got)
	}
}

func TestSampleFormat(t *testing.T) {
	o := newTestOpts()
	var b bytes.Buffer
	if err := o.reg.WriteSample(&b, AgentFile); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"[app]\n\n# The app.\n",
		"# A port. (port value)\n# Minimum value: 1\n# Maximum value: 65535\n# Deprecated group/name - [DEFAULT]/app_port\n#port = 8780\n",
		"# A password. (string value)\n# Secret: never logged.\n#password = <None>\n",
		"# A mode. (string value)\n# Possible values:\n#     fast\n#     slow\n#mode = fast\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("sample lacks %q:\n%s", want, s)
		}
	}
	if strings.HasPrefix(s, "[DEFAULT]") || strings.Contains(s, "\n[DEFAULT]\n") {
		t.Error("agent sample holds a group that is not the agent's")
	}
}

// The samples in etc/vmmon/ must be what `make genconfig` writes now.
func TestSamplesUpToDate(t *testing.T) {
	for _, f := range Files {
		var b bytes.Buffer
		if err := Default.WriteSample(&b, f.File); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("..", "..", "etc", "vmmon", f.Sample)
		have, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run make genconfig)", err)
		}
		if !bytes.Equal(have, b.Bytes()) {
			t.Errorf("%s is stale: run make genconfig and commit it", path)
		}
	}
}

// Every declared default must load back from its own sample.
func TestSampleLoadsBack(t *testing.T) {
	for _, f := range Files {
		var b bytes.Buffer
		if err := Default.WriteSample(&b, f.File); err != nil {
			t.Fatal(err)
		}
		// Uncomment every "#name = value" line whose value is not a placeholder.
		var out []string
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "# ") && strings.Contains(line, " = ") &&
				!strings.HasSuffix(line, "<None>") && !strings.Contains(line, "= <") {
				line = line[1:]
			}
			out = append(out, line)
		}
		p := write(t, t.TempDir(), f.Sample, strings.Join(out, "\n"))
		if _, err := Default.Load(Sources{Files: []string{p}}); err != nil {
			t.Errorf("%s with its defaults uncommented does not load: %v", f.Sample, err)
		}
	}
}
