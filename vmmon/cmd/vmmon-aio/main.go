// Command vmmon-aio runs agent, collector and API in one process on the
// embedded store, for a first look (make run). Not for production.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"opendev.org/openstack/vmmon/vmmon/aio"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := aio.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
