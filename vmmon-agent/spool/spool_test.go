package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type sink struct {
	got  []string
	fail int // fail after this many successes (-1 never)
}

func (k *sink) send(_ context.Context, key string, body []byte) error {
	if k.fail == 0 {
		return errors.New("broker down")
	}
	k.fail--
	k.got = append(k.got, key+"="+string(body))
	return nil
}

func TestOrderAndResumeAfterFailure(t *testing.T) {
	s, err := Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := s.Append("samples.h", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	k := &sink{fail: 2}
	n, err := s.Drain(context.Background(), k.send)
	if n != 2 || err == nil {
		t.Fatalf("drain = %d, %v; want 2 and the failure", n, err)
	}
	if m, _, _ := s.Stats(); m != 3 {
		t.Fatalf("%d left; want 3", m)
	}
	k.fail = -1
	if n, err := s.Drain(context.Background(), k.send); n != 3 || err != nil {
		t.Fatalf("second drain = %d, %v", n, err)
	}
	want := []string{"samples.h=1", "samples.h=2", "samples.h=3", "samples.h=4", "samples.h=5"}
	if !reflect.DeepEqual(k.got, want) {
		t.Errorf("sent %v; want %v", k.got, want)
	}
	if m, b, _ := s.Stats(); m != 0 || b != 0 {
		t.Errorf("after drain: %d messages, %d bytes", m, b)
	}
	if w := s.Written(); w != 5 {
		t.Errorf("%d written; want 5", w)
	}
}

func TestBoundDropsOldest(t *testing.T) {
	s, err := Open(t.TempDir(), int64(3*len("k.h\n\"01234567\"")))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := s.Append("k.h", []byte(fmt.Sprintf("%q", fmt.Sprintf("%08d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	m, _, dropped := s.Stats()
	if m != 3 || dropped != 2 {
		t.Fatalf("%d kept, %d dropped; want 3 and 2", m, dropped)
	}
	k := &sink{fail: -1}
	if _, err := s.Drain(context.Background(), k.send); err != nil {
		t.Fatal(err)
	}
	if want := []string{`k.h="00000002"`, `k.h="00000003"`, `k.h="00000004"`}; !reflect.DeepEqual(k.got, want) {
		t.Errorf("kept %v; want the newest %v", k.got, want)
	}
	if err := s.Append("k.h", make([]byte, 100)); err == nil {
		t.Error("a message larger than the whole spool was accepted")
	}
}

// Messages survive a restart of the agent, in order, and a half-written file
// left by a crash is discarded.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, 0)
	for i := 0; i < 3; i++ {
		if err := s.Append("k.h", []byte(fmt.Sprintf("%q", string(rune('a'+i))))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp12345"), []byte("k\nhalf"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Append("k.h", []byte(`"d"`)); err != nil {
		t.Fatal(err)
	}
	k := &sink{fail: -1}
	if _, err := s2.Drain(context.Background(), k.send); err != nil {
		t.Fatal(err)
	}
	if want := []string{`k.h="a"`, `k.h="b"`, `k.h="c"`, `k.h="d"`}; !reflect.DeepEqual(k.got, want) {
		t.Errorf("after reopen sent %v; want %v", k.got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp12345")); !errors.Is(err, os.ErrNotExist) {
		t.Error("temporary file of a crashed write left behind")
	}
}

// An unreadable message (damaged outside vmmon, e.g. by a disk fault after a
// kill) is moved aside, counted, and the messages after it are still sent.
func TestUnreadableMovedAside(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, 0)
	for _, body := range []string{`"a"`, `"b"`, `"c"`, `"d"`} {
		if err := s.Append("samples.h", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	// Damage the second (truncated JSON) and third (no routing key line).
	files, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err := os.WriteFile(files[1], []byte("samples.h\n{\"oslo.ver"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[2], []byte{0xff, 0x00, 0x13}, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, 0) // as the agent finds it after the kill
	if err != nil {
		t.Fatal(err)
	}
	k := &sink{fail: -1}
	if _, err := s.Drain(context.Background(), k.send); err != nil {
		t.Fatal(err)
	}
	if want := []string{`samples.h="a"`, `samples.h="d"`}; !reflect.DeepEqual(k.got, want) {
		t.Errorf("sent %v; want %v", k.got, want)
	}
	aside, _ := filepath.Glob(filepath.Join(dir, AsideDir, "*"+suffix))
	if s.Aside() != 2 || len(aside) != 2 {
		t.Errorf("%d counted and %d files set aside; want 2", s.Aside(), len(aside))
	}
	if m, b, _ := s.Stats(); m != 0 || b != 0 {
		t.Errorf("%d messages (%d bytes) left", m, b)
	}
}

// What this run spooled is sent from memory, as written, without reading the
// file back; beyond memBytes, the oldest messages are read from disk (and a
// damaged one set aside).
func TestSentFromMemoryWithinBound(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, 0)
	big := func(c byte) []byte { return []byte(`"` + strings.Repeat(string(c), memBytes*2/7) + `"`) }
	for _, c := range []byte("abcd") {
		if err := s.Append("samples.h", big(c)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	for _, f := range files {
		if err := os.WriteFile(f, []byte("samples.h\n{\"damaged"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k := &sink{fail: -1}
	if _, err := s.Drain(context.Background(), k.send); err != nil {
		t.Fatal(err)
	}
	want := []string{"samples.h=" + string(big('b')), "samples.h=" + string(big('c')), "samples.h=" + string(big('d'))}
	if !reflect.DeepEqual(k.got, want) || s.Aside() != 1 {
		t.Errorf("sent %d messages, %d set aside; want the three newest from memory and the oldest set aside", len(k.got), s.Aside())
	}
	if m, b, _ := s.Stats(); m != 0 || b != 0 || s.inMem != 0 {
		t.Errorf("%d messages (%d bytes, %d in memory) left", m, b, s.inMem)
	}
}

// Free reads the spool's file system; a spool whose folder is gone says so.
func TestFree(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if free, err := s.Free(); err != nil || free <= 0 {
		t.Errorf("Free = %d, %v; want some bytes", free, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Free(); err == nil {
		t.Error("Free of a spool whose folder is gone: no error")
	}
}
