// Package manage implements vmmon-manage, the operator's command for schema,
// catalog registration and generated samples. Each subcommand adds itself to
// the table in [Commands].
package manage

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"

	"opendev.org/openstack/vmmon/vmmon/catalog"
	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/policy"
	"opendev.org/openstack/vmmon/vmmon/storage/backend"
)

// Command is one "vmmon-manage <group> <action>".
type Command struct {
	Group, Action string
	Help          string
	// Run executes the command with its own flag set already parsed.
	Run   func(ctx context.Context, env *Env) error
	Flags func(fs *flag.FlagSet, env *Env)
}

// Env is what a command works with.
type Env struct {
	Stdout, Stderr io.Writer
	ConfFlags      *conf.Flags
	Args           []string // what is left after the flags
	OutputDir      string
	Region         string
	URLs           map[gophercloud.Availability]*string
}

// ErrUsage marks a command line that names no known command.
var ErrUsage = errors.New("usage")

// Commands lists every subcommand.
var Commands = []Command{
	{
		Group: "config", Action: "sample",
		Help: "write the documented configuration samples (vmmon.conf.sample, vmmon-agent.conf.sample)",
		Flags: func(fs *flag.FlagSet, env *Env) {
			fs.StringVar(&env.OutputDir, "output-dir", "", "write the samples into this directory instead of standard output")
		},
		Run: func(_ context.Context, env *Env) error { return writeConfigSamples(env) },
	},
	{
		Group: "db", Action: "sync",
		Help: "create or upgrade the storage schema (safe to run again)",
		Run: func(ctx context.Context, env *Env) error {
			s, err := openStore(ctx, env)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Sync(ctx); err != nil {
				return err
			}
			have, _, err := s.SchemaVersion(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "schema at version %d\n", have)
			return nil
		},
	},
	{
		Group: "db", Action: "version",
		Help: "print the stored schema version and the one this vmmon needs",
		Run: func(ctx context.Context, env *Env) error {
			s, err := openStore(ctx, env)
			if err != nil {
				return err
			}
			defer s.Close()
			have, want, err := s.SchemaVersion(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "stored %d, needed %d\n", have, want)
			return nil
		},
	},
	{
		Group: "service", Action: "register",
		Help: "create or update the vm-monitor service and its endpoints in Keystone (as the admin of the OS_* variables)",
		Flags: func(fs *flag.FlagSet, env *Env) {
			env.URLs = map[gophercloud.Availability]*string{}
			for _, a := range []gophercloud.Availability{gophercloud.AvailabilityPublic, gophercloud.AvailabilityInternal, gophercloud.AvailabilityAdmin} {
				env.URLs[a] = fs.String(string(a)+"-url", "", "the "+string(a)+" endpoint URL (default: the public one)")
			}
			fs.StringVar(&env.Region, "region", "RegionOne", "the endpoints' region")
		},
		Run: registerService,
	},
	{
		Group: "policy", Action: "sample",
		Help: "write the documented default access rules (policy.yaml.sample)",
		Flags: func(fs *flag.FlagSet, env *Env) {
			fs.StringVar(&env.OutputDir, "output-dir", "", "write policy.yaml.sample into this directory instead of standard output")
		},
		Run: func(_ context.Context, env *Env) error {
			if env.OutputDir == "" {
				return policy.WriteSample(env.Stdout)
			}
			return writeFileAtomic(filepath.Join(env.OutputDir, "policy.yaml.sample"), policy.WriteSample)
		},
	},
	{
		Group: "config", Action: "check",
		Help: "load the configuration files and report the first problem",
		Run: func(_ context.Context, env *Env) error {
			c, err := conf.Load(env.ConfFlags.Sources())
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "configuration OK (%s)\n", strings.Join(c.Files(), ", "))
			return nil
		},
	},
}

func registerService(ctx context.Context, env *Env) error {
	public := *env.URLs[gophercloud.AvailabilityPublic]
	if public == "" {
		return errors.New("--public-url is required, e.g. http://controller:8780")
	}
	urls := map[gophercloud.Availability]string{}
	for a, u := range env.URLs {
		urls[a] = *u
		if urls[a] == "" {
			urls[a] = public
		}
	}
	ao, err := adminFromEnv()
	if err != nil {
		return err
	}
	provider, err := openstack.AuthenticatedClient(ctx, ao)
	if err != nil {
		return fmt.Errorf("authenticating as %s: %w", ao.Username, err)
	}
	identity, err := openstack.NewIdentityV3(provider, gophercloud.EndpointOpts{})
	if err != nil {
		return err
	}
	identity.Endpoint = gophercloud.NormalizeURL(ao.IdentityEndpoint)
	res, err := catalog.Register(ctx, identity, catalog.Registration{Region: env.Region, URLs: urls})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "service %s (%s): created %v, updated %v, unchanged %v\n", res.ServiceID, catalog.ServiceType,
		res.Created, res.Updated, res.Unchanged)
	return nil
}

// adminFromEnv reads the admin credentials from the OS_* variables, as the
// openstack client does (domains default to Default).
func adminFromEnv() (gophercloud.AuthOptions, error) {
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	ao := gophercloud.AuthOptions{IdentityEndpoint: get("OS_AUTH_URL", ""), Username: get("OS_USERNAME", ""),
		Password: get("OS_PASSWORD", ""), DomainName: get("OS_USER_DOMAIN_NAME", "Default"),
		Scope: &gophercloud.AuthScope{ProjectName: get("OS_PROJECT_NAME", ""), DomainName: get("OS_PROJECT_DOMAIN_NAME", "Default")}}
	var missing []string
	for k, v := range map[string]string{"OS_AUTH_URL": ao.IdentityEndpoint, "OS_USERNAME": ao.Username,
		"OS_PASSWORD": ao.Password, "OS_PROJECT_NAME": ao.Scope.ProjectName} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return ao, fmt.Errorf("admin credentials: set %s (as for the openstack client)", strings.Join(missing, ", "))
	}
	return ao, nil
}

func openStore(ctx context.Context, env *Env) (backend.Store, error) {
	c, err := conf.Load(env.ConfFlags.Sources())
	if err != nil {
		return nil, err
	}
	return backend.Open(ctx, c)
}

func writeConfigSamples(env *Env) error {
	for _, f := range conf.Files {
		if env.OutputDir == "" {
			fmt.Fprintf(env.Stdout, "# ---- %s ----\n", f.Sample)
			if err := conf.Default.WriteSample(env.Stdout, f.File); err != nil {
				return err
			}
			continue
		}
		if err := writeFileAtomic(filepath.Join(env.OutputDir, f.Sample), func(w io.Writer) error {
			return conf.Default.WriteSample(w, f.File)
		}); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes a file through a temporary sibling, so that readers
// never see half of it.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("while creating %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("while writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// Main runs vmmon-manage with args (without the program name) and returns the
// process exit status. --config-file and --config-dir may come before the
// command, in oslo's order (vmmon-manage --config-file F db sync), as well as
// after it with the command's own options.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &Env{Stdout: stdout, Stderr: stderr}
	// Options before the command: only the configuration's.
	global := flag.NewFlagSet("vmmon-manage", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	conf.AddFlags(global)
	if err := global.Parse(args); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "vmmon-manage: %v\n", err)
		}
		usage(stderr)
		return 2
	}
	leading, words := args[:len(args)-global.NArg()], global.Args()
	if n := len(leading); n > 0 && leading[n-1] == "--" {
		leading = leading[:n-1]
	}
	cmd, err := findCommand(words)
	if err != nil {
		fmt.Fprintf(stderr, "vmmon-manage: %v\n", err)
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("vmmon-manage "+cmd.Group+" "+cmd.Action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env.ConfFlags = conf.AddFlags(fs, "/etc/vmmon/vmmon.conf")
	if cmd.Flags != nil {
		cmd.Flags(fs, env)
	}
	if err := fs.Parse(append(append([]string(nil), leading...), words[2:]...)); err != nil {
		return 2
	}
	env.Args = fs.Args()
	if err := cmd.Run(ctx, env); err != nil {
		fmt.Fprintf(stderr, "vmmon-manage %s %s: %v\n", cmd.Group, cmd.Action, err)
		return 1
	}
	return 0
}

// findCommand returns the command words names, or says what is wrong with
// them and which commands there are.
func findCommand(words []string) (*Command, error) {
	var all, group []string
	for i := range Commands {
		c := &Commands[i]
		all = append(all, c.Group+" "+c.Action)
		if len(words) > 0 && c.Group == words[0] {
			if len(words) > 1 && c.Action == words[1] {
				return c, nil
			}
			group = append(group, c.Group+" "+c.Action)
		}
	}
	sort.Strings(all)
	sort.Strings(group)
	switch {
	case len(words) == 0:
		return nil, fmt.Errorf("no command given; commands: %s", strings.Join(all, ", "))
	case len(group) == 0:
		return nil, fmt.Errorf("unknown command %q; commands: %s", words[0], strings.Join(all, ", "))
	case len(words) == 1:
		return nil, fmt.Errorf("%q needs an action; commands: %s", words[0], strings.Join(group, ", "))
	default:
		return nil, fmt.Errorf("unknown command %q; commands: %s", words[0]+" "+words[1], strings.Join(group, ", "))
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vmmon-manage [--config-file F]... [--config-dir D]... <group> <action> [options]")
	var lines []string
	for _, c := range Commands {
		lines = append(lines, fmt.Sprintf("  %-22s %s", c.Group+" "+c.Action, c.Help))
	}
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}
