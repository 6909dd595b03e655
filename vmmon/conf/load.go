package conf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Error is a configuration problem, located as precisely as it is known.
type Error struct {
	File    string
	Line    int
	Section string
	Option  string
	Value   string // already masked when the option is secret
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Section != "" {
		fmt.Fprintf(&b, "[%s] ", e.Section)
	}
	if e.Option != "" {
		b.WriteString(e.Option)
		if e.Value != "" {
			fmt.Fprintf(&b, " = %q", e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnknown is wrapped by errors about unknown sections and options.
var ErrUnknown = errors.New("unknown")

const mask = "****"

// Sources says where configuration comes from.
type Sources struct {
	// Files are read in order; later files win.
	Files []string
	// Dirs add their *.conf files, in lexical order, after Files.
	Dirs []string
}

type setting struct {
	value  any
	file   string
	line   int
	viaOld *Name // set when a deprecated name gave the value
}

// Config is a loaded configuration.
type Config struct {
	reg   *Registry
	set   map[*Opt]setting
	files []string
}

// Load reads the sources with the [Default] registry.
func Load(src Sources) (*Config, error) { return Default.Load(src) }

// Empty returns a configuration with every option at its default.
func (r *Registry) Empty() *Config { return &Config{reg: r, set: map[*Opt]setting{}} }

// Load reads the sources into a new Config. Any problem is an *Error.
func (r *Registry) Load(src Sources) (*Config, error) {
	c := r.Empty()
	files := append([]string(nil), src.Files...)
	for _, d := range src.Dirs {
		matches, err := filepath.Glob(filepath.Join(d, "*.conf"))
		if err == nil {
			if _, serr := os.Stat(d); serr != nil {
				err = serr
			}
		}
		if err != nil {
			return nil, &Error{File: d, Err: fmt.Errorf("cannot read config directory: %w", unwrapPath(err))}
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	for _, f := range files {
		if err := c.readFile(f); err != nil {
			return nil, err
		}
		c.files = append(c.files, f)
	}
	return c, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (c *Config) readFile(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return &Error{File: path, Err: fmt.Errorf("cannot read config file: %w", unwrapPath(err))}
	}
	defer fh.Close()
	return c.read(path, fh)
}

type pending struct {
	section, key, value string
	line                int
}

func (c *Config) read(path string, rd io.Reader) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var (
		section string
		cur     *pending
		n       int
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		p := cur
		cur = nil
		return c.apply(path, p)
	}
	for sc.Scan() {
		n++
		raw := sc.Text()
		trimmed := strings.TrimSpace(raw)
		// An indented line continues the previous value (oslo.config's multi-line values).
		if cur != nil && trimmed != "" && (raw[0] == ' ' || raw[0] == '\t') &&
			!strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, ";") {
			cur.value += "\n" + trimmed
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";"):
		case strings.HasPrefix(trimmed, "["):
			if !strings.HasSuffix(trimmed, "]") {
				return &Error{File: path, Line: n, Err: fmt.Errorf("section header %q lacks its closing ]", trimmed)}
			}
			section = strings.TrimSpace(trimmed[1 : len(trimmed)-1])
			if _, ok := c.reg.byName[section]; !ok {
				return &Error{File: path, Line: n, Section: section,
					Err: fmt.Errorf("%w section; known sections: %s", ErrUnknown, strings.Join(c.reg.groupNames(), ", "))}
			}
		default:
			i := strings.IndexAny(trimmed, "=:")
			if i < 0 {
				return &Error{File: path, Line: n, Section: section,
					Err: fmt.Errorf("expected 'name = value', found %q", trimmed)}
			}
			if section == "" {
				return &Error{File: path, Line: n, Err: errors.New("option before any [section] header")}
			}
			cur = &pending{section: section, key: strings.TrimSpace(trimmed[:i]),
				value: unquote(strings.TrimSpace(trimmed[i+1:])), line: n}
		}
	}
	if err := sc.Err(); err != nil {
		return &Error{File: path, Line: n, Err: fmt.Errorf("cannot read config file: %w", err)}
	}
	return flush()
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func (c *Config) apply(path string, p *pending) error {
	n := Name{p.section, p.key}
	o, dep := c.reg.lookup(n)
	if o == nil {
		return &Error{File: path, Line: p.line, Section: p.section, Option: p.key,
			Err: fmt.Errorf("%w option%s", ErrUnknown, c.reg.suggest(n))}
	}
	v, err := o.parse(p.value)
	if err != nil {
		shown := p.value
		if o.Secret {
			shown = mask
		}
		return &Error{File: path, Line: p.line, Section: p.section, Option: p.key, Value: shown, Err: err}
	}
	s := setting{value: v, file: path, line: p.line}
	if dep {
		s.viaOld = &n
	}
	c.set[o] = s
	return nil
}

func (r *Registry) groupNames() []string {
	var names []string
	for _, g := range r.Groups() {
		names = append(names, g.Name)
	}
	return names
}

// suggest names the options of the section, or where a misplaced option belongs.
func (r *Registry) suggest(n Name) string {
	for _, g := range r.groups {
		if o, ok := r.opts[Name{g.Name, n.Name}]; ok {
			return fmt.Sprintf("; did you mean %s?", o.Key())
		}
	}
	g := r.byName[n.Group]
	if g == nil || len(g.opts) == 0 {
		return ""
	}
	var names []string
	for _, o := range g.opts {
		names = append(names, o.Name)
	}
	return "; options of [" + g.Name + "] are " + strings.Join(names, ", ")
}

func (c *Config) value(o *Opt) any {
	if s, ok := c.set[o]; ok {
		return s.value
	}
	if o.Default == "" {
		switch o.Kind {
		case KindList:
			return []string(nil)
		case KindString:
			return ""
		}
	}
	v, err := o.parse(o.Default)
	if err != nil {
		panic(fmt.Sprintf("conf: default of %s: %v", o.Key(), err)) // checked at declaration
	}
	return v
}

// IsSet reports whether a source gave the option a value.
func (c *Config) IsSet(o *Opt) bool { _, ok := c.set[o]; return ok }

// Set gives an option a value as if a file had said it (for commands and tests).
func (c *Config) Set(o *Opt, raw string) error {
	return c.apply("", &pending{section: o.Group.Name, key: o.Name, value: raw})
}

// Files lists the files that were read, in order.
func (c *Config) Files() []string { return append([]string(nil), c.files...) }

// Log writes, at debug level, every option's value (secrets masked) and, at
// warning level, each deprecated name in use, like oslo.config's log_opt_values.
func (c *Config) Log(logger *slog.Logger) {
	for _, g := range c.reg.Groups() {
		for _, o := range g.opts {
			s, ok := c.set[o]
			if ok && s.viaOld != nil {
				logger.Warn("deprecated configuration option name", "file", s.file, "line", s.line,
					"used", s.viaOld.String(), "use_instead", o.Key().String())
			}
			var shown any = c.value(o)
			if o.Secret {
				shown = mask
			}
			logger.Debug("config", "option", g.Name+"."+o.Name, "value", shown)
		}
	}
}
