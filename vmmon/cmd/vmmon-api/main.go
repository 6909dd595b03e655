// Command vmmon-api serves vmmon's /v1 REST API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"opendev.org/openstack/vmmon/vmmon/api"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := api.Main(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
