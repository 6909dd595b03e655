package alarms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"opendev.org/openstack/vmmon/vmmon/agentmsg"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Store is what the engine reads and writes.
type Store interface {
	storage.Alarms
	Measures(ctx context.Context, q storage.MeasureQuery) ([]storage.Series, error)
	ListInstances(ctx context.Context, q storage.InstanceQuery) ([]storage.Instance, error)
	AddEvent(ctx context.Context, e storage.Event) error
}

// Transition is a state change the engine recorded (Previous equals
// State.State when actions repeat).
type Transition struct {
	Alarm    storage.Alarm
	Previous string
	State    storage.AlarmState
}

// EngineConfig tunes an engine; zero values take the defaults.
type EngineConfig struct {
	// LeaseTTL is how long a shard stays leased to an engine that stopped
	// renewing it (default 30 s): how long a dead collector's alarms wait.
	LeaseTTL time.Duration
	// Refresh is how often leases are renewed, definitions reloaded and
	// alarms without new data judged (default 5 s).
	Refresh time.Duration
	// Owner names the engine in leases (default host/pid/random).
	Owner string
	// OnTransition, when set, is called after a transition is recorded
	// (from several goroutines at once).
	OnTransition func(Transition)
	// Actions carries out the actions transitions owe; nil leaves them
	// pending.
	Actions Runner
	// Attempts of an action before it is recorded as failed (default 5).
	Attempts int
	// ActionTimeout bounds one attempt (default 30 s).
	ActionTimeout time.Duration
}

// Engine evaluates, in the stream of samples, the alarms of the shards it
// leases. Each alarm's window is in memory; on taking a shard its alarms'
// states are read and their windows refilled from stored measures. A
// transition is a conditional write on the state's version, so that two
// engines can never both record it.
type Engine struct {
	store Store
	cfg   EngineConfig
	log   *slog.Logger
	now   func() time.Time

	base context.Context // of Run: actions outlive the delivery that caused them

	mu      sync.Mutex
	held    map[int]bool
	loaded  map[int]string        // each held shard's change mark when its alarms were read
	batches uint64                // batches ingested: marks the watches a batch touches
	watches map[string]*watch     // by alarm id
	index   map[indexKey][]*watch // by what a sample must match
}

type watch struct {
	alarm storage.Alarm
	state storage.AlarmState // as stored
	win   Window
	// wmu serialises the writes of the alarm's state.
	wmu sync.Mutex
	// running: a goroutine carries out its pending actions (under e.mu).
	running bool
	// mark is the batch that last touched it (under e.mu).
	mark uint64
}

// NewEngine returns an engine on store.
func NewEngine(store Store, cfg EngineConfig, log *slog.Logger) *Engine {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 5 * time.Second
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.ActionTimeout <= 0 {
		cfg.ActionTimeout = 30 * time.Second
	}
	return &Engine{store: store, cfg: cfg, log: log, now: time.Now, held: map[int]bool{}, loaded: map[int]string{}, watches: map[string]*watch{},
		index: map[indexKey][]*watch{}}
}

// SetClock replaces the engine's clock (tests).
func (e *Engine) SetClock(now func() time.Time) { e.now = now }

// Held returns how many shards the engine holds.
func (e *Engine) Held() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.held)
}

// indexKey is what a sample must match for an alarm: its instance ('i'),
// project ('p') or host ('h'), and the metric.
type indexKey struct {
	kind       byte
	id, metric string
}

func watchKey(a storage.Alarm) indexKey {
	switch a.Target() {
	case "instance":
		return indexKey{'i', a.InstanceID, a.Metric}
	case "host":
		return indexKey{'h', a.Host, a.Metric}
	}
	return indexKey{'p', a.ProjectID, a.Metric}
}

// Run renews leases, reloads definitions and judges alarms without new
// data every Refresh until ctx ends, then gives its shards back.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	e.base = ctx
	e.mu.Unlock()
	t := time.NewTicker(e.cfg.Refresh)
	defer t.Stop()
	for {
		if err := e.Refresh(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("alarm evaluation: refreshing", "error", err)
		}
		select {
		case <-ctx.Done():
			e.releaseAll()
			return nil
		case <-t.C:
		}
	}
}

func (e *Engine) releaseAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.mu.Lock()
	shards := make([]int, 0, len(e.held))
	for s := range e.held {
		shards = append(shards, s)
	}
	shards = append(shards, e.presence())
	e.mu.Unlock()
	for _, s := range shards {
		_ = e.store.ReleaseAlarmShard(ctx, s, e.cfg.Owner)
	}
}

// Refresh takes its fair share of the shards (all of them over the
// engines holding leases), renews those it holds, reloads their alarms
// and judges every alarm at now.
func (e *Engine) Refresh(ctx context.Context) error {
	// The engine's presence, so that the others leave it its share.
	if _, err := e.store.LeaseAlarmShard(ctx, e.presence(), e.cfg.Owner, e.cfg.LeaseTTL); err != nil {
		return err
	}
	owners, err := e.store.AlarmShardOwners(ctx)
	if err != nil {
		return err
	}
	marks, err := e.store.AlarmShardChanges(ctx)
	if err != nil {
		return err
	}
	engines := map[string]bool{e.cfg.Owner: true}
	for _, o := range owners {
		engines[o] = true
	}
	fair := (storage.AlarmShards + len(engines) - 1) / len(engines)
	e.mu.Lock()
	mine := len(e.held)
	e.mu.Unlock()
	var errs []error
	for _, shard := range rand.Perm(storage.AlarmShards) {
		e.mu.Lock()
		holding := e.held[shard]
		e.mu.Unlock()
		switch {
		case holding && mine > fair && !e.busy(shard):
			// Give a shard up for an engine that has fewer (never one
			// whose actions are under way: they would run twice).
			if err := e.store.ReleaseAlarmShard(ctx, shard, e.cfg.Owner); err != nil {
				errs = append(errs, err)
				continue
			}
			e.drop(shard)
			mine--
			continue
		case !holding && (mine >= fair || owners[shard] != "" && owners[shard] != e.cfg.Owner):
			continue
		}
		ok, err := e.store.LeaseAlarmShard(ctx, shard, e.cfg.Owner, e.cfg.LeaseTTL)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case !ok && holding:
			e.drop(shard)
			mine--
		case ok:
			if !holding {
				mine++
			}
			// A shard's alarms are read on taking it and after they change.
			e.mu.Lock()
			seen, read := e.loaded[shard]
			e.mu.Unlock()
			if holding && read && seen == marks[shard] {
				continue
			}
			if err := e.load(ctx, shard); err != nil {
				errs = append(errs, err)
				continue
			}
			e.mu.Lock()
			e.loaded[shard] = marks[shard]
			e.mu.Unlock()
		}
	}
	e.judgeAll(ctx)
	e.mu.Lock()
	var owed []*watch
	for _, w := range e.watches {
		if len(w.state.Pending) > 0 && !w.running {
			owed = append(owed, w)
		}
	}
	e.mu.Unlock()
	for _, w := range owed {
		e.startActions(ctx, w)
	}
	return errors.Join(errs...)
}

// busy reports whether actions of a shard's alarms are under way.
func (e *Engine) busy(shard int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, w := range e.watches {
		if w.running && storage.AlarmShard(id) == shard {
			return true
		}
	}
	return false
}

// presence is the lease row that says the engine runs: one of its own,
// beyond the shards.
func (e *Engine) presence() int {
	h := fnv.New32a()
	h.Write([]byte(e.cfg.Owner))
	return storage.AlarmShards + 1000 + int(h.Sum32()%1_000_000_000)
}

// drop forgets a shard's alarms.
func (e *Engine) drop(shard int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.held, shard)
	delete(e.loaded, shard)
	for id, w := range e.watches {
		if storage.AlarmShard(id) == shard {
			e.unindex(w)
			delete(e.watches, id)
		}
	}
}

func (e *Engine) unindex(w *watch) {
	k := watchKey(w.alarm)
	list := e.index[k]
	for i, x := range list {
		if x == w {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(e.index, k)
	} else {
		e.index[k] = list
	}
}

// load reads a shard's alarms: new or changed ones get their state and a
// window refilled from stored measures; deleted or disabled ones go.
func (e *Engine) load(ctx context.Context, shard int) error {
	list, err := e.store.AlarmsOfShard(ctx, shard)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var errs []error
	for _, a := range list {
		if !a.Enabled {
			continue
		}
		seen[a.ID] = true
		e.mu.Lock()
		w := e.watches[a.ID]
		fresh := w == nil || !w.alarm.UpdatedAt.Equal(a.UpdatedAt)
		e.mu.Unlock()
		if !fresh {
			continue
		}
		st, err := e.store.GetAlarmState(ctx, a.ID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		nw := &watch{alarm: a, state: st}
		if err := e.refill(ctx, nw); err != nil {
			errs = append(errs, err)
		}
		if w == nil && st.Transition > 1 && e.now().Sub(st.Time) < time.Hour {
			// A transition recorded just before its engine stopped: its
			// history entry and event again (the same ids: idempotent).
			e.recordEffects(ctx, Transition{Alarm: a, State: st, Previous: st.Previous})
		}
		e.mu.Lock()
		if old := e.watches[a.ID]; old != nil {
			e.unindex(old)
		}
		e.watches[a.ID] = nw
		e.index[watchKey(a)] = append(e.index[watchKey(a)], nw)
		e.mu.Unlock()
	}
	e.mu.Lock()
	e.held[shard] = true
	for id, w := range e.watches {
		if storage.AlarmShard(id) == shard && !seen[id] {
			e.unindex(w)
			delete(e.watches, id)
		}
	}
	e.mu.Unlock()
	return errors.Join(errs...)
}

// refill reads the points of the alarm's span from storage.
func (e *Engine) refill(ctx context.Context, w *watch) error {
	a := w.alarm
	end := e.now().UTC()
	start := end.Add(-Span(a))
	ids := []string{a.InstanceID}
	if a.Target() != "instance" {
		q := storage.InstanceQuery{ProjectID: a.ProjectID, Deleted: storage.HideDeleted, Limit: 1000}
		if a.Target() == "host" {
			q = storage.InstanceQuery{Host: a.Host, Deleted: storage.HideDeleted, Limit: 1000}
		}
		insts, err := e.store.ListInstances(ctx, q)
		if err != nil {
			return fmt.Errorf("alarm %s: %w", a.ID, err)
		}
		ids = ids[:0]
		for _, in := range insts {
			ids = append(ids, in.ID)
		}
	}
	for _, id := range ids {
		series, err := e.store.Measures(ctx, storage.MeasureQuery{InstanceID: id, Metric: a.Metric, Start: start, End: end.Add(time.Second),
			Granularity: storage.Raw, Aggregation: "mean"})
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
				continue
			}
			return fmt.Errorf("alarm %s: refilling its window: %w", a.ID, err)
		}
		for _, s := range series {
			for _, p := range s.Points {
				w.win.Add(Point{Time: p.Time, Value: p.Value, Source: id})
			}
		}
	}
	return nil
}

// HandleDelivery takes an agents' batch from the engine's queue, adds its
// points to the windows of the alarms they concern, judges those alarms
// and records their transitions.
func (e *Engine) HandleDelivery(ctx context.Context, d messaging.Delivery) messaging.Outcome {
	if !strings.HasPrefix(d.RoutingKey, agentmsg.KindSamples+".") {
		return messaging.Ack
	}
	e.mu.Lock()
	idle := len(e.index) == 0
	e.mu.Unlock()
	if idle {
		return messaging.Ack
	}
	m, err := messaging.Decode(d.Body)
	if err != nil {
		return messaging.Ack // the collector parks what is broken
	}
	var b agentmsg.Batch
	if agentmsg.Unwrap(m.Payload, agentmsg.ObjectBatch, &b) != nil {
		return messaging.Ack
	}
	e.Ingest(ctx, b)
	return messaging.Ack
}

// Ingest adds a batch's points and judges the alarms they concern.
func (e *Engine) Ingest(ctx context.Context, b agentmsg.Batch) {
	now := e.now()
	var touched []*watch
	e.mu.Lock()
	e.batches++
	for _, in := range b.Instances {
		project := ""
		if in.Nova != nil {
			project = in.Nova.ProjectID
		}
		for _, m := range in.Metrics {
			if m.Device != "" {
				continue
			}
			for _, k := range [3]indexKey{{'i', in.UUID, m.Name}, {'p', project, m.Name}, {'h', b.Host, m.Name}} {
				for _, w := range e.index[k] {
					w.win.Add(Point{Time: in.Time, Value: m.Value, Source: in.UUID})
					if w.mark != e.batches {
						w.mark = e.batches
						touched = append(touched, w)
					}
				}
			}
		}
	}
	var todo []pending
	for _, w := range touched {
		if p, ok := e.judge(w, now); ok {
			todo = append(todo, p)
		}
	}
	e.mu.Unlock()
	e.record(ctx, todo)
}

// judgeAll judges every alarm at now (those without new data too).
func (e *Engine) judgeAll(ctx context.Context) {
	now := e.now()
	var todo []pending
	e.mu.Lock()
	for _, w := range e.watches {
		if p, ok := e.judge(w, now); ok {
			todo = append(todo, p)
		}
	}
	e.mu.Unlock()
	e.record(ctx, todo)
}

// pending is a verdict that may change an alarm's state, to record.
type pending struct {
	w   *watch
	v   Verdict
	now time.Time
}

// changes reports whether v at now changes cur: another state, or the same
// one whose actions repeat (once a window).
func changes(a storage.Alarm, cur storage.AlarmState, v Verdict, now time.Time) bool {
	if v.State != cur.State {
		return true
	}
	return a.RepeatActions && cur.State != storage.AlarmInsufficientData && now.Sub(cur.Time) >= time.Duration(a.Window)*time.Second
}

// judge evaluates w at now (under e.mu).
func (e *Engine) judge(w *watch, now time.Time) (pending, bool) {
	a := w.alarm
	w.win.Prune(now.Add(-Span(a) - time.Minute))
	j := judgeWindow(a, &w.win, now, w.state.State)
	if !changes(a, w.state, Verdict{State: j.state}, now) {
		return pending{}, false
	}
	return pending{w: w, v: j.verdict(a, w.state.State), now: now}, true
}

// next is the state after cur that v makes, with the actions it owes.
func next(a storage.Alarm, cur storage.AlarmState, v Verdict, now time.Time) storage.AlarmState {
	n := storage.AlarmState{AlarmID: a.ID, State: v.State, Previous: cur.State, Reason: v.Reason, Value: v.Value, Time: now.UTC(),
		Version: cur.Version + 1, Transition: cur.Version + 1, Pending: append([]storage.PendingAction(nil), cur.Pending...)}
	for i, act := range a.Actions {
		if act.Type == "instance_action" && v.State != storage.AlarmAlarm {
			continue // an instance is acted on when the alarm fires only
		}
		n.Pending = append(n.Pending, storage.PendingAction{ID: fmt.Sprintf("%d.%d", n.Version, i), Action: act,
			Previous: cur.State, Current: v.State, Reason: v.Reason, Value: v.Value, Time: n.Time, InstanceID: a.InstanceID})
	}
	return n
}

// commit writes st, the next state of w, conditional on its version (under
// w.wmu), and keeps what is stored: st, or another evaluator's state.
func (e *Engine) commit(ctx context.Context, w *watch, st storage.AlarmState) error {
	err := e.store.SetAlarmState(ctx, st)
	switch {
	case err == nil:
		e.mu.Lock()
		w.state = st
		e.mu.Unlock()
		return nil
	case errors.Is(err, storage.ErrNotFound):
		e.mu.Lock()
		if e.watches[st.AlarmID] == w {
			e.unindex(w)
			delete(e.watches, st.AlarmID)
		}
		e.mu.Unlock()
		return err
	case errors.Is(err, storage.ErrConflict):
		e.log.Info("alarm state written by another evaluator; reading it back", "alarm_id", st.AlarmID)
	default:
		e.log.Error("writing an alarm state", "alarm_id", st.AlarmID, "error", err)
	}
	if stored, gerr := e.store.GetAlarmState(ctx, st.AlarmID); gerr == nil {
		e.mu.Lock()
		w.state = stored
		e.mu.Unlock()
	}
	return err
}

// record writes the transitions verdicts make: the state first
// (conditional on its version, so that of two evaluators one records
// it), then its history entry and timeline event.
func (e *Engine) record(ctx context.Context, todo []pending) {
	if len(todo) == 1 {
		e.recordOne(ctx, todo[0])
		return
	}
	// Alarms' writes go in parallel (many alarms may change on one
	// batch); one alarm's are serialised by its wmu.
	sem := make(chan struct{}, recordParallelism)
	var wg sync.WaitGroup
	for _, p := range todo {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			e.recordOne(ctx, p)
		}()
	}
	wg.Wait()
}

// recordParallelism bounds the transitions written at once.
const recordParallelism = 32

func (e *Engine) recordOne(ctx context.Context, p pending) {
	w := p.w
	w.wmu.Lock()
	e.mu.Lock()
	cur, a := w.state, w.alarm
	e.mu.Unlock()
	if !changes(a, cur, p.v, p.now) {
		w.wmu.Unlock() // recorded meanwhile
		return
	}
	st := next(a, cur, p.v, p.now)
	err := e.commit(ctx, w, st)
	w.wmu.Unlock()
	if err != nil {
		return
	}
	t := Transition{Alarm: a, Previous: cur.State, State: st}
	e.recordEffects(ctx, t)
	if e.cfg.OnTransition != nil {
		e.cfg.OnTransition(t)
	}
	if len(st.Pending) > 0 {
		e.startActions(ctx, w)
	}
}

// recordEffects writes a transition's history entry and, for an alarm on
// an instance, its event on the instance's timeline; their ids follow
// from the state's version, so writing them twice leaves one of each.
func (e *Engine) recordEffects(ctx context.Context, t Transition) {
	st, a := t.State, t.Alarm
	version := st.Transition
	if version == 0 {
		version = st.Version
	}
	h := storage.AlarmHistory{AlarmID: a.ID, ID: storage.HistoryID(st.Time, fmt.Sprintf("v%d", version)), Time: st.Time,
		Type: "state_transition", Previous: t.Previous, Current: st.State, Reason: st.Reason, Value: st.Value}
	if err := e.store.AddAlarmHistory(ctx, h); err != nil {
		e.log.Error("recording alarm history", "alarm_id", a.ID, "error", err)
	}
	if a.InstanceID == "" {
		return
	}
	detail, _ := json.Marshal(map[string]any{"alarm_id": a.ID, "alarm_name": a.Name, "previous": t.Previous, "current": st.State,
		"reason": st.Reason, "value": st.Value, "severity": a.Severity})
	ev := storage.Event{InstanceID: a.InstanceID, ID: fmt.Sprintf("alarm-%s-%d", a.ID, version), Time: st.Time, Source: "vmmon",
		Type: "alarm.state_change", ProjectID: a.ProjectID, Detail: string(detail)}
	if err := e.store.AddEvent(ctx, ev); err != nil {
		e.log.Error("recording an alarm event", "alarm_id", a.ID, "error", err)
	}
}
