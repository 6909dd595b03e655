package cassandra

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

func bucketsAt(start time.Time, step time.Duration, idx ...int) []storage.Bucket {
	var out []storage.Bucket
	for _, i := range idx {
		t := start.Add(time.Duration(i) * step)
		out = append(out, storage.Bucket{Time: t, Agg: storage.Agg{Min: float64(i) - 0.5, Max: float64(i) + 0.25, Sum: float64(3 * i),
			Count: int64(i + 1), Last: -float64(i), LastTime: t.Add(step - time.Microsecond)}})
	}
	return out
}

func TestPackRoundTrip(t *testing.T) {
	hour := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	dayStart := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		p        packing
		start    time.Time
		idx      []int
		from, to time.Time
		want     []int
	}{
		{"whole hour of minutes", minutesPacked, hour, []int{0, 1, 30, 59}, hour, hour.Add(time.Hour), []int{0, 1, 30, 59}},
		{"minutes cut to the range", minutesPacked, hour, []int{0, 1, 30, 59}, hour.Add(time.Minute), hour.Add(30 * time.Minute), []int{1}},
		{"empty span", minutesPacked, hour, nil, hour, hour.Add(time.Hour), nil},
		{"day of hours", hoursPacked, dayStart, []int{0, 5, 23}, dayStart, dayStart.Add(24 * time.Hour), []int{0, 5, 23}},
		{"range before the span", hoursPacked, dayStart, []int{0, 5, 23}, dayStart.Add(-time.Hour), dayStart, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := c.p.pack(c.start, bucketsAt(c.start, c.p.step, c.idx...))
			if err != nil {
				t.Fatal(err)
			}
			if want := 1 + len(c.idx)*entrySize; len(data) != want {
				t.Errorf("packed %d buckets into %d bytes, want %d", len(c.idx), len(data), want)
			}
			got, err := c.p.unpack(nil, c.start, data, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			if want := bucketsAt(c.start, c.p.step, c.want...); !reflect.DeepEqual(got, want) {
				t.Errorf("unpacked\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestPackRefusesBucketsOutsideTheSpan(t *testing.T) {
	hour := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	for _, b := range []time.Time{hour.Add(-time.Minute), hour.Add(time.Hour), hour.Add(90 * time.Second)} {
		if _, err := minutesPacked.pack(hour, []storage.Bucket{{Time: b, Agg: storage.Agg{Count: 1}}}); err == nil {
			t.Errorf("bucket at %s packed into the hour at %s", b.Format(time.RFC3339), hour.Format(time.RFC3339))
		}
	}
}

func TestUnpackRefusesMalformedBlobs(t *testing.T) {
	hour := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	good, err := minutesPacked.pack(hour, bucketsAt(hour, time.Minute, 3, 4))
	if err != nil {
		t.Fatal(err)
	}
	swapped := append([]byte{packedVersion}, good[1+entrySize:]...)
	swapped = append(swapped, good[1:1+entrySize]...)
	pastSpan := append([]byte(nil), good...)
	pastSpan[1+entrySize] = 60
	for name, data := range map[string][]byte{
		"unknown version":   append([]byte{9}, good[1:]...),
		"truncated entry":   good[:len(good)-1],
		"out of order":      swapped,
		"index past span":   pastSpan,
		"version byte only": append(good[:1:1], 0),
	} {
		if _, err := minutesPacked.unpack(nil, hour, data, hour, hour.Add(time.Hour)); !errors.Is(err, errPacked) {
			t.Errorf("%s: error %v, want errPacked", name, err)
		}
	}
}

func FuzzUnpack(f *testing.F) {
	hour := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	good, _ := minutesPacked.pack(hour, bucketsAt(hour, time.Minute, 0, 7, 59))
	f.Add(good)
	f.Add([]byte{packedVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := minutesPacked.unpack(nil, hour, data, hour, hour.Add(time.Hour))
		if err != nil {
			return
		}
		again, err := minutesPacked.pack(hour, got)
		if err != nil {
			t.Fatalf("unpacked buckets do not pack again: %v", err)
		}
		if len(data) > 0 && string(again) != string(data) {
			t.Fatalf("pack(unpack(x)) != x")
		}
	})
}

func TestMergeBuckets(t *testing.T) {
	at := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	b := func(minute int, count int64) storage.Bucket {
		return storage.Bucket{Time: at.Add(time.Duration(minute) * time.Minute), Agg: storage.Agg{Count: count}}
	}
	cases := []struct {
		name       string
		a, b, want []storage.Bucket
	}{
		{"both empty", nil, nil, []storage.Bucket{}},
		{"only packed", []storage.Bucket{b(1, 1), b(2, 1)}, nil, []storage.Bucket{b(1, 1), b(2, 1)}},
		{"only rows", nil, []storage.Bucket{b(3, 2)}, []storage.Bucket{b(3, 2)}},
		{"interleaved", []storage.Bucket{b(0, 1), b(2, 1), b(4, 1)}, []storage.Bucket{b(1, 2), b(3, 2), b(5, 2)},
			[]storage.Bucket{b(0, 1), b(1, 2), b(2, 1), b(3, 2), b(4, 1), b(5, 2)}},
		{"rows win at the same time", []storage.Bucket{b(0, 1), b(1, 1), b(2, 1)}, []storage.Bucket{b(1, 2), b(2, 2)},
			[]storage.Bucket{b(0, 1), b(1, 2), b(2, 2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mergeBuckets(c.a, c.b); !reflect.DeepEqual(got, c.want) {
				t.Errorf("mergeBuckets = %+v; want %+v", got, c.want)
			}
		})
	}
}
