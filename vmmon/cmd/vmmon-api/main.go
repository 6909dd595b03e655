// Command vmmon-api serves vmmon's /v1 REST API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"opendev.org/openstack/vmmon/vmmon/service"
	"opendev.org/openstack/vmmon/vmmon/service/controlplane"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := service.Boot(ctx, "vmmon-api", os.Args[1:], os.Stderr, controlplane.RunAPI)
	stop()
	os.Exit(code)
}
