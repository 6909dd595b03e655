// Package conf reads vmmon's oslo.config-style INI configuration.
//
// Every option is declared once, in this package, with its section, name, type,
// default, help, secrecy and deprecated names (see the files named after each
// section). Declarations are typed handles that read a loaded [Config]:
//
//	cfg, err := conf.Load(conf.Sources{Files: []string{"/etc/vmmon/vmmon.conf"}})
//	port := conf.API.BindPort.Get(cfg)
//
// Files are read in order and later files win; a --config-dir adds its *.conf
// files in lexical order after the files. An unknown section or option, a value
// of the wrong type, a missing file or an unparsable URL is an [*Error] naming the
// file, line, section and option and saying what was expected. The sample files
// in etc/vmmon/ are written by [WriteSample] from the same declarations.
package conf
