#!/usr/bin/env bash
# Measures the per-component costs that doc/scaling.rst's capacity model is
# built on, on this machine against the test bed, and prints them, then the
# deployment they imply (the model's assumptions are set below and can be
# changed in the environment):
#   agent       CPU per cycle and peak RSS at 50 and 200 test-driver domains,
#               bytes sent per cycle
#   collector   points/s draining batches, its CPU and Cassandra's per point
#   Cassandra   points/s written by the driver; writes, CPU and bytes on disk
#               per raw point and per minute rollup, rolled up as a running
#               collector does (each minute's rollups after its points)
#   RabbitMQ    batches of 50 VMs through one queue: size, msgs/s, broker CPU
#   API         measures requests/s, saturating, with p50/p99, and CPU per request
# About 30 minutes. Run as root from the repository: tests/bench/capacity.sh
# (it starts the bed's services that it uses first, Cassandra, RabbitMQ and
# libvirt, leaving those already running as they are).
# The raw output is kept in $VMMON_BED/capacity; the table is printed and
# written to $VMMON_BED/capacity/table.txt. CAPACITY_REUSE=1 prints the table
# from the last run's raw output without measuring again.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../bed/lib.sh
source tests/bed/lib.sh

out=$VMMON_BED/capacity
mkdir -p "$out"

# The model's assumptions.
: "${MODEL_NODES:=1000 10000}"      # compute nodes
: "${MODEL_VMS_PER_NODE:=50}"
: "${MODEL_SERIES_PER_VM:=42}"      # 2 vCPUs, a disk, a NIC (vmmon-agent/sampler)
: "${MODEL_INTERVAL:=10}"           # [agent] interval, s
: "${MODEL_RF:=3}"                  # Cassandra replication factor
: "${MODEL_COLLECTOR_CORES:=8}"     # cores of a collector host
: "${MODEL_CASSANDRA_CORES:=16}"    # cores of a Cassandra node
: "${MODEL_CPU_TARGET:=0.5}"        # share of a host's cores the model plans to use
: "${MODEL_DISK_FILL:=0.5}"         # share of a Cassandra node's disk the data may fill
: "${MODEL_RAW_DAYS:=7}"            # [storage] raw_retention_days
: "${MODEL_MINUTE_DAYS:=30}"        # [storage] minute_retention_days
: "${MODEL_HOUR_DAYS:=400}"         # [storage] hour_retention_days
export MODEL_NODES MODEL_VMS_PER_NODE MODEL_SERIES_PER_VM MODEL_INTERVAL MODEL_RF MODEL_COLLECTOR_CORES \
	MODEL_CASSANDRA_CORES MODEL_CPU_TARGET MODEL_DISK_FILL MODEL_RAW_DAYS MODEL_MINUTE_DAYS MODEL_HOUR_DAYS

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

bench() { # name pattern benchtime [env...]
	local name=$1 pattern=$2 benchtime=$3
	shift 3
	log "benchmark $name (load average $(loadavg))"
	echo "load-before $(loadavg)" >"$out/$name.load"
	env "$@" go test -tags functional -run '^$' -bench "$pattern" -benchtime "$benchtime" -timeout 1h \
		./tests/functional/ >"$out/$name.txt" 2>&1 || {
		tail -20 "$out/$name.txt" >&2
		die "benchmark $name failed (all of it in $out/$name.txt)"
	}
	echo "load-after $(loadavg)" >>"$out/$name.load"
}

if [ "${CAPACITY_REUSE:-0}" != 1 ]; then
	tests/bed/install.sh all >&2
	tests/bed/cassandra.sh start >&2
	tests/bed/rabbitmq.sh start >&2
	tests/bed/libvirt.sh start >&2
	nproc >"$out/machine"
	bench agent 'AgentProcess' 1x VMMON_BENCH_SIZES=50,200 VMMON_BENCH_CEILOMETER=0 VMMON_BENCH_CYCLES=12 \
		VMMON_BENCH_LIBVIRT=libvirtd,in-process
	bench collector 'CollectorThroughput/batches-1-' 1x
	bench write 'CassandraWrite/driver' 100x
	bench disk 'CassandraDiskPerPoint' 1x
	bench rabbit 'RabbitMQBatches' 2000x
	bench api 'APIMeasures' 1000x VMMON_BENCH_LOAD_RATE=0
fi

# metric NAME FILE [ROW]: the value before the unit NAME on the benchmark
# line of FILE (matching ROW).
metric() {
	local v
	v=$(grep -E "^Benchmark.*${3:-}" "$out/$2.txt" | head -1 |
		awk -v m="$1" '{for (i = 2; i <= NF; i++) if ($i == m) {print $(i-1); exit}}')
	[ -n "$v" ] || die "no $1 in $out/$2.txt${3:+ (row $3)}"
	echo "$v"
}

# optional NAME FILE [ROW]: metric, or n/a when the benchmark gave none.
optional() { (metric "$@" 2>/dev/null) || echo n/a; }

# load NAME: the load averages (1, 5, 15 min) before and after benchmark NAME.
load() { awk '{printf "%s%s %s %s", (NR > 1 ? " / " : ""), $2, $3, $4}' "$out/$1.load"; }

{
	a50=$(metric vmmon-cpu-ms/cycle agent test-driver-50-)
	a200=$(metric vmmon-cpu-ms/cycle agent test-driver-200-)
	r50=$(metric vmmon-rss-MiB agent test-driver-50-)
	r200=$(metric vmmon-rss-MiB agent test-driver-200-)
	cat <<EOF
Measured on $(awk '{print $NF}' "$out/machine" 2>/dev/null || echo "?") cores ($(date -u -r "$out/api.txt" +%Y-%m-%d), raw output in $out)

component   figure                                        value       load average before / after
agent       CPU per cycle, 50 domains (ms)                $a50        $(load agent)
agent       CPU per cycle, 200 domains (ms)               $a200
agent       libvirtd CPU per cycle, 50 / 200 domains (ms) $(optional libvirtd-cpu-ms/cycle agent test-driver-50-) / $(optional libvirtd-cpu-ms/cycle agent test-driver-200-)
agent       CPU per cycle in-process, 50 / 200 (ms)       $(optional vmmon-cpu-ms/cycle agent in-process-50-) / $(optional vmmon-cpu-ms/cycle agent in-process-200-)
agent       peak RSS, 50 / 200 domains (MiB)              $r50 / $r200
agent       bytes sent per cycle, 50 domains (KiB)        $(metric vmmon-KiB/cycle agent test-driver-50-)
collector   points/s, one collector                       $(metric points/s collector batches-1-)       $(load collector)
collector   collector CPU per point (µs)                  $(metric collector-cpu-µs/point collector batches-1-)
collector   Cassandra CPU per point (µs)                  $(metric cassandra-cpu-µs/point collector batches-1-)
Cassandra   points/s written by the driver                $(metric points/s write)       $(load write)
Cassandra   writes per raw point                          $(metric writes/point disk)       $(load disk)
Cassandra   Cassandra CPU per raw point (µs)              $(metric cassandra-cpu-µs/point disk)
Cassandra   driver CPU per raw point (µs)                 $(metric driver-cpu-µs/point disk)
Cassandra   writes per minute rollup                      $(metric writes/minute disk)
Cassandra   Cassandra CPU per minute rollup (µs)          $(metric cassandra-cpu-µs/minute disk)
Cassandra   driver CPU per minute rollup (µs)             $(metric driver-cpu-µs/minute disk)
Cassandra   minute rollups/s, one store                   $(metric minutes/s disk)
Cassandra   bytes on disk per raw point                   $(metric raw-B/point disk)
Cassandra   bytes on disk per minute rollup               $(metric rollup-B/minute disk)
Cassandra     of which rollup_1m / rollup_1m_packed       $(metric 1m-B/minute disk) / $(metric 1m-packed-B/minute disk)
Cassandra   bytes on disk per series' hour, 1h / packed   $(metric 1h-B/hour disk) / $(metric 1h-packed-B/hour disk)
Cassandra   bytes on disk of groups per minute rollup     $(metric group-B/minute disk)
Cassandra     of which group_members                      $(metric members-B/minute disk)
Cassandra   bytes on disk per point, everything           $(metric all-B/point disk)
RabbitMQ    batch of 50 VMs / heartbeat (KiB)             $(metric batch-KiB rabbit classic) / $(metric heartbeat-KiB rabbit classic)   $(load rabbit)
RabbitMQ    batches/s through one queue, classic/quorum   $(metric msgs/s rabbit classic) / $(metric msgs/s rabbit quorum)
RabbitMQ    MiB/s through one queue, classic/quorum       $(metric MiB/s rabbit classic) / $(metric MiB/s rabbit quorum)
RabbitMQ    broker CPU per batch, classic/quorum (µs)     $(metric rabbitmq-cpu-µs/msg rabbit classic) / $(metric rabbitmq-cpu-µs/msg rabbit quorum)
API         measures p50 / p99 saturating (ms)            $(metric p50-ms api 24h) / $(metric p99-ms api 24h)   $(load api)
API         requests/s sent, saturating                   $(metric load-req/s api 24h)
API         vmmon-api CPU per request (µs)                $(metric api-cpu-µs/req api 24h)
EOF
	# The model, from the figures above.
	A50=$a50 A200=$a200 R50=$r50 R200=$r200 \
		COLL_US_POINT=$(metric collector-cpu-µs/point collector batches-1-) \
		CASS_US_POINT=$(metric cassandra-cpu-µs/point collector batches-1-) \
		DRV_US_MIN=$(metric driver-cpu-µs/minute disk) CASS_US_MIN=$(metric cassandra-cpu-µs/minute disk) \
		WRITES_POINT=$(metric writes/point disk) WRITES_MIN=$(metric writes/minute disk) \
		RAW_B=$(metric raw-B/point disk) M1_B=$(metric 1m-B/minute disk) M1P_B=$(metric 1m-packed-B/minute disk) \
		MEM_B=$(metric members-B/minute disk) H1_B=$(metric 1h-B/hour disk) H1P_B=$(metric 1h-packed-B/hour disk) \
		BATCH_KIB=$(metric batch-KiB rabbit classic) HB_KIB=$(metric heartbeat-KiB rabbit classic) \
		RMQ_US=$(metric rabbitmq-cpu-µs/msg rabbit quorum) RMQ_RATE=$(metric msgs/s rabbit quorum) \
		API_US=$(metric api-cpu-µs/req api 24h) \
		python3 - <<'EOF'
import math, os
e = {k: float(v) for k, v in os.environ.items() if k.isupper() and k[:1] != "_" and v.replace(".", "", 1).isdigit()}
per_dom = (e["A200"] - e["A50"]) / 150
rss_dom = (e["R200"] - e["R50"]) / 150
print()
print("derived      agent CPU per domain per cycle %.3f ms (fixed %.1f ms); RSS per domain %.0f KiB (fixed %.1f MiB)" % (
    per_dom, e["A50"] - 50 * per_dom, rss_dom * 1024, e["R50"] - 50 * rss_dom))
print("derived      per core: collector %.0f points/s ingested, %.0f minute rollups/s; Cassandra (RF 1) %.0f points/s, %.0f minute rollups/s; vmmon-api %.0f requests/s" % (
    1e6 / e["COLL_US_POINT"], 1e6 / e["DRV_US_MIN"], 1e6 / e["CASS_US_POINT"], 1e6 / e["CASS_US_MIN"], 1e6 / e["API_US"]))
vms_node, series_vm, interval, rf = e["MODEL_VMS_PER_NODE"], e["MODEL_SERIES_PER_VM"], e["MODEL_INTERVAL"], e["MODEL_RF"]
tgt = e["MODEL_CPU_TARGET"]
raw_d, min_d, hour_d = e["MODEL_RAW_DAYS"], e["MODEL_MINUTE_DAYS"], e["MODEL_HOUR_DAYS"]
src_d = raw_d + 1  # per-bucket rollups and group members: raw retention and a day
print()
print("model: %d VMs a node, %d series a VM, every %d s, RF %d; collector hosts of %d cores, Cassandra nodes of %d cores, %d%% of cores used" % (
    vms_node, series_vm, interval, rf, e["MODEL_COLLECTOR_CORES"], e["MODEL_CASSANDRA_CORES"], tgt * 100))
for nodes in (int(n) for n in os.environ["MODEL_NODES"].split()):
    vms = nodes * vms_node
    series = vms * series_vm
    pps = series / interval
    mps = series / 60
    coll_cores = (pps * e["COLL_US_POINT"] + mps * e["DRV_US_MIN"]) / 1e6
    cass_cores_rf1 = (pps * e["CASS_US_POINT"] + mps * e["CASS_US_MIN"]) / 1e6
    cass_cores = cass_cores_rf1 * rf
    writes = (pps * e["WRITES_POINT"] + mps * e["WRITES_MIN"]) * rf
    day = 86400
    raw_day = series * day / interval * e["RAW_B"]
    m1_day = series * day / 60 * (e["M1_B"] + e["MEM_B"])
    m1p_day = series * day / 60 * e["M1P_B"]
    h1_day = series * 24 * e["H1_B"]
    h1p_day = series * 24 * e["H1P_B"]
    held = (raw_day * raw_d + (m1_day + h1_day) * src_d + m1p_day * min_d + h1p_day * hour_d) * rf
    batches = nodes / interval
    mib_s = batches * (e["BATCH_KIB"] + e["HB_KIB"]) / 1024
    TB = 1e12
    print()
    print("%d compute nodes: %d VMs, %.2f M series, %.0f points/s, %.0f minute rollups/s" % (nodes, vms, series / 1e6, pps, mps))
    print("  collectors     %.1f cores -> %d collectors of %d cores" % (coll_cores, math.ceil(coll_cores / (e["MODEL_COLLECTOR_CORES"] * tgt)), e["MODEL_COLLECTOR_CORES"]))
    print("  Cassandra      %.0f cores at RF %d (%.0f at RF 1) -> %d nodes of %d cores by CPU; %.0f writes/s on replicas" % (
        cass_cores, rf, cass_cores_rf1, math.ceil(cass_cores / (e["MODEL_CASSANDRA_CORES"] * tgt)), e["MODEL_CASSANDRA_CORES"], writes))
    print("  disk per day   raw %.2f TB, minute rollups %.2f TB (per-bucket and members) + %.2f TB (packed), hour rollups %.3f TB + %.3f TB (packed); RF 1" % (
        raw_day / TB, m1_day / TB, m1p_day / TB, h1_day / TB, h1p_day / TB))
    print("  disk held      raw %.1f TB (%d d), minute %.1f TB (%d d packed, %d d per bucket), hour %.1f TB (%d d packed); in all %.1f TB at RF %d, %.1f TB of disks at %d%% fill" % (
        raw_day * raw_d * rf / TB, raw_d, (m1_day * src_d + m1p_day * min_d) * rf / TB, min_d, src_d,
        (h1_day * src_d + h1p_day * hour_d) * rf / TB, hour_d, held / TB, rf, held / e["MODEL_DISK_FILL"] / TB, e["MODEL_DISK_FILL"] * 100))
    print("  RabbitMQ       %.0f messages/s (%.0f batches + %.0f heartbeats, and lifecycle events), %.0f MiB/s into one queue; %.2f broker cores for batches (quorum), %.0f%% of the %.0f batches/s one queue passed here" % (
        2 * batches, batches, batches, mib_s, batches * e["RMQ_US"] / 1e6, 100 * batches / e["RMQ_RATE"], e["RMQ_RATE"]))
    print("  rollup marks   %.0f marks per shard and minute (16 shards; Cassandra fails a read at 100,000 tombstones)" % (series / 16))
EOF
} | tee "$out/table.txt"
