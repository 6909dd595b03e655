#!/usr/bin/env bash
# Measures the per-component costs that doc/scaling.rst's capacity model is
# built on, on this machine against the test bed, and prints them:
#   agent       CPU per cycle and peak RSS at 50 and 200 test-driver domains
#   collector   points/s, and CPU per point of the collector and of Cassandra
#   Cassandra   points/s written by the driver; bytes on disk per raw point,
#               per minute rollup and in all
#   API         measures requests/s, saturating, with p50/p99, and CPU per request
# About 15 minutes. Run as root from the repository: tests/bench/capacity.sh
# (it starts the bed first). The raw output is kept in $VMMON_BED/capacity.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../bed/lib.sh
source tests/bed/lib.sh

tests/bed/up.sh >&2
out=$VMMON_BED/capacity
mkdir -p "$out"

bench() { # name pattern benchtime [env...]
	local name=$1 pattern=$2 benchtime=$3
	shift 3
	log "benchmark $name"
	env "$@" go test -tags functional -run '^$' -bench "$pattern" -benchtime "$benchtime" -timeout 1h \
		./tests/functional/ >"$out/$name.txt" 2>&1 || {
		tail -20 "$out/$name.txt" >&2
		die "benchmark $name failed (all of it in $out/$name.txt)"
	}
}

bench agent AgentProcess 1x VMMON_BENCH_SIZES=50,200 VMMON_BENCH_CEILOMETER=0 VMMON_BENCH_CYCLES=12
bench collector 'CollectorThroughput/batches' 1x
bench write 'CassandraWrite/driver' 100x
bench disk CassandraDiskPerPoint 1x
bench api APIMeasures 1000x VMMON_BENCH_LOAD_RATE=0

# metric NAME FILE [ROW]: the value before the unit NAME on the benchmark
# line of FILE (matching ROW).
metric() {
	grep -E "^Benchmark.*${3:-}" "$out/$2.txt" | head -1 |
		awk -v m="$1" '{for (i = 2; i <= NF; i++) if ($i == m) {print $(i-1); exit}}'
}

cat <<EOF
component   figure                                  value
agent       CPU per cycle, 50 domains (ms)          $(metric vmmon-cpu-ms/cycle agent test-driver-50-)
agent       CPU per cycle, 200 domains (ms)         $(metric vmmon-cpu-ms/cycle agent test-driver-200-)
agent       peak RSS, 200 domains (MiB)             $(metric vmmon-rss-MiB agent test-driver-200-)
agent       bytes sent per cycle, 50 domains (KiB)  $(metric vmmon-KiB/cycle agent test-driver-50-)
collector   points/s, one collector                 $(metric points/s collector batches-1-)
collector   collector CPU per point (µs)            $(metric collector-cpu-µs/point collector batches-1-)
collector   Cassandra CPU per point (µs)            $(metric cassandra-cpu-µs/point collector batches-1-)
Cassandra   points/s written by the driver          $(metric points/s write)
Cassandra   bytes on disk per raw point             $(metric raw-B/point disk)
Cassandra   bytes on disk per minute rollup         $(metric rollup-B/minute disk)
Cassandra   bytes on disk per point, everything     $(metric all-B/point disk)
API         measures p50 / p99 saturating (ms)      $(metric p50-ms api 24h) / $(metric p99-ms api 24h)
API         requests/s sent, saturating             $(metric load-req/s api 24h)
API         vmmon-api CPU per request (µs)          $(metric api-cpu-µs/req api 24h)
EOF
