# vmmon — see README.rst. `make test` installs and starts the test bed (as root)
# and runs every test; `make unit` is the fast loop that needs nothing.

GO      ?= go
BIN     := bin
GOFLAGS ?=
export GOFLAGS

CMDS := $(wildcard vmmon/cmd/*) $(wildcard vmmon-agent/cmd/*)

.PHONY: all build run test unit functional devstack-test python-test dashboard-test cluster-test bed bed-down bench genconfig clean

all: build

build:
	@pkg-config --exists libvirt 2>/dev/null || tests/bed/install.sh build-deps
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(addprefix ./,$(CMDS))

## run: the all-in-one on its embedded defaults, on 127.0.0.1:8780.
run: build
	$(BIN)/vmmon-aio --data-dir .vmmon-aio

## unit: fast tests that need no service.
unit:
	@pkg-config --exists libvirt 2>/dev/null || tests/bed/install.sh build-deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: the files above need formatting'; exit 1; }
	$(GO) test -count=1 ./...

## bed: install and start RabbitMQ, Cassandra, Keystone and libvirt on loopback.
bed:
	tests/bed/up.sh

bed-down:
	tests/bed/down.sh

## functional: tests against the real services of the bed.
functional: bed
	$(GO) vet -tags functional ./tests/...
	$(GO) test -count=1 -tags functional -timeout 40m ./tests/functional/...

## devstack-test: the DevStack plugin against stand-ins of DevStack's helpers, and shellcheck.
devstack-test:
	bash tests/devstack/test_plugin.sh

## python-test: python-vmmonclient (vmmon/client/python) in a venv over Debian's
## python3-openstackclient: flake8, unit tests, and the real `openstack` CLI
## against the bed's Keystone, Nova and a vmmon of its own.
python-test: bed
	@venv=$$(tests/python/setup.sh) && \
	$$venv/bin/python -m flake8 vmmon/client/python tests/python && \
	PYTHONDONTWRITEBYTECODE=1 $$venv/bin/python -m pytest -p no:cacheprovider -q tests/python/unit tests/python/functional

## dashboard-test: vmmon-dashboard (vmmon/dashboard), the Horizon plugin:
## flake8, Django tests of its views and tables with a stubbed vmmon, and
## Debian's Horizon in headless Chromium against the bed's Keystone and Nova
## and a vmmon of its own (screenshots in /var/tmp/vmmon-bed/dashboard-shots).
dashboard-test: bed
	@venv=$$(tests/dashboard/setup.sh) && \
	$$venv/bin/python -m flake8 vmmon/dashboard tests/dashboard && \
	PYTHONPATH=tests/dashboard/unit PYTHONDONTWRITEBYTECODE=1 $$venv/bin/python -m pytest -p no:cacheprovider -q -W ignore::DeprecationWarning \
		--ds=vmmon_dashboard_test_settings tests/dashboard/unit && \
	PYTHONDONTWRITEBYTECODE=1 $$venv/bin/python -m pytest -p no:cacheprovider -q -W ignore::DeprecationWarning tests/dashboard/e2e

## cluster-test: a three-node Cassandra cluster (tests/bed/cassandra-cluster.sh)
## under an agent, two collectors and the API, a node killed for 60 s and one
## replaced. It runs on its own: three nodes and the rest of the bed do not
## fit together on two cores, so only RabbitMQ and the test driver's domains
## stay up (make bed brings the rest back). Not part of make test.
cluster-test:
	tests/bed/down.sh
	tests/bed/install.sh all
	tests/bed/rabbitmq.sh start
	tests/bed/libvirt.sh testxml 200
	$(GO) vet -tags 'functional cluster' ./tests/functional/
	$(GO) test -count=1 -tags 'functional cluster' -timeout 30m -run TestCassandraCluster -v ./tests/functional/

## test: everything, on a fresh machine of this kind, as root.
test: bed unit devstack-test functional python-test dashboard-test

## bench: unit benchmarks, then those that need the bed (see doc/benchmarks.rst),
## with Debian's Ceilometer compute agent as vmmon-agent's anchor (not needed by make test).
bench: bed
	tests/bed/install.sh bench-deps
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) test -tags functional -run '^$$' -bench . -benchtime 3s -timeout 3h ./tests/functional/...

## genconfig: regenerate the samples in etc/vmmon/ from the option declarations.
genconfig:
	$(GO) run ./vmmon/cmd/vmmon-manage config sample --output-dir etc/vmmon
	$(GO) run ./vmmon/cmd/vmmon-manage policy sample --output-dir etc/vmmon

clean:
	rm -rf $(BIN)
