// Package logging sets up every vmmon process's structured log from the
// [DEFAULT] debug and log_file options.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"opendev.org/openstack/vmmon/vmmon/conf"
)

// New returns the process's logger, writing to log_file or to stderr, and a
// function that closes the file.
func New(c *conf.Config, program string, stderr io.Writer) (*slog.Logger, func(), error) {
	level := slog.LevelInfo
	if conf.Common.Debug.Get(c) {
		level = slog.LevelDebug
	}
	w, closeFn := stderr, func() {}
	if path := conf.Common.LogFile.Get(c); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("[DEFAULT] log_file: %w", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("program", program), closeFn, nil
}
