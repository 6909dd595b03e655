package cassandra

import (
	"testing"
	"time"
)

// Bucket keys tell buckets apart to the second, whatever the location or
// monotonic reading of their times, as their RFC 3339 form in UTC did.
func TestBucketKey(t *testing.T) {
	b := time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	series := seriesID("i-1", "cpu_util", "")
	same := []time.Time{b, b.In(paris), b.Add(500 * time.Millisecond)}
	for _, o := range same {
		if keyOf(series, o) != keyOf(series, b) {
			t.Errorf("keys of %v and %v differ", o, b)
		}
		if (keyOf(series, o) == keyOf(series, b)) != (o.UTC().Format(time.RFC3339) == b.UTC().Format(time.RFC3339)) {
			t.Errorf("key of %v disagrees with its RFC 3339 form", o)
		}
	}
	if now := time.Now(); keyOf(series, now) != keyOf(series, now.Round(0).UTC()) {
		t.Errorf("a monotonic reading changes the key of %v", now)
	}
	for _, k := range []bucketKey{keyOf(series, b.Add(time.Second)), keyOf(seriesID("i-1", "cpu_util", "vda"), b)} {
		if k == keyOf(series, b) {
			t.Errorf("key %+v equals that of another bucket", k)
		}
	}
}
