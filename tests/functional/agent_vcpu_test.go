//go:build functional

package functional

import (
	"context"
	"math"
	"testing"
	"time"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon-agent/agent"
	"opendev.org/openstack/vmmon/vmmon-agent/hypervisor"
)

// cpu_util is per vCPU. libvirt's test driver gives every running domain one
// second of CPU time per second, whatever its vCPUs: 100 % for the bed's
// domains of one vCPU, 25 % for those of four (every fifth from the second,
// tests/bed/libvirt.sh testxml). Without the division by the vCPU count all
// would read 100 %.
func TestAgentCPUUtilPerVCPU(t *testing.T) {
	env := bedenv.Load(t)
	a := agent.New(agent.Config{Host: "bed-vcpus", LibvirtURI: env.Get(t, "VMMON_LIBVIRT_TEST_URI_200"), Interval: time.Second,
		Timeout: 5 * time.Second}, hypervisor.Dial, nil, nil, nil)
	ctx := context.Background()
	if _, err := a.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // a long interval keeps the readings' jitter small
	b, err := a.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for uuid, want := range map[string]struct{ vcpus, util float64 }{
		"7e57d000-0000-4000-8000-000000000001": {1, 100},
		"7e57d000-0000-4000-8000-000000000002": {4, 25},
		"7e57d000-0000-4000-8000-000000000007": {4, 25},
	} {
		inst, ok := findInstance(*b, uuid)
		if !ok {
			t.Fatalf("%s not in the batch", uuid)
		}
		vcpus, _ := metricValue(inst, "vcpus", "")
		util, ok := metricValue(inst, "cpu_util", "")
		if !ok || vcpus != want.vcpus || math.Abs(util-want.util) > want.util*0.05 {
			t.Errorf("%s: %v vCPUs, cpu_util %.2f %% (found %v); want %v vCPUs at %v %%", uuid, vcpus, util, ok, want.vcpus, want.util)
		}
		if inst.Nova == nil || float64(inst.Nova.Flavor.VCPUs) != want.vcpus {
			t.Errorf("%s: Nova flavor %+v; want %v vCPUs", uuid, inst.Nova, want.vcpus)
		}
	}
}
