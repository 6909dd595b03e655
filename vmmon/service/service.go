// Package service boots every vmmon program the same way: it parses
// --config-file and --config-dir (and the program's own flags), loads the
// configuration, sets up logging and hands them to the program's run function.
// It depends on configuration and logging only, so that the compute node's
// agent carries nothing of the control plane; the control plane's run
// functions are in package controlplane.
package service

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/logging"
)

// DefaultConfigFile is read, when it exists, if no --config-file is given.
const DefaultConfigFile = "/etc/vmmon/vmmon.conf"

// Process is what a booted program runs with.
type Process struct {
	Name   string // the program's name, e.g. vmmon-api
	Config *conf.Config
	Log    *slog.Logger
	Stderr io.Writer
}

// Fail reports err on standard error as "<name>: <err>" and returns the exit
// status 1.
func (p *Process) Fail(err error) int {
	fmt.Fprintf(p.Stderr, "%s: %v\n", p.Name, err)
	return 1
}

// Run is a program's own work; it returns the exit status.
type Run func(ctx context.Context, p *Process) int

// Option changes how Boot reads the command line.
type Option func(*options)

type options struct {
	configFile string
	flags      []func(*flag.FlagSet)
}

// ConfigFile sets the file read when no --config-file is given (by default
// DefaultConfigFile).
func ConfigFile(path string) Option { return func(o *options) { o.configFile = path } }

// Flags lets the program add its own flags next to --config-file and
// --config-dir; they are set before run is called.
func Flags(add func(fs *flag.FlagSet)) Option {
	return func(o *options) { o.flags = append(o.flags, add) }
}

// Boot runs the program name with args (without the program's name): it
// parses the flags, loads the configuration, sets up logging, logs the
// configuration and calls run. It returns 2 for a command line it cannot
// parse (the flag package has said why), 1 when the configuration or the log
// cannot be set up (said on stderr), else what run returns.
func Boot(ctx context.Context, name string, args []string, stderr io.Writer, run Run, opts ...Option) int {
	o := options{configFile: DefaultConfigFile}
	for _, opt := range opts {
		opt(&o)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := conf.AddFlags(fs, o.configFile)
	for _, add := range o.flags {
		add(fs)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	p := &Process{Name: name, Stderr: stderr}
	c, err := conf.Load(cf.Sources())
	if err != nil {
		return p.Fail(err)
	}
	log, closeLog, err := logging.New(c, name, stderr)
	if err != nil {
		return p.Fail(err)
	}
	defer closeLog()
	c.Log(log)
	p.Config, p.Log = c, log
	return run(ctx, p)
}

// SchemaVersioner is a store that knows its schema's version and the one
// this vmmon needs.
type SchemaVersioner interface {
	SchemaVersion(ctx context.Context) (have, want int, err error)
}

// CheckSchema returns an error unless the store's schema is the one this
// vmmon needs.
func CheckSchema(ctx context.Context, s SchemaVersioner) error {
	have, want, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the storage schema version: %w", err)
	}
	if have != want {
		return fmt.Errorf("storage schema is at version %d, this vmmon needs %d: run vmmon-manage db sync", have, want)
	}
	return nil
}
