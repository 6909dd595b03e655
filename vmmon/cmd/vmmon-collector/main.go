// Command vmmon-collector consumes the agents' samples and Nova's
// notifications and writes them to vmmon's storage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"opendev.org/openstack/vmmon/vmmon/collector"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := collector.Main(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
