//go:build functional

package functional

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/storage/storagetest"
)

// BenchmarkCassandraDiskPerPoint measures what vmmon's data takes on disk in
// the bed's Cassandra (its default compression, one replica): an hour of
// agent cycles every 10 s of 100 instances with 20 metrics (720,000 points
// of random values, the worst case for compression), every closed minute
// rolled up, the keyspace flushed to SSTables. Metrics: bytes per raw point,
// bytes per minute rollup (with its share of the hour rollups and of the
// packed rows: tables rollup_1m, rollup_1h and their _packed), and bytes per point for everything the keyspace holds.
//
//	make bed && go test -tags functional -run '^$' -bench CassandraDiskPerPoint -benchtime 1x ./tests/functional/
func BenchmarkCassandraDiskPerPoint(b *testing.B) {
	bedenv.Load(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		s := openCassandra(b)
		start := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
		const cycles, instances, metrics = 360, 100, 20
		rnd := rand.New(rand.NewPCG(1, 2))
		for c := 0; c < cycles; c++ {
			at := start.Add(time.Duration(c) * 10 * time.Second)
			batch := make([]storage.Sample, 0, instances*metrics)
			for in := 0; in < instances; in++ {
				for m := 0; m < metrics; m++ {
					batch = append(batch, storage.Sample{InstanceID: fmt.Sprintf("disk-%04d", in), Metric: fmt.Sprintf("metric.%02d", m),
						Time: at, Value: rnd.Float64() * 1e6, Unit: "B", Kind: "gauge"})
				}
			}
			if err := s.WriteSamples(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		buckets := storagetest.ProcessAll(b, s)
		flush(b, s.Keyspace())
		sizes := keyspaceSizes(b, s.Keyspace())
		points := float64(cycles * instances * metrics)
		var total int64
		var parts []string
		for table, n := range sizes {
			total += n
			parts = append(parts, fmt.Sprintf("%s %d KiB", table, n/1024))
		}
		b.ReportMetric(float64(sizes["measures_raw"])/points, "raw-B/point")
		var rollups int64
		for table, n := range sizes {
			if strings.HasPrefix(table, "rollup_1") {
				rollups += n
			}
		}
		b.ReportMetric(float64(rollups)/float64(buckets), "rollup-B/minute")
		b.ReportMetric(float64(total)/points, "all-B/point")
		b.Logf("%d points, %d minute buckets rolled up; on disk: %s", int(points), buckets, strings.Join(parts, ", "))
	}
}

// flush writes the keyspace's memtables to SSTables (nodetool flush, from the
// bed's Cassandra jars, over JMX).
func flush(b *testing.B, keyspace string) {
	b.Helper()
	lib := filepath.Join(bedenv.Dir(), "cassandra", "lib", "*")
	cmd := exec.Command("java", "-Xmx128m", "-cp", lib, "-Dlogback.configurationFile="+filepath.Join(bedenv.Script("cassandra"), "logback.xml"),
		"-Dcassandra.logdir="+filepath.Join(bedenv.Dir(), "log"),
		"--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
		"--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED",
		"--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/java.lang=ALL-UNNAMED",
		"org.apache.cassandra.tools.NodeTool", "-h", "127.0.0.1", "-p", "7199", "flush", keyspace)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("nodetool flush %s: %v\n%s", keyspace, err, out)
	}
}

// keyspaceSizes returns the bytes of SSTable files of each table of the
// keyspace in the bed's Cassandra data folder.
func keyspaceSizes(b *testing.B, keyspace string) map[string]int64 {
	b.Helper()
	dir := filepath.Join(bedenv.Dir(), "cassandra", "data", keyspace)
	tables, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]int64{}
	for _, t := range tables {
		name, _, _ := strings.Cut(t.Name(), "-")
		_ = filepath.WalkDir(filepath.Join(dir, t.Name()), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if info, err := d.Info(); err == nil {
					out[name] += info.Size()
				}
			}
			return nil
		})
	}
	return out
}
