package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

func alarmID(n int) string { return fmt.Sprintf("a1a1a1a1-0000-4000-8000-%012d", n) }

func testAlarms(t *testing.T, s storage.Store) {
	// Ten alarms: even ones of project pa on instance 50, odd ones of pb.
	for i := 0; i < 10; i++ {
		a := storage.Alarm{ID: alarmID(i), Name: fmt.Sprintf("al%d", i), ProjectID: "pa", UserID: "u", Metric: "cpu_util",
			InstanceID: inst(50), Aggregation: "mean", Window: 60, Comparison: "gt", Threshold: 80, EvaluationPeriods: 1,
			Severity: "low", Enabled: true, Actions: []storage.AlarmAction{{Type: "webhook", URL: "http://x/", Secret: "s"}},
			CreatedAt: base, UpdatedAt: base}
		if i%2 == 1 {
			a.ProjectID, a.InstanceID = "pb", ""
		}
		if err := s.PutAlarm(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetAlarm(ctx, alarmID(0))
	if err != nil || got.Name != "al0" || got.Actions[0].Secret != "s" || !got.CreatedAt.Equal(base) {
		t.Errorf("GetAlarm: %+v, %v", got, err)
	}
	if _, err := s.GetAlarm(ctx, alarmID(99)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown alarm: %v", err)
	}
	st, err := s.GetAlarmState(ctx, alarmID(0))
	if err != nil || st.State != storage.AlarmInsufficientData || st.Version != 1 {
		t.Errorf("new alarm's state: %+v, %v", st, err)
	}
	list := func(q storage.AlarmQuery) []string {
		t.Helper()
		as, err := s.ListAlarms(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range as {
			ids = append(ids, a.ID)
		}
		return ids
	}
	for _, c := range []struct {
		name string
		q    storage.AlarmQuery
		want []string
	}{
		{"project", storage.AlarmQuery{ProjectID: "pb", Limit: 2}, []string{alarmID(1), alarmID(3)}},
		{"project after marker", storage.AlarmQuery{ProjectID: "pb", Limit: 2, Marker: alarmID(3)}, []string{alarmID(5), alarmID(7)}},
		{"instance", storage.AlarmQuery{InstanceID: inst(50), Limit: 3, Marker: alarmID(2)}, []string{alarmID(4), alarmID(6), alarmID(8)}},
		{"every project", storage.AlarmQuery{Limit: 3, Marker: alarmID(6)}, []string{alarmID(7), alarmID(8), alarmID(9)}},
		{"project and instance", storage.AlarmQuery{ProjectID: "pb", InstanceID: inst(50)}, nil},
	} {
		if got := list(c.q); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v; want %v", c.name, got, c.want)
		}
	}
	shards := 0
	for shard := 0; shard < storage.AlarmShards; shard++ {
		as, err := s.AlarmsOfShard(ctx, shard)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if storage.AlarmShard(a.ID) != shard {
				t.Errorf("alarm %s listed in shard %d", a.ID, shard)
			}
			if a.ID >= alarmID(0) && a.ID <= alarmID(9) {
				shards++
			}
		}
	}
	if shards != 10 {
		t.Errorf("%d of the 10 alarms in their shards", shards)
	}

	// Every change moves the shard's change mark.
	marks := func() map[int]string {
		t.Helper()
		m, err := s.AlarmShardChanges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := marks()
	if before[storage.AlarmShard(alarmID(2))] == "" {
		t.Errorf("no change mark for the shard of a new alarm: %v", before)
	}

	// A changed definition moves the alarm off its instance and keeps its state.
	moved, _ := s.GetAlarm(ctx, alarmID(2))
	moved.InstanceID, moved.UpdatedAt = inst(51), base.Add(time.Minute)
	if err := s.PutAlarm(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if got := list(storage.AlarmQuery{InstanceID: inst(50), Limit: 2}); fmt.Sprint(got) != fmt.Sprint([]string{alarmID(0), alarmID(4)}) {
		t.Errorf("instance 50 after the move: %v", got)
	}
	if got := list(storage.AlarmQuery{InstanceID: inst(51)}); fmt.Sprint(got) != fmt.Sprint([]string{alarmID(2)}) {
		t.Errorf("instance 51 after the move: %v", got)
	}
	shard := storage.AlarmShard(alarmID(2))
	if after := marks(); after[shard] == before[shard] {
		t.Errorf("the shard's change mark did not move: %q", after[shard])
	}

	// State writes are conditional on the version read.
	v := 1.5
	next := storage.AlarmState{AlarmID: alarmID(2), State: storage.AlarmAlarm, Reason: "high", Value: &v, Time: base, Version: 2,
		Pending: []storage.PendingAction{{ID: "p1", Action: storage.AlarmAction{Type: "notification"}, Previous: "ok", Current: "alarm"}}}
	if err := s.SetAlarmState(ctx, next); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAlarmState(ctx, next); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("the same transition twice: %v; want ErrConflict", err)
	}
	stale := next
	stale.Version = 5
	if err := s.SetAlarmState(ctx, stale); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("a version skipped: %v; want ErrConflict", err)
	}
	if err := s.SetAlarmState(ctx, storage.AlarmState{AlarmID: alarmID(99), Version: 2}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("state of an unknown alarm: %v", err)
	}
	if st, _ := s.GetAlarmState(ctx, alarmID(2)); st.State != storage.AlarmAlarm || st.Version != 2 || *st.Value != 1.5 ||
		len(st.Pending) != 1 || st.Pending[0].ID != "p1" {
		t.Errorf("state after the transition: %+v", st)
	}
	if err := s.PutAlarm(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.GetAlarmState(ctx, alarmID(2)); st.Version != 2 {
		t.Errorf("redefining reset the state: %+v", st)
	}

	// History: newest first, paged by the last id seen.
	for i := 0; i < 5; i++ {
		at := base.Add(time.Duration(i) * time.Second)
		if err := s.AddAlarmHistory(ctx, storage.AlarmHistory{AlarmID: alarmID(2), ID: storage.HistoryID(at, "x"), Time: at,
			Type: "state_transition", Current: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.AddAlarmHistory(ctx, storage.AlarmHistory{AlarmID: alarmID(3), ID: storage.HistoryID(base, "y"), Time: base, Type: "creation"})
	page, err := s.AlarmHistory(ctx, alarmID(2), 2, "")
	if err != nil || len(page) != 2 || page[0].Current != "4" || page[1].Current != "3" {
		t.Fatalf("history page 1: %+v, %v", page, err)
	}
	page, err = s.AlarmHistory(ctx, alarmID(2), 10, page[1].ID)
	if err != nil || len(page) != 3 || page[0].Current != "2" || page[2].Current != "0" {
		t.Errorf("history page 2: %+v, %v", page, err)
	}
	if h, _ := s.AlarmHistory(ctx, alarmID(3), 0, ""); len(h) != 1 || h[0].Type != "creation" {
		t.Errorf("another alarm's history: %+v", h)
	}

	beforeDelete := marks()[shard]
	if err := s.DeleteAlarm(ctx, alarmID(2)); err != nil {
		t.Fatal(err)
	}
	if marks()[shard] == beforeDelete {
		t.Error("deleting did not move the shard's change mark")
	}
	if _, err := s.GetAlarm(ctx, alarmID(2)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted alarm: %v", err)
	}
	if _, err := s.GetAlarmState(ctx, alarmID(2)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted alarm's state: %v", err)
	}
	if h, _ := s.AlarmHistory(ctx, alarmID(2), 0, ""); len(h) != 0 {
		t.Errorf("deleted alarm's history: %+v", h)
	}
	if got := list(storage.AlarmQuery{InstanceID: inst(51)}); len(got) != 0 {
		t.Errorf("deleted alarm still listed: %v", got)
	}
	if err := s.DeleteAlarm(ctx, alarmID(2)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}

// A shard's lease is one owner's until released or expired.
func testAlarmLeases(t *testing.T, s storage.Store) {
	const shard = 7
	_ = s.ReleaseAlarmShard(ctx, shard, "a")
	take := func(owner string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := s.LeaseAlarmShard(ctx, shard, owner, ttl)
		if err != nil || got != want {
			t.Errorf("%s leasing: %v, %v; want %v", owner, got, err, want)
		}
	}
	take("a", time.Minute, true)
	take("b", time.Minute, false)
	take("a", time.Minute, true) // renewed
	if err := s.ReleaseAlarmShard(ctx, shard, "b"); err != nil {
		t.Fatal(err)
	}
	take("b", time.Minute, false) // b released nothing of a's
	if owners, err := s.AlarmShardOwners(ctx); err != nil || owners[shard] != "a" {
		t.Errorf("owners: %v, %v", owners, err)
	}
	if err := s.ReleaseAlarmShard(ctx, shard, "a"); err != nil {
		t.Fatal(err)
	}
	take("b", time.Second, true)
	time.Sleep(1500 * time.Millisecond)
	take("a", time.Minute, true) // b's lease expired
	_ = s.ReleaseAlarmShard(ctx, shard, "a")
}
