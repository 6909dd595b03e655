// Command vmmon-manage creates the schema, registers vmmon in the Keystone
// catalog and writes the configuration and policy samples.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"opendev.org/openstack/vmmon/vmmon/manage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := manage.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
