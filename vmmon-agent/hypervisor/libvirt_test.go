package hypervisor

import (
	"context"
	"errors"
	"testing"
	"time"

	"libvirt.org/go/libvirt"
)

// TestDomainStatsKeepsBulkDomains reads libvirt's in-process test driver
// (test:///default, one running domain): the per-domain calls after a bulk
// call use the domains it answered with when it lacked a group asked for
// (the test driver gives the state alone), and look a domain up when the
// bulk call did not give it or gave every group asked for (as QEMU's does:
// no per-domain read follows then, and nothing is kept).
func TestDomainStatsKeepsBulkDomains(t *testing.T) {
	for _, tc := range []struct {
		name        string
		bulk        Groups // 0: no bulk call
		wantLookups int64
	}{
		{"after a bulk call lacking groups", AllGroups, 0},
		{"after a bulk call with every group asked for", GroupState, 1},
		{"without one", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Dial("test:///default")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			lc := c.(*libvirtConn)
			refs, err := c.ListDomains()
			if err != nil || len(refs) != 1 {
				t.Fatalf("domains of test:///default: %v %v", refs, err)
			}
			if tc.bulk != 0 {
				stats, err := c.BulkStats(tc.bulk, false)
				if err != nil || len(stats) != 1 || stats[0].UUID != refs[0].UUID {
					t.Fatalf("bulk: %+v %v", stats, err)
				}
			}
			s, err := c.DomainStats(refs[0].UUID, GroupCPU|GroupVCPU|GroupBalloon, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.State != "running" || s.Values["cpu.time"] == 0 || s.Values["vcpu.current"] == 0 || s.Values["balloon.maximum"] == 0 {
				t.Errorf("stats: %+v", s)
			}
			if got := lc.raw.lookups.Load(); got != tc.wantLookups {
				t.Errorf("%d lookups by UUID, want %d", got, tc.wantLookups)
			}
		})
	}
}

// TestKeptAnswerOutlivesItsReplacement: a bulk answer kept for per-domain
// reads is freed when the next one replaces it, but not while a read still
// uses one of its domains (a read stuck past its timeout, say): the last
// read to finish frees it.
func TestKeptAnswerOutlivesItsReplacement(t *testing.T) {
	c, err := Dial("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := c.(*libvirtConn).raw
	stats, err := c.BulkStats(AllGroups, false)
	if err != nil || len(stats) != 1 {
		t.Fatalf("bulk: %+v %v", stats, err)
	}
	first := raw.kept
	d, inUse, _, err := raw.domain(stats[0].UUID)
	if err != nil || d == nil || inUse != first {
		t.Fatalf("the kept answer does not hold %s", stats[0].UUID)
	}
	if _, err := c.BulkStats(AllGroups, false); err != nil {
		t.Fatal(err)
	}
	if raw.kept == first || first.refs != 1 || raw.freed.Load() != 0 {
		t.Fatalf("replaced while in use: kept anew %v, %d holders left, %d freed; want true, 1 (the read), 0", raw.kept != first, first.refs, raw.freed.Load())
	}
	raw.release(inUse)
	if got := raw.freed.Load(); got != 1 {
		t.Errorf("%d answers freed once the read ended, want 1", got)
	}
	// The answer kept now is freed as the next replaces it, none using it.
	if _, err := c.BulkStats(AllGroups, false); err != nil {
		t.Fatal(err)
	}
	if got := raw.freed.Load(); got != 2 {
		t.Errorf("%d answers freed after a replacement none used, want 2", got)
	}
	// A read now uses the answer kept last, and leaves it kept.
	if _, err := c.DomainStats(stats[0].UUID, GroupCPU, nil, nil); err != nil {
		t.Errorf("a read after the replacements: %v", err)
	}
	if lookups, freed := raw.lookups.Load(), raw.freed.Load(); lookups != 0 || freed != 2 || raw.kept == nil || raw.kept.refs != 1 {
		t.Errorf("after a read: %d lookups, %d freed, kept %v; want 0, 2 and the answer kept, unused", lookups, freed, raw.kept)
	}
}

// TestDomainStatsAfterClose: a per-domain read on a closed connection is an
// error that says the connection is lost, whether or not a bulk answer was
// kept. (A read that looks its domain up holds a reference to the
// connection, so that a close while it runs does not free it under the
// read; that window is not reproducible here.)
func TestDomainStatsAfterClose(t *testing.T) {
	for _, bulk := range []bool{true, false} {
		c, err := Dial("test:///default")
		if err != nil {
			t.Fatal(err)
		}
		refs, err := c.ListDomains()
		if err != nil || len(refs) != 1 {
			t.Fatalf("domains of test:///default: %v %v", refs, err)
		}
		if bulk {
			if _, err := c.BulkStats(AllGroups, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DomainStats(refs[0].UUID, GroupCPU, nil, nil); !errors.Is(err, ErrConnection) {
			t.Errorf("after a bulk call %v: a read after Close: %v; want ErrConnection", bulk, err)
		}
	}
}

// TestDomainStatsUnknown: a UUID that neither the bulk answer nor the driver
// knows is a domain gone.
func TestDomainStatsUnknown(t *testing.T) {
	c, err := Dial("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.BulkStats(AllGroups, false); err != nil {
		t.Fatal(err)
	}
	_, err = c.DomainStats("00000000-0000-0000-0000-00000000abcd", GroupCPU, nil, nil)
	if !errors.Is(err, ErrNoDomain) {
		t.Errorf("got %v, want ErrNoDomain", err)
	}
}

// TestEvents: lifecycle events of the in-process test driver arrive, and
// Events returns nil once its context ends (the driver's connection is never
// lost).
func TestEvents(t *testing.T) {
	c, err := Dial("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lc := c.(*libvirtConn)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Event, 16)
	done := make(chan error, 1)
	go func() { done <- c.Events(ctx, out) }()
	d, err := lc.c.LookupDomainByName("test")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Free()
	// Registration happens in the goroutine: pause and resume until events
	// come, then pause once more and read that event.
	deadline := time.After(10 * time.Second)
	for registered := false; !registered; {
		if err := d.Suspend(); err != nil {
			t.Fatal(err)
		}
		if err := d.Resume(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-out:
			registered = true
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no lifecycle event within 10 s")
		}
	}
	if err := d.Suspend(); err != nil {
		t.Fatal(err)
	}
	var got Event
	for got.Event != "suspended" { // the resumes' events may still be on their way
		select {
		case got = <-out:
		case <-time.After(5 * time.Second):
			t.Fatal("no event for the pause within 5 s")
		}
	}
	if got.Event != "suspended" || got.Detail != "paused" || got.Name != "test" || got.UUID == "" {
		t.Errorf("event %+v", got)
	}
	if state, _, err := d.GetState(); err != nil || state != libvirt.DOMAIN_PAUSED {
		t.Errorf("domain state %v %v", state, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Events returned %v after its context ended", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Events still running 5 s after its context ended")
	}
}
