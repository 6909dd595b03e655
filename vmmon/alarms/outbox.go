package alarms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// The actions a transition owes are recorded with it, in the alarm's state
// (an outbox). The engine holding the alarm's shard carries them out, one
// alarm's in order, and removes each from the state once done, recording
// its outcome in the history. A collector that stops between an action and
// the write of its outcome leaves it owed: the next holder carries it out
// again (at least once).

// startActions carries out w's owed actions in a goroutine of their own,
// unless one is at it already.
func (e *Engine) startActions(ctx context.Context, w *watch) {
	if e.cfg.Actions == nil {
		return
	}
	e.mu.Lock()
	if w.running {
		e.mu.Unlock()
		return
	}
	w.running = true
	if e.base != nil {
		ctx = e.base
	} else {
		ctx = context.WithoutCancel(ctx)
	}
	e.mu.Unlock()
	go e.runActions(ctx, w)
}

// due returns w's first action due at now (under e.mu), if w is still the
// engine's.
func (e *Engine) due(w *watch, now time.Time) (storage.Alarm, storage.PendingAction, bool) {
	if e.watches[w.alarm.ID] != w || !e.held[storage.AlarmShard(w.alarm.ID)] {
		return storage.Alarm{}, storage.PendingAction{}, false
	}
	for _, p := range w.state.Pending {
		if !p.NotBefore.After(now) {
			return w.alarm, p, true
		}
	}
	return storage.Alarm{}, storage.PendingAction{}, false
}

func (e *Engine) runActions(ctx context.Context, w *watch) {
	defer func() {
		e.mu.Lock()
		w.running = false
		e.mu.Unlock()
	}()
	for ctx.Err() == nil {
		e.mu.Lock()
		a, p, ok := e.due(w, e.now())
		e.mu.Unlock()
		if !ok {
			return
		}
		actx, cancel := context.WithTimeout(ctx, e.cfg.ActionTimeout)
		err := e.cfg.Actions.Run(actx, a, p)
		cancel()
		if ctx.Err() != nil {
			return // stopping: the action stays owed
		}
		e.settle(ctx, w, a, p, err)
	}
}

// settle records an attempt: done (or failed for good) leaves the state,
// with its outcome in the history; a failure to retry waits its backoff.
func (e *Engine) settle(ctx context.Context, w *watch, a storage.Alarm, p storage.PendingAction, err error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	e.mu.Lock()
	cur := w.state
	e.mu.Unlock()
	idx := -1
	for i, x := range cur.Pending {
		if x.ID == p.ID {
			idx = i
		}
	}
	if idx < 0 {
		return // settled by another evaluator
	}
	attempts := cur.Pending[idx].Attempts + 1
	final := err == nil || errors.Is(err, ErrPermanent) || attempts >= e.cfg.Attempts
	st := cur
	st.Version++
	st.Pending = append([]storage.PendingAction(nil), cur.Pending...)
	if final {
		st.Pending = append(st.Pending[:idx], st.Pending[idx+1:]...)
	} else {
		st.Pending[idx].Attempts, st.Pending[idx].NotBefore = attempts, e.now().Add(Backoff(attempts))
		e.log.Warn("alarm action failed; retrying", "alarm_id", a.ID, "action", p.Action.Type, "attempt", attempts, "error", err)
	}
	if final {
		// The outcome first: the call was made, whatever the write of the
		// state meets (a crash before it makes the action run again).
		now := e.now().UTC()
		h := storage.AlarmHistory{AlarmID: a.ID, ID: storage.HistoryID(now, fmt.Sprintf("act-%s-%d", p.ID, attempts)), Time: now, Type: "action",
			Previous: p.Previous, Current: p.Current, Outcome: "succeeded", Detail: describe(p.Action, attempts, nil)}
		if err != nil {
			h.Outcome, h.Detail = "failed", describe(p.Action, attempts, err)
			e.log.Error("alarm action failed", "alarm_id", a.ID, "action", p.Action.Type, "attempts", attempts, "error", err)
		}
		if herr := e.store.AddAlarmHistory(ctx, h); herr != nil {
			e.log.Error("recording an alarm action's outcome", "alarm_id", a.ID, "error", herr)
		}
	}
	_ = e.commit(ctx, w, st)
}

func describe(act storage.AlarmAction, attempts int, err error) string {
	what := act.Type
	switch act.Type {
	case "webhook":
		what += " " + act.URL
	case "instance_action":
		what += " " + act.Action
	}
	if err != nil {
		return fmt.Sprintf("%s failed after %d attempt(s): %v", what, attempts, err)
	}
	return fmt.Sprintf("%s succeeded (attempt %d)", what, attempts)
}
