//go:build functional

package functional

import (
	"strings"
	"testing"
	"time"

	"libvirt.org/go/libvirt"

	"opendev.org/openstack/vmmon/tests/bedenv"
)

const novaNS = "http://openstack.org/xmlns/libvirt/nova/1.1"

func libvirtConnect(t *testing.T, uri string) *libvirt.Connect {
	t.Helper()
	c, err := libvirt.NewConnect(uri)
	if err != nil {
		t.Fatalf("connecting to %s: %v", uri, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type guestCounters struct {
	cpu, rdBytes, wrBytes, txBytes, rxBytes uint64
	balloonSet                              bool
}

func readGuest(t *testing.T, c *libvirt.Connect, uuid string) guestCounters {
	t.Helper()
	dom, err := c.LookupDomainByUUIDString(uuid)
	if err != nil {
		t.Fatalf("the bed's guest %s: %v", uuid, err)
	}
	defer dom.Free()
	groups := libvirt.DOMAIN_STATS_STATE | libvirt.DOMAIN_STATS_CPU_TOTAL | libvirt.DOMAIN_STATS_VCPU |
		libvirt.DOMAIN_STATS_BALLOON | libvirt.DOMAIN_STATS_INTERFACE | libvirt.DOMAIN_STATS_BLOCK
	stats, err := c.GetAllDomainStats([]*libvirt.Domain{dom}, groups, libvirt.CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
	if err != nil {
		t.Fatalf("GetAllDomainStats: %v", err)
	}
	if len(stats) != 1 {
		t.Fatalf("stats for %d domains; want 1", len(stats))
	}
	s := stats[0]
	defer s.Domain.Free()
	if s.State == nil || s.State.State != libvirt.DOMAIN_RUNNING {
		t.Fatalf("guest state %+v; want running", s.State)
	}
	if s.Cpu == nil || !s.Cpu.TimeSet || len(s.Block) == 0 || len(s.Net) == 0 || len(s.Vcpu) == 0 {
		t.Fatalf("missing groups: cpu %+v, %d disks, %d nics, %d vcpus", s.Cpu, len(s.Block), len(s.Net), len(s.Vcpu))
	}
	return guestCounters{
		cpu: s.Cpu.Time, rdBytes: s.Block[0].RdBytes, wrBytes: s.Block[0].WrBytes,
		txBytes: s.Net[0].TxBytes, rxBytes: s.Net[0].RxBytes,
		balloonSet: s.Balloon != nil && s.Balloon.RssSet && s.Balloon.CurrentSet,
	}
}

// The bed's QEMU guest, read with one bulk call twice, shows its CPU, disk and
// NIC counters moving, and carries Nova's metadata.
func TestLibvirtQEMUGuestCountersMove(t *testing.T) {
	env := bedenv.Load(t)
	c := libvirtConnect(t, env.Get(t, "VMMON_LIBVIRT_URI"))
	uuid := env.Get(t, "VMMON_GUEST_UUID")
	first := readGuest(t, c, uuid)
	time.Sleep(5 * time.Second)
	second := readGuest(t, c, uuid)
	t.Logf("over 5 s: cpu +%d ns, disk read +%d B, written +%d B, nic tx +%d B rx +%d B",
		second.cpu-first.cpu, second.rdBytes-first.rdBytes, second.wrBytes-first.wrBytes,
		second.txBytes-first.txBytes, second.rxBytes-first.rxBytes)
	if second.cpu <= first.cpu || second.rdBytes <= first.rdBytes || second.wrBytes <= first.wrBytes || second.txBytes <= first.txBytes {
		t.Errorf("counters did not all move: %+v then %+v", first, second)
	}
	if !second.balloonSet {
		t.Error("balloon current/rss missing")
	}
	dom, err := c.LookupDomainByUUIDString(uuid)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	meta, err := dom.GetMetadata(libvirt.DOMAIN_METADATA_ELEMENT, novaNS, libvirt.DOMAIN_AFFECT_LIVE)
	if err != nil {
		t.Fatalf("Nova metadata: %v", err)
	}
	if !strings.Contains(meta, "bed-guest") || !strings.Contains(meta, env.Get(t, "VMMON_PROJECT_DEMO_ID")) {
		t.Errorf("Nova metadata lacks the name or project: %s", meta)
	}
}

// The test driver with a generated node of 200 domains: all are listed, 180
// run, and each carries Nova's metadata; bulk stats return the state group.
func TestLibvirtTestDriverManyDomains(t *testing.T) {
	env := bedenv.Load(t)
	c := libvirtConnect(t, env.Get(t, "VMMON_LIBVIRT_TEST_URI_200"))
	doms, err := c.ListAllDomains(0)
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, d := range doms {
		if ok, _ := d.IsActive(); ok {
			active++
		}
		if _, err := d.GetMetadata(libvirt.DOMAIN_METADATA_ELEMENT, novaNS, libvirt.DOMAIN_AFFECT_CONFIG); err != nil {
			name, _ := d.GetName()
			t.Errorf("%s: Nova metadata: %v", name, err)
		}
		d.Free()
	}
	if len(doms) != 200 || active != 180 {
		t.Errorf("%d domains, %d active; want 200 and 180", len(doms), active)
	}
	stats, err := c.GetAllDomainStats(nil, libvirt.DOMAIN_STATS_STATE, libvirt.CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		s.Domain.Free()
	}
	if len(stats) != 180 {
		t.Errorf("bulk stats for %d active domains; want 180", len(stats))
	}
}
