module opendev.org/openstack/vmmon

go 1.26.8

require (
	github.com/gocql/gocql v1.7.0
	github.com/gophercloud/gophercloud/v2 v2.15.0
	github.com/gorilla/mux v1.8.1
	github.com/rabbitmq/amqp091-go v1.16.0
	go.etcd.io/bbolt v1.4.3
	golang.org/x/sync v0.25.0
	gopkg.in/yaml.v3 v3.0.1
	libvirt.org/go/libvirt v1.11010.0
)

require (
	github.com/golang/snappy v0.0.3 // indirect
	github.com/hailocab/go-hostpool v0.0.0-20160125115350-e80d13ce29ed // indirect
	golang.org/x/sys v0.47.0 // indirect
	gopkg.in/inf.v0 v0.9.1 // indirect
)
