// Command vmmon-collector consumes the agents' samples and Nova's
// notifications and writes them to vmmon's storage.
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
	code := service.Boot(ctx, "vmmon-collector", os.Args[1:], os.Stderr, controlplane.RunCollector)
	stop()
	os.Exit(code)
}
