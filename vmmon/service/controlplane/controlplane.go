// Package controlplane runs vmmon's control-plane programs, vmmon-api and
// vmmon-collector, once package service has booted them: it opens what the
// configuration names (storage, RabbitMQ, Keystone, policy) and hands it to
// the packages that do the work.
package controlplane

import (
	"context"

	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/service"
	"opendev.org/openstack/vmmon/vmmon/storage/backend"
)

// openStore opens the configured storage and checks its schema.
func openStore(ctx context.Context, c *conf.Config) (backend.Store, error) {
	store, err := backend.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := service.CheckSchema(ctx, store); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}
