package conf

import (
	"fmt"
	"sort"
)

// File is a configuration file a group of options belongs in.
type File int

// The configuration files vmmon reads.
const (
	// ServiceFile is vmmon.conf, read by vmmon-api, vmmon-collector and vmmon-manage.
	ServiceFile File = 1 << iota
	// AgentFile is vmmon-agent.conf, read by vmmon-agent on compute nodes.
	AgentFile
)

// Files lists every File with its sample name, in the order samples are written.
var Files = []struct {
	File   File
	Sample string
}{
	{ServiceFile, "vmmon.conf.sample"},
	{AgentFile, "vmmon-agent.conf.sample"},
}

// Group is a section of the configuration.
type Group struct {
	Name  string
	Help  string
	Files File
	opts  []*Opt
}

// Opts returns the group's options in declaration order.
func (g *Group) Opts() []*Opt { return g.opts }

// Registry holds option declarations. Packages declare into [Default].
type Registry struct {
	groups []*Group
	byName map[string]*Group
	opts   map[Name]*Opt
	// deprecated maps an old name to the option that replaced it.
	deprecated map[Name]*Opt
}

// NewRegistry returns an empty registry (tests declare into their own).
func NewRegistry() *Registry {
	return &Registry{byName: map[string]*Group{}, opts: map[Name]*Opt{}, deprecated: map[Name]*Opt{}}
}

// Default is the registry holding all of vmmon's options.
var Default = NewRegistry()

// Groups returns the groups in declaration order, DEFAULT first.
func (r *Registry) Groups() []*Group {
	out := append([]*Group(nil), r.groups...)
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Name == "DEFAULT" && out[j].Name != "DEFAULT"
	})
	return out
}

// Group declares a section.
func (r *Registry) Group(name, help string, files File) *Group {
	if _, dup := r.byName[name]; dup {
		panic(fmt.Sprintf("conf: group [%s] declared twice", name))
	}
	g := &Group{Name: name, Help: help, Files: files}
	r.groups = append(r.groups, g)
	r.byName[name] = g
	return g
}

func (r *Registry) add(g *Group, name string, kind Kind, def, help string, fns []OptFunc) *Opt {
	o := &Opt{Group: g, Name: name, Kind: kind, Default: def, Help: help}
	for _, f := range fns {
		f(o)
	}
	k := o.Key()
	if _, dup := r.opts[k]; dup {
		panic(fmt.Sprintf("conf: option %s declared twice", k))
	}
	if def != "" {
		if _, err := o.parse(def); err != nil {
			panic(fmt.Sprintf("conf: default of %s: %v", k, err))
		}
	}
	r.opts[k] = o
	for _, d := range o.Deprecated {
		r.deprecated[d] = o
	}
	g.opts = append(g.opts, o)
	return o
}

// String declares a string option.
func (r *Registry) String(g *Group, name, def, help string, fns ...OptFunc) StringOpt {
	return StringOpt{r.add(g, name, KindString, def, help, fns)}
}

// Int declares an integer option.
func (r *Registry) Int(g *Group, name string, def int, help string, fns ...OptFunc) IntOpt {
	return IntOpt{r.add(g, name, KindInt, fmt.Sprint(def), help, fns)}
}

// Port declares a TCP port option.
func (r *Registry) Port(g *Group, name string, def int, help string, fns ...OptFunc) IntOpt {
	fns = append([]OptFunc{Range(1, 65535)}, fns...)
	return IntOpt{r.add(g, name, KindPort, fmt.Sprint(def), help, fns)}
}

// Float declares a floating point option.
func (r *Registry) Float(g *Group, name string, def float64, help string, fns ...OptFunc) FloatOpt {
	return FloatOpt{r.add(g, name, KindFloat, fmt.Sprint(def), help, fns)}
}

// Seconds declares an option holding a number of seconds (fractions allowed).
func (r *Registry) Seconds(g *Group, name string, def float64, help string, fns ...OptFunc) SecondsOpt {
	fns = append([]OptFunc{Min(0)}, fns...)
	return SecondsOpt{r.add(g, name, KindFloat, fmt.Sprint(def), help, fns)}
}

// Bool declares a boolean option.
func (r *Registry) Bool(g *Group, name string, def bool, help string, fns ...OptFunc) BoolOpt {
	return BoolOpt{r.add(g, name, KindBool, fmt.Sprint(def), help, fns)}
}

// List declares a comma-separated list option.
func (r *Registry) List(g *Group, name, def, help string, fns ...OptFunc) ListOpt {
	return ListOpt{r.add(g, name, KindList, def, help, fns)}
}

// lookup finds the option a file's section and key name, following deprecated
// names; dep is true when the name used is a deprecated one.
func (r *Registry) lookup(n Name) (o *Opt, dep bool) {
	if o, ok := r.opts[n]; ok {
		return o, false
	}
	if o, ok := r.deprecated[n]; ok {
		return o, true
	}
	return nil, false
}
