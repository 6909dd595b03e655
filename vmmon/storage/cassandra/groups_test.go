package cassandra

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// A group's latest members survive their blob, each placed by the group
// (its name) and the other column (the member's project or host).
func TestMembersRoundTrip(t *testing.T) {
	minute := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	agg := storage.Agg{Min: 1, Max: 3, Sum: 6, Count: 3, Last: 3, LastTime: minute.Add(40 * time.Second)}
	members := []storage.Member{
		{InstanceID: "i-1", ProjectID: "p1", Host: "h1", Minute: minute, Agg: agg},
		{InstanceID: "i-2", Device: "vda", ProjectID: "p2", Host: "h1", Minute: minute, Agg: agg},
	}
	got, err := decodeMembers(nil, "host:h1", minute, encodeMembers("host:h1", members))
	if err != nil || !reflect.DeepEqual(got, members) {
		t.Errorf("a host's members: %+v, %v", got, err)
	}
	members[1].Host = "h2"
	got, err = decodeMembers(nil, "project:p1", minute, encodeMembers("project:p1", members[:1]))
	if err != nil || !reflect.DeepEqual(got, members[:1]) {
		t.Errorf("a project's members: %+v, %v", got, err)
	}
	blob := encodeMembers("host:h1", members)
	if _, err := decodeMembers(nil, "host:h1", minute, blob[:len(blob)-1]); !errors.Is(err, errMembers) {
		t.Errorf("a truncated blob: %v", err)
	}
}

// Marks carry the pairing of their samples, and stay in their series' shard.
func TestMarkIDs(t *testing.T) {
	sm := storage.Sample{InstanceID: "i-1", Metric: "cpu_util", Device: "", ProjectID: "p1", Host: "h1"}
	inst, metric, device, project, host := splitMark(markID(sm))
	if inst != "i-1" || metric != "cpu_util" || device != "" || project != "p1" || host != "h1" {
		t.Errorf("split: %q %q %q %q %q", inst, metric, device, project, host)
	}
	if markShard(markID(sm)) != shardOf(seriesID("i-1", "cpu_util", "")) {
		t.Error("a paired mark left its series' shard")
	}
	sm.ProjectID, sm.Host = "", ""
	if markID(sm) != seriesID("i-1", "cpu_util", "") {
		t.Errorf("an unpaired mark: %q", markID(sm))
	}
	if !isGroupSeries("host:h1\x00cpu_util\x00") || isGroupSeries(seriesID("i-1", "cpu_util", "")) {
		t.Error("group series told apart wrongly")
	}
}
