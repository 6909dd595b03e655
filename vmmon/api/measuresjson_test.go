package api

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

func pt(t time.Time, v float64) storage.Point { return storage.Point{Time: t, Value: v} }

// reference is what encoding/json writes for the measures document.
func reference(t testing.TB, mq storage.MeasureQuery, series []storage.Series) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(map[string]any{"measures": map[string]any{
		"metric": mq.Metric, "start": mq.Start, "end": mq.End, "granularity": int(mq.Granularity.Seconds()),
		"aggregation": mq.Aggregation, "series": series}})
	return buf.Bytes(), err
}

func TestAppendMeasuresMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	east := time.FixedZone("east", 5*3600+1800)
	mq := storage.MeasureQuery{Metric: "cpu_util", Start: at, End: at.Add(time.Hour), Granularity: time.Minute, Aggregation: "mean"}
	cases := []struct {
		name   string
		mq     storage.MeasureQuery
		series []storage.Series
	}{
		{"no series", mq, nil},
		{"empty series list", mq, []storage.Series{}},
		{"empty and null points", mq, []storage.Series{{Unit: "%", Points: []storage.Point{}}, {Device: "vda", Unit: "B/s"}}},
		{"values of every form", mq, []storage.Series{{Unit: "%", Points: []storage.Point{
			pt(at, 0), pt(at, math.Copysign(0, -1)), pt(at, 1), pt(at, -2.5), pt(at, 1.0/3), pt(at, 123456789.125),
			pt(at, 1e-6), pt(at, 9.99e-7), pt(at, -1.5e-9), pt(at, 1e20), pt(at, 1e21), pt(at, -3.2e100), pt(at, math.MaxFloat64),
			pt(at, math.SmallestNonzeroFloat64), pt(at, 5e-324), pt(at, 1e-10),
		}}}},
		{"times with fractions and zones", mq, []storage.Series{{Unit: "s", Points: []storage.Point{
			pt(at.Add(123456789*time.Nanosecond), 1), pt(at.Add(120*time.Millisecond), 2), pt(at.In(east), 3), pt(time.Time{}, 4), pt(at.Local(), 5), pt(time.Date(999, 12, 31, 23, 59, 59, 0, time.UTC), 8),
		}}}},
		{"names that need escaping", storage.MeasureQuery{Metric: "disk \"quoted\" \\ <b>&", Start: at.In(east), End: at, Granularity: 3600 * time.Second, Aggregation: "max"},
			[]storage.Series{{Device: "vd\u00e9\u2028\x01", Unit: "B\t/s", Points: []storage.Point{pt(at, 1)}}}},
		{"raw granularity", storage.MeasureQuery{Metric: "m", Start: at, End: at, Aggregation: "last"}, []storage.Series{{Unit: "x"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := reference(t, c.mq, c.series)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendMeasures(nil, c.mq, c.series)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// What encoding/json refuses is refused too.
func TestAppendMeasuresRefusesWhatJSONCannotHold(t *testing.T) {
	ok := time.Unix(0, 0).UTC()
	cases := []storage.Point{pt(ok, math.NaN()), pt(ok, math.Inf(1)), pt(ok, math.Inf(-1)),
		pt(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), 1), pt(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), 1)}
	for _, p := range cases {
		s := []storage.Series{{Unit: "%", Points: []storage.Point{p}}}
		mq := storage.MeasureQuery{Start: ok, End: ok}
		if _, err := reference(t, mq, s); err == nil {
			t.Fatalf("encoding/json took %+v", p)
		}
		if _, err := appendMeasures(nil, mq, s); err == nil {
			t.Errorf("%+v encoded without an error", p)
		}
	}
}

func FuzzAppendMeasures(f *testing.F) {
	f.Add("cpu_util", "vda", "%", int64(1764237600123456789), 12.5, 1e-7)
	f.Add("m\"\\", "\u2028", "\xff", int64(-1), -0.0, 1e300)
	f.Fuzz(func(t *testing.T, metric, device, unit string, nanos int64, v1, v2 float64) {
		at := time.Unix(0, nanos).UTC()
		mq := storage.MeasureQuery{Metric: metric, Start: at, End: at, Granularity: time.Minute, Aggregation: "mean"}
		s := []storage.Series{{Device: device, Unit: unit, Points: []storage.Point{pt(at, v1), pt(at, v2)}}}
		want, werr := reference(t, mq, s)
		got, gerr := appendMeasures(nil, mq, s)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("errors differ: %v, %v", gerr, werr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	})
}

func BenchmarkMeasuresJSON(b *testing.B) {
	at := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	mq := storage.MeasureQuery{Metric: "cpu_util", Start: at, End: at.Add(24 * time.Hour), Granularity: time.Minute, Aggregation: "mean"}
	s := []storage.Series{{Unit: "%", Points: make([]storage.Point, 1440)}}
	for i := range s[0].Points {
		s[0].Points[i] = storage.Point{Time: at.Add(time.Duration(i) * time.Minute), Value: float64(i) / 7}
	}
	b.Run("append", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := appendMeasures(make([]byte, 0, 100000), mq, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := reference(b, mq, s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
