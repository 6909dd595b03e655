package agentmsg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/messaging"
)

// wrapBefore is Wrap as it was until AppendPayload: the data marshalled, then
// marshalled again as a json.RawMessage inside the object.
func wrapBefore(name string, data any) (json.RawMessage, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(object{Name: name, Version: Version, Data: b})
}

var fillTime = time.Date(2026, 11, 30, 12, 34, 56, 789012345, time.UTC)

// fill sets every field of v, at every depth, to a value that is not its
// zero: a field added to Batch, Instance, Nova, ... and forgotten by
// AppendBatch shows as a difference from json.Marshal.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("v<&>\"\\ é\u2028" + string(rune('a'+seed%26)))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(-7 - seed))
	case reflect.Uint64:
		v.SetUint(uint64(1<<60 + seed))
	case reflect.Float64:
		v.SetFloat([]float64{1.5e-7, 12345.678, -0.25, 1e21, 3}[seed%5])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(v.Index(i), seed+i+1)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(fillTime.Add(time.Duration(seed) * time.Second)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), seed+i)
		}
	default:
		panic("fill: a field of kind " + v.Kind().String() + " is new: teach fill and AppendBatch about it")
	}
}

func sameAsMarshal(t *testing.T, what string, b *Batch) {
	t.Helper()
	want, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := AppendBatch([]byte("prefix"), b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[len("prefix"):], want) {
		t.Errorf("%s:\n got %s\nwant %s", what, got[len("prefix"):], want)
	}
	wrapped, err := Wrap(ObjectBatch, b)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := wrapBefore(ObjectBatch, b)
	if !bytes.Equal(wrapped, before) {
		t.Errorf("%s: Wrap:\n got %s\nwant %s", what, wrapped, before)
	}
	// Quoted, it is what escaping the plain payload as a string gives.
	quoted, err := AppendPayload(nil, messaging.JSONWriter{Quoted: true}, ObjectBatch, b)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := json.Marshal(string(before)); !bytes.Equal(quoted, s[1:len(s)-1]) {
		t.Errorf("%s: quoted:\n got %s\nwant %s", what, quoted, s[1:len(s)-1])
	}
}

func TestAppendBatchIsJSONMarshal(t *testing.T) {
	var full Batch
	fill(reflect.ValueOf(&full).Elem(), 0)
	sameAsMarshal(t, "every field set", &full)

	sameAsMarshal(t, "zero batch", &Batch{})
	sameAsMarshal(t, "empty lists", &Batch{Time: fillTime, Instances: []Instance{{Metrics: []Metric{}, Nova: &Nova{}}}})
	sameAsMarshal(t, "nil lists", &Batch{Instances: []Instance{{}, {Nova: &Nova{Ports: []Port{{ID: "p"}}}}}})
	zoned := full
	zoned.Time = fillTime.In(time.FixedZone("CET", 3600))
	sameAsMarshal(t, "a zoned time", &zoned)
	var floats []Metric
	for _, f := range []float64{0, math.Copysign(0, -1), 1e-6, 9.99e-7, 1e20, 1e21, 123456789.125, 1.0 / 3, math.MaxFloat64, math.SmallestNonzeroFloat64, -2.5e-9} {
		floats = append(floats, Metric{Name: "m", Value: f})
	}
	sameAsMarshal(t, "floats", &Batch{Instances: []Instance{{Metrics: floats}}})
	if got, _ := AppendBatch(nil, nil); string(got) != "null" {
		t.Errorf("nil batch: %s", got)
	}

	// What json.Marshal refuses, AppendBatch refuses.
	for name, b := range map[string]*Batch{
		"NaN":      {Instances: []Instance{{Metrics: []Metric{{Value: math.NaN()}}}}},
		"infinity": {DurationMS: math.Inf(1)},
		"year":     {Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := json.Marshal(b); err == nil {
			t.Fatalf("%s: json.Marshal accepts it", name)
		}
		if _, err := AppendBatch(nil, b); err == nil {
			t.Errorf("%s: AppendBatch accepts it", name)
		}
		if _, err := Wrap(ObjectBatch, b); err == nil {
			t.Errorf("%s: Wrap accepts it", name)
		}
	}
}

// A LazyBatch is written as the batch with its metrics made beforehand: for
// each instance, its own metrics, then what Metrics appends; null only when
// both are empty and the instance's own list is nil.
func TestLazyBatchIsItsBatch(t *testing.T) {
	var full Batch
	fill(reflect.ValueOf(&full).Elem(), 0)
	made := func(i int) []Metric {
		return [][]Metric{{{Name: "cpu_util", Value: 12.5, Unit: "%", Kind: "rate"}, {Name: "vcpu.time", Device: "vcpu0", Value: 3, Unit: "ns", Kind: "cumulative"}}, nil, {{Name: "memory", Value: 512}}, nil}[i]
	}
	lazy := &Batch{Host: full.Host, Stream: full.Stream, Seq: full.Seq, Time: full.Time, Instances: []Instance{
		full.Instances[0],
		{UUID: "a", Metrics: []Metric{}},
		{UUID: "b"},
		{UUID: "c"},
	}}
	eager := *lazy
	eager.Instances = nil
	for i, in := range lazy.Instances {
		in.Metrics = append(in.Metrics, made(i)...)
		eager.Instances = append(eager.Instances, in)
	}
	var calls []int
	for _, w := range []messaging.JSONWriter{{}, {Quoted: true}} {
		calls = calls[:0]
		got, err := AppendPayload(nil, w, ObjectBatch, LazyBatch{Batch: lazy, Metrics: func(i int, dst []Metric) []Metric {
			if len(dst) != 0 {
				t.Errorf("instance %d: Metrics given %d metrics to append to", i, len(dst))
			}
			calls = append(calls, i)
			return append(dst, made(i)...)
		}})
		if err != nil {
			t.Fatal(err)
		}
		want, err := AppendPayload(nil, w, ObjectBatch, &eager)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("quoted %v:\n got %s\nwant %s", w.Quoted, got, want)
		}
		if fmt.Sprint(calls) != "[0 1 2 3]" {
			t.Errorf("Metrics called for %v, want each instance once, in order", calls)
		}
	}
	if n := len(lazy.Instances[1].Metrics) + len(lazy.Instances[2].Metrics); n != 0 {
		t.Errorf("writing a LazyBatch changed its instances' metrics (%d now)", n)
	}
	plain, _ := AppendPayload(nil, messaging.JSONWriter{}, ObjectBatch, LazyBatch{Batch: lazy, Metrics: func(int, []Metric) []Metric { return nil }})
	if !bytes.Contains(plain, []byte(`"uuid":"a","domain_name":"","nova":null,"state":"","state_reason":0,"timestamp":"0001-01-01T00:00:00Z","monotonic_ns":0,"metrics":[]`)) ||
		!bytes.Contains(plain, []byte(`"uuid":"b","domain_name":"","nova":null,"state":"","state_reason":0,"timestamp":"0001-01-01T00:00:00Z","monotonic_ns":0,"metrics":null`)) {
		t.Errorf("with nothing made, an empty list stays [] and a nil one null: %s", plain)
	}
}

// Heartbeats and events go through encoding/json; Wrap writes what it wrote.
func TestWrapOthersAsBefore(t *testing.T) {
	var hb Heartbeat
	fill(reflect.ValueOf(&hb).Elem(), 3)
	var ev Event
	fill(reflect.ValueOf(&ev).Elem(), 5)
	var b Batch
	fill(reflect.ValueOf(&b).Elem(), 1)
	for name, v := range map[string]any{ObjectHeartbeat: hb, ObjectEvent: &ev, ObjectBatch: b} {
		got, err := Wrap(name, v)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := wrapBefore(name, v)
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func FuzzAppendBatch(f *testing.F) {
	f.Add("host-1", "vda", "cpu_util", 12.5, int64(7))
	f.Add("<&>\u2028", "\xff", "\x00\n", -1e-9, int64(-1))
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, v float64, n int64) {
		b := &Batch{Host: s1, Stream: s2, Seq: uint64(n), Interval: v, Time: time.Unix(0, n).UTC(), Instances: []Instance{{
			UUID: s1, Name: s3, State: s2, MonoNS: n, Errors: []string{s3},
			Nova:    &Nova{Name: s3, Ports: []Port{{ID: s2, IPs: []string{s1}}}, Created: s1},
			Metrics: []Metric{{Name: s3, Device: s2, Value: v, Unit: s1, Kind: s2}}}}}
		want, werr := json.Marshal(b)
		got, gerr := AppendBatch(nil, b)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("json.Marshal: %v; AppendBatch: %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
		quoted, _ := AppendPayload(nil, messaging.JSONWriter{Quoted: true}, ObjectBatch, b)
		plain, _ := Wrap(ObjectBatch, b)
		if s, _ := json.Marshal(string(plain)); werr == nil && !bytes.Equal(quoted, s[1:len(s)-1]) {
			t.Errorf("quoted:\n got %s\nwant %s", quoted, s[1:len(s)-1])
		}
	})
}

func benchBatch() *Batch {
	b := &Batch{Host: "cmp-1", Stream: "5b6f8a8e-7c1d-4e0a-9f3b-0000000000b1", Seq: 42, AgentVersion: "1.0.0",
		Time: fillTime, Interval: 10, DurationMS: 12.345}
	for i := 0; i < 200; i++ {
		in := Instance{UUID: "7e57d000-0000-4000-8000-000000000001", Name: "instance-0001", State: "running", Time: fillTime,
			MonoNS: 123456789012, Nova: &Nova{Name: "vm", ProjectID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", ProjectName: "demo",
				UserID: "1f2e3d4c5b6a79888796a5b4c3d2e1f0", UserName: "demo-member", Flavor: Flavor{Name: "m1.tiny", VCPUs: 1, MemoryMB: 512, DiskGB: 1},
				Namespace: "http://openstack.org/xmlns/libvirt/nova/1.1"}}
		for j := 0; j < 25; j++ {
			in.Metrics = append(in.Metrics, Metric{Name: "disk.device.read.bytes.rate", Device: "vda", Value: 12345.678 * float64(j), Unit: "B/s", Kind: Rate})
		}
		b.Instances = append(b.Instances, in)
	}
	return b
}

func BenchmarkWrapBatch(b *testing.B) {
	batch := benchBatch()
	b.Run("before", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, _ = wrapBefore(ObjectBatch, batch)
		}
	})
	for _, w := range []messaging.JSONWriter{{}, {Quoted: true}} {
		b.Run(fmt.Sprintf("append-quoted=%v", w.Quoted), func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for i := 0; i < b.N; i++ {
				buf, _ = AppendPayload(buf[:0], w, ObjectBatch, batch)
			}
		})
	}
}
