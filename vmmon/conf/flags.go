package conf

import (
	"flag"
	"os"
	"strings"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// Flags are the --config-file and --config-dir command-line options.
type Flags struct {
	files, dirs listFlag
	defaults    []string
}

// AddFlags registers --config-file (repeatable, later wins) and --config-dir on
// fs. defaults are read, when they exist, if no --config-file is given.
func AddFlags(fs *flag.FlagSet, defaults ...string) *Flags {
	f := &Flags{defaults: defaults}
	fs.Var(&f.files, "config-file", "configuration file to read (repeatable; later files win)")
	fs.Var(&f.dirs, "config-dir", "directory whose *.conf files are read after the config files (repeatable)")
	return f
}

// Sources returns what the flags name, or the default files that exist.
func (f *Flags) Sources() Sources {
	src := Sources{Files: f.files, Dirs: f.dirs}
	if len(f.files) == 0 {
		for _, d := range f.defaults {
			if _, err := os.Stat(d); err == nil {
				src.Files = append(src.Files, d)
			}
		}
	}
	return src
}
