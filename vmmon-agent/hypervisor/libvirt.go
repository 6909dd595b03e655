package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"libvirt.org/go/libvirt"
)

var eventLoopOnce sync.Once

// startEventLoop runs libvirt's default event loop, needed for lifecycle
// events and keep-alives; it must run before the first connection is opened.
func startEventLoop() {
	eventLoopOnce.Do(func() {
		if err := libvirt.EventRegisterDefaultImpl(); err != nil {
			return
		}
		go func() {
			for {
				_ = libvirt.EventRunDefaultImpl()
			}
		}()
	})
}

type libvirtConn struct {
	uri  string
	c    *libvirt.Connect
	dead atomic.Bool
}

// Dial connects to libvirt at uri (qemu:///system, test:///path.xml, ...).
func Dial(uri string) (Conn, error) {
	startEventLoop()
	c, err := libvirt.NewConnect(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to %s: %w", ErrConnection, uri, err)
	}
	lc := &libvirtConn{uri: uri, c: c}
	_ = c.RegisterCloseCallback(func(*libvirt.Connect, libvirt.ConnectCloseReason) { lc.dead.Store(true) })
	return lc, nil
}

func (l *libvirtConn) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var le libvirt.Error
	if errors.As(err, &le) && le.Code == libvirt.ERR_NO_DOMAIN {
		return fmt.Errorf("%w: %s: %w", ErrNoDomain, what, err)
	}
	if !l.Alive() {
		return fmt.Errorf("%w: %s: %w", ErrConnection, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (l *libvirtConn) Alive() bool {
	if l.dead.Load() {
		return false
	}
	ok, err := l.c.IsAlive()
	return err == nil && ok
}

func (l *libvirtConn) Close() error {
	_, err := l.c.Close()
	return err
}

func (l *libvirtConn) ListDomains() ([]DomainRef, error) {
	doms, err := l.c.ListAllDomains(0)
	if err != nil {
		return nil, l.wrap("listing domains", err)
	}
	refs := make([]DomainRef, 0, len(doms))
	for i := range doms {
		d := &doms[i]
		uuid, err1 := d.GetUUIDString()
		name, err2 := d.GetName()
		active, err3 := d.IsActive()
		d.Free()
		if err := errors.Join(err1, err2, err3); err != nil {
			if errors.Is(l.wrap("", err), ErrNoDomain) {
				continue // gone between list and read
			}
			return nil, l.wrap("reading domain identity", err)
		}
		refs = append(refs, DomainRef{UUID: uuid, Name: name, Active: active})
	}
	return refs, nil
}

func (l *libvirtConn) lookup(uuid string) (*libvirt.Domain, error) {
	d, err := l.c.LookupDomainByUUIDString(uuid)
	if err != nil {
		return nil, l.wrap("looking up "+uuid, err)
	}
	return d, nil
}

func (l *libvirtConn) DomainXML(uuid string) (string, error) {
	d, err := l.lookup(uuid)
	if err != nil {
		return "", err
	}
	defer d.Free()
	x, err := d.GetXMLDesc(0)
	return x, l.wrap("reading XML of "+uuid, err)
}

func toLibvirtGroups(g Groups) libvirt.DomainStatsTypes {
	var t libvirt.DomainStatsTypes
	for bit, lt := range map[Groups]libvirt.DomainStatsTypes{
		GroupState: libvirt.DOMAIN_STATS_STATE, GroupCPU: libvirt.DOMAIN_STATS_CPU_TOTAL,
		GroupVCPU: libvirt.DOMAIN_STATS_VCPU, GroupBalloon: libvirt.DOMAIN_STATS_BALLOON,
		GroupNet: libvirt.DOMAIN_STATS_INTERFACE, GroupBlock: libvirt.DOMAIN_STATS_BLOCK,
	} {
		if g&bit != 0 {
			t |= lt
		}
	}
	return t
}

func (l *libvirtConn) BulkStats(groups Groups, activeOnly bool) ([]Stats, error) {
	flags := libvirt.CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
	if activeOnly {
		flags |= libvirt.CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
	}
	raw, err := l.c.GetAllDomainStats(nil, toLibvirtGroups(groups), flags)
	if err != nil {
		return nil, l.wrap("GetAllDomainStats", err)
	}
	out := make([]Stats, 0, len(raw))
	for i := range raw {
		s := convertBulk(&raw[i])
		if uuid, err := raw[i].Domain.GetUUIDString(); err == nil {
			s.UUID = uuid
		}
		s.Name, _ = raw[i].Domain.GetName()
		raw[i].Domain.Free()
		if s.UUID != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func newStats() Stats { return Stats{Values: map[string]uint64{}, Names: map[string]string{}} }

func convertBulk(r *libvirt.DomainStats) Stats {
	s := newStats()
	put := func(key string, set bool, v uint64) {
		if set {
			s.Values[key] = v
		}
	}
	if r.State != nil && r.State.StateSet {
		s.Groups |= GroupState
		s.State, s.Reason = StateName(int(r.State.State)), r.State.Reason
	}
	if c := r.Cpu; c != nil && c.TimeSet {
		s.Groups |= GroupCPU
		put("cpu.time", c.TimeSet, c.Time)
		put("cpu.user", c.UserSet, c.User)
		put("cpu.system", c.SystemSet, c.System)
	}
	if len(r.Vcpu) > 0 {
		s.Groups |= GroupVCPU
		s.Values["vcpu.current"] = uint64(len(r.Vcpu))
		for i, v := range r.Vcpu {
			put("vcpu."+strconv.Itoa(i)+".time", v.TimeSet, v.Time)
			put("vcpu."+strconv.Itoa(i)+".wait", v.WaitSet, v.Wait)
		}
	}
	if b := r.Balloon; b != nil && b.CurrentSet {
		s.Groups |= GroupBalloon
		put("balloon.current", b.CurrentSet, b.Current)
		put("balloon.maximum", b.MaximumSet, b.Maximum)
		put("balloon.swap_in", b.SwapInSet, b.SwapIn)
		put("balloon.swap_out", b.SwapOutSet, b.SwapOut)
		put("balloon.major_fault", b.MajorFaultSet, b.MajorFault)
		put("balloon.minor_fault", b.MinorFaultSet, b.MinorFault)
		put("balloon.unused", b.UnusedSet, b.Unused)
		put("balloon.available", b.AvailableSet, b.Available)
		put("balloon.usable", b.UsableSet, b.Usable)
		put("balloon.rss", b.RssSet, b.Rss)
		put("balloon.disk_caches", b.DiskCachesSet, b.DiskCaches)
	}
	if r.Net != nil {
		s.Groups |= GroupNet
		for i, n := range r.Net {
			p := "net." + strconv.Itoa(i) + "."
			s.Names[p+"name"] = n.Name
			put(p+"rx.bytes", n.RxBytesSet, n.RxBytes)
			put(p+"rx.pkts", n.RxPktsSet, n.RxPkts)
			put(p+"rx.errs", n.RxErrsSet, n.RxErrs)
			put(p+"rx.drop", n.RxDropSet, n.RxDrop)
			put(p+"tx.bytes", n.TxBytesSet, n.TxBytes)
			put(p+"tx.pkts", n.TxPktsSet, n.TxPkts)
			put(p+"tx.errs", n.TxErrsSet, n.TxErrs)
			put(p+"tx.drop", n.TxDropSet, n.TxDrop)
		}
		s.Values["net.count"] = uint64(len(r.Net))
	}
	if r.Block != nil {
		s.Groups |= GroupBlock
		n := 0
		for _, b := range r.Block {
			if b.BackingIndexSet && b.BackingIndex > 1 {
				continue // a backing image of a disk already counted
			}
			p := "block." + strconv.Itoa(n) + "."
			s.Names[p+"name"] = b.Name
			put(p+"rd.reqs", b.RdReqsSet, b.RdReqs)
			put(p+"rd.bytes", b.RdBytesSet, b.RdBytes)
			put(p+"rd.times", b.RdTimesSet, b.RdTimes)
			put(p+"wr.reqs", b.WrReqsSet, b.WrReqs)
			put(p+"wr.bytes", b.WrBytesSet, b.WrBytes)
			put(p+"wr.times", b.WrTimesSet, b.WrTimes)
			put(p+"fl.reqs", b.FlReqsSet, b.FlReqs)
			put(p+"fl.times", b.FlTimesSet, b.FlTimes)
			put(p+"allocation", b.AllocationSet, b.Allocation)
			put(p+"capacity", b.CapacitySet, b.Capacity)
			n++
		}
		s.Values["block.count"] = uint64(n)
	}
	return s
}

func (l *libvirtConn) DomainStats(uuid string, groups Groups, disks, nics []string) (Stats, error) {
	s := newStats()
	d, err := l.lookup(uuid)
	if err != nil {
		return s, err
	}
	defer d.Free()
	s.UUID = uuid
	s.Name, _ = d.GetName()
	info, err := d.GetInfo()
	if err != nil {
		return s, l.wrap("reading info of "+uuid, err)
	}
	s.Groups |= GroupState
	s.State = StateName(int(info.State))
	if info.State != libvirt.DOMAIN_RUNNING && info.State != libvirt.DOMAIN_PAUSED && info.State != libvirt.DOMAIN_BLOCKED {
		return s, nil
	}
	var errs []error
	if groups&GroupCPU != 0 {
		s.Groups |= GroupCPU
		s.Values["cpu.time"] = info.CpuTime
	}
	if groups&GroupVCPU != 0 {
		s.Groups |= GroupVCPU
		s.Values["vcpu.current"] = uint64(info.NrVirtCpu)
		if vcpus, err := d.GetVcpus(); err == nil {
			for _, v := range vcpus {
				s.Values["vcpu."+strconv.Itoa(int(v.Number))+".time"] = v.CpuTime
			}
		}
	}
	if groups&GroupBalloon != 0 {
		s.Groups |= GroupBalloon
		s.Values["balloon.current"] = info.Memory
		s.Values["balloon.maximum"] = info.MaxMem
		if ms, err := d.MemoryStats(uint32(libvirt.DOMAIN_MEMORY_STAT_NR), 0); err == nil {
			for _, m := range ms {
				if name, ok := memoryStatNames[libvirt.DomainMemoryStatTags(m.Tag)]; ok {
					s.Values[name] = m.Val
				}
			}
		}
	}
	if groups&GroupBlock != 0 {
		s.Groups |= GroupBlock
		for i, dev := range disks {
			bs, err := d.BlockStats(dev)
			if err != nil {
				errs = append(errs, l.wrap("block stats of "+dev, err))
				continue
			}
			p := "block." + strconv.Itoa(i) + "."
			s.Names[p+"name"] = dev
			putSigned(s.Values, p+"rd.reqs", bs.RdReqSet, bs.RdReq)
			putSigned(s.Values, p+"rd.bytes", bs.RdBytesSet, bs.RdBytes)
			putSigned(s.Values, p+"rd.times", bs.RdTotalTimesSet, bs.RdTotalTimes)
			putSigned(s.Values, p+"wr.reqs", bs.WrReqSet, bs.WrReq)
			putSigned(s.Values, p+"wr.bytes", bs.WrBytesSet, bs.WrBytes)
			putSigned(s.Values, p+"wr.times", bs.WrTotalTimesSet, bs.WrTotalTimes)
			putSigned(s.Values, p+"fl.reqs", bs.FlushReqSet, bs.FlushReq)
			putSigned(s.Values, p+"fl.times", bs.FlushTotalTimesSet, bs.FlushTotalTimes)
			putSigned(s.Values, p+"errs", bs.ErrsSet, bs.Errs)
		}
		s.Values["block.count"] = uint64(len(disks))
	}
	if groups&GroupNet != 0 {
		s.Groups |= GroupNet
		for i, dev := range nics {
			is, err := d.InterfaceStats(dev)
			if err != nil {
				errs = append(errs, l.wrap("interface stats of "+dev, err))
				continue
			}
			p := "net." + strconv.Itoa(i) + "."
			s.Names[p+"name"] = dev
			putSigned(s.Values, p+"rx.bytes", is.RxBytesSet, is.RxBytes)
			putSigned(s.Values, p+"rx.pkts", is.RxPacketsSet, is.RxPackets)
			putSigned(s.Values, p+"rx.errs", is.RxErrsSet, is.RxErrs)
			putSigned(s.Values, p+"rx.drop", is.RxDropSet, is.RxDrop)
			putSigned(s.Values, p+"tx.bytes", is.TxBytesSet, is.TxBytes)
			putSigned(s.Values, p+"tx.pkts", is.TxPacketsSet, is.TxPackets)
			putSigned(s.Values, p+"tx.errs", is.TxErrsSet, is.TxErrs)
			putSigned(s.Values, p+"tx.drop", is.TxDropSet, is.TxDrop)
		}
		s.Values["net.count"] = uint64(len(nics))
	}
	return s, errors.Join(errs...)
}

func putSigned(m map[string]uint64, key string, set bool, v int64) {
	if set && v >= 0 {
		m[key] = uint64(v)
	}
}

var memoryStatNames = map[libvirt.DomainMemoryStatTags]string{
	libvirt.DOMAIN_MEMORY_STAT_SWAP_IN:        "balloon.swap_in",
	libvirt.DOMAIN_MEMORY_STAT_SWAP_OUT:       "balloon.swap_out",
	libvirt.DOMAIN_MEMORY_STAT_MAJOR_FAULT:    "balloon.major_fault",
	libvirt.DOMAIN_MEMORY_STAT_MINOR_FAULT:    "balloon.minor_fault",
	libvirt.DOMAIN_MEMORY_STAT_UNUSED:         "balloon.unused",
	libvirt.DOMAIN_MEMORY_STAT_AVAILABLE:      "balloon.available",
	libvirt.DOMAIN_MEMORY_STAT_ACTUAL_BALLOON: "balloon.current",
	libvirt.DOMAIN_MEMORY_STAT_RSS:            "balloon.rss",
	libvirt.DOMAIN_MEMORY_STAT_USABLE:         "balloon.usable",
	libvirt.DOMAIN_MEMORY_STAT_DISK_CACHES:    "balloon.disk_caches",
}

func (l *libvirtConn) Host() (HostInfo, error) {
	var h HostInfo
	ni, err := l.c.GetNodeInfo()
	if err != nil {
		return h, l.wrap("reading node info", err)
	}
	h.CPUs = int(ni.Cpus)
	h.MemoryKiB = ni.Memory
	if free, err := l.c.GetFreeMemory(); err == nil {
		h.FreeMemoryKiB = free / 1024
	}
	if v, err := l.c.GetLibVersion(); err == nil {
		h.LibvirtVersion = versionString(v)
	}
	if v, err := l.c.GetVersion(); err == nil {
		h.HypervisorVersion = versionString(v)
	}
	h.HypervisorType, _ = l.c.GetType()
	return h, nil
}

func versionString(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v/1000000, v/1000%1000, v%1000)
}

var eventNames = map[libvirt.DomainEventType]string{
	libvirt.DOMAIN_EVENT_DEFINED: "defined", libvirt.DOMAIN_EVENT_UNDEFINED: "undefined",
	libvirt.DOMAIN_EVENT_STARTED: "started", libvirt.DOMAIN_EVENT_SUSPENDED: "suspended",
	libvirt.DOMAIN_EVENT_RESUMED: "resumed", libvirt.DOMAIN_EVENT_STOPPED: "stopped",
	libvirt.DOMAIN_EVENT_SHUTDOWN: "shutdown", libvirt.DOMAIN_EVENT_PMSUSPENDED: "pmsuspended",
	libvirt.DOMAIN_EVENT_CRASHED: "crashed",
}

// eventDetails names the detail codes of each event, by position.
var eventDetails = map[libvirt.DomainEventType][]string{
	libvirt.DOMAIN_EVENT_DEFINED:     {"added", "updated", "renamed", "from_snapshot"},
	libvirt.DOMAIN_EVENT_UNDEFINED:   {"removed", "renamed"},
	libvirt.DOMAIN_EVENT_STARTED:     {"booted", "migrated", "restored", "from_snapshot", "wakeup", "recreated"},
	libvirt.DOMAIN_EVENT_SUSPENDED:   {"paused", "migrated", "ioerror", "watchdog", "restored", "from_snapshot", "api_error", "postcopy", "postcopy_failed", "guest_shutdown"},
	libvirt.DOMAIN_EVENT_RESUMED:     {"unpaused", "migrated", "from_snapshot", "postcopy", "postcopy_failed"},
	libvirt.DOMAIN_EVENT_STOPPED:     {"shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from_snapshot", "recreated"},
	libvirt.DOMAIN_EVENT_SHUTDOWN:    {"finished", "guest", "host"},
	libvirt.DOMAIN_EVENT_PMSUSPENDED: {"memory", "disk"},
	libvirt.DOMAIN_EVENT_CRASHED:     {"panicked", "crashloaded"},
}

func (l *libvirtConn) Events(ctx context.Context, out chan<- Event) error {
	id, err := l.c.DomainEventLifecycleRegister(nil, func(_ *libvirt.Connect, d *libvirt.Domain, e *libvirt.DomainEventLifecycle) {
		ev := Event{Event: eventNames[e.Event], Time: time.Now().UTC()}
		if ev.Event == "" {
			ev.Event = "event-" + strconv.Itoa(int(e.Event))
		}
		if names := eventDetails[e.Event]; e.Detail >= 0 && e.Detail < len(names) {
			ev.Detail = names[e.Detail]
		} else {
			ev.Detail = strconv.Itoa(e.Detail)
		}
		ev.UUID, _ = d.GetUUIDString()
		ev.Name, _ = d.GetName()
		select {
		case out <- ev:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return l.wrap("registering for lifecycle events", err)
	}
	defer func() { _ = l.c.DomainEventDeregister(id) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if !l.Alive() {
				return fmt.Errorf("%w: %s", ErrConnection, l.uri)
			}
		}
	}
}
