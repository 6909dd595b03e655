// Package backend opens the storage driver the configuration names.
package backend

import (
	"context"
	"fmt"
	"time"

	"opendev.org/openstack/vmmon/vmmon/conf"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/cassandra"
	"opendev.org/openstack/vmmon/vmmon/storage/embedded"
)

// Store is a storage driver that also manages its schema.
type Store interface {
	storage.Store
	// Sync creates or upgrades the schema (vmmon-manage db sync).
	Sync(ctx context.Context) error
	// SchemaVersion returns the stored schema version and the code's.
	SchemaVersion(ctx context.Context) (have, want int, err error)
}

// Retention reads the [storage] retention options.
func Retention(c *conf.Config) storage.Retention {
	days := func(o conf.IntOpt) time.Duration { return time.Duration(o.Get(c)) * 24 * time.Hour }
	return storage.Retention{Raw: days(conf.Storage.RawRetention), Minute: days(conf.Storage.MinuteRetention),
		Hour: days(conf.Storage.HourRetention)}
}

// CassandraConfig reads the [cassandra] options.
func CassandraConfig(c *conf.Config) cassandra.Config {
	return cassandra.Config{
		Hosts: conf.Cassandra.Hosts.Get(c), Port: conf.Cassandra.Port.Get(c), Keyspace: conf.Cassandra.Keyspace.Get(c),
		Replication: conf.Cassandra.Replication.Get(c), Consistency: conf.Cassandra.Consistency.Get(c),
		Username: conf.Cassandra.Username.Get(c), Password: conf.Cassandra.Password.Get(c),
		Timeout: conf.Cassandra.Timeout.Get(c), Retention: Retention(c),
	}
}

// Open opens the configured driver without touching its schema.
func Open(ctx context.Context, c *conf.Config) (Store, error) {
	switch d := conf.Storage.Driver.Get(c); d {
	case "embedded":
		s, err := embedded.Open(conf.Storage.Path.Get(c), Retention(c))
		if err != nil {
			return nil, err
		}
		return embeddedStore{s}, nil
	case "cassandra":
		s, err := cassandra.Open(ctx, CassandraConfig(c))
		if err != nil {
			return nil, err
		}
		return cassandraStore{s}, nil
	default:
		return nil, fmt.Errorf("[storage] driver %q: expected cassandra or embedded", d)
	}
}

type embeddedStore struct{ *embedded.Store }

func (e embeddedStore) Sync(context.Context) error { return e.Store.Sync() }

func (e embeddedStore) SchemaVersion(context.Context) (int, int, error) {
	v, err := e.Version()
	return v, embedded.SchemaVersion, err
}

type cassandraStore struct{ *cassandra.Store }

func (c cassandraStore) SchemaVersion(ctx context.Context) (int, int, error) {
	v, err := c.Version(ctx)
	return v, cassandra.SchemaVersion, err
}
