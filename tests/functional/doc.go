// Package functional holds tests that run vmmon's shared pieces against the
// real services of the test bed (tests/bed/up.sh): RabbitMQ, Apache Cassandra,
// Keystone and libvirt. They build only with the "functional" tag:
//
//	go test -tags functional ./tests/functional/
package functional
