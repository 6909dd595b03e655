package agent

import (
	"context"
	"sync/atomic"
	"time"
)

// workers runs functions on goroutines kept from one call to the next. Each
// libvirt call runs on a goroutine apart from its caller, so that a call
// stuck past its timeout is left behind; a cycle makes such a call for every
// domain the bulk answer lacks groups of, and starting a goroutine for each,
// and growing its stack for the call into C, cost the agent more than the
// call itself does on an in-process driver. A goroutine stuck in a call
// stays with it; the others wait for the next, at most max of them idle.
type workers struct {
	jobs chan func()
	idle atomic.Int32
	max  int32
}

func newWorkers(max int) *workers {
	return &workers{jobs: make(chan func()), max: int32(max)}
}

// run starts job on an idle goroutine, or on a new one when none is idle.
func (w *workers) run(job func()) {
	select {
	case w.jobs <- job:
	default:
		go w.loop(job)
	}
}

func (w *workers) loop(job func()) {
	for {
		job()
		if w.idle.Add(1) > w.max {
			w.idle.Add(-1)
			return
		}
		job = <-w.jobs
		w.idle.Add(-1)
	}
}

// within runs fn on w with a timeout. A call that times out keeps running in
// the background; its result is dropped.
func within[T any](ctx context.Context, w *workers, d time.Duration, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	w.run(func() {
		v, err := fn()
		ch <- result{v, err}
	})
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, ErrTimeout
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
