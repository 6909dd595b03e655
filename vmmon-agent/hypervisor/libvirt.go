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
	uri string
	c   *libvirt.Connect
	// closed is closed when libvirt reports the connection closed (the
	// daemon went away, keep-alive failed).
	closed    chan struct{}
	closeOnce sync.Once

	bulkMu sync.Mutex // over raw and conv
	raw    *rawConn
	conv   *converter

	noMemoryStats atomic.Bool // the driver has no per-domain memory statistics
}

// Dial connects to libvirt at uri (qemu:///system, test:///path.xml, ...).
func Dial(uri string) (Conn, error) {
	startEventLoop()
	c, err := libvirt.NewConnect(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to %s: %w", ErrConnection, uri, err)
	}
	raw, err := newRawConn(c)
	if err != nil {
		_, _ = c.Close()
		return nil, fmt.Errorf("%w: connecting to %s: %w", ErrConnection, uri, err)
	}
	lc := &libvirtConn{uri: uri, c: c, raw: raw, conv: newConverter(), closed: make(chan struct{})}
	_ = c.RegisterCloseCallback(func(*libvirt.Connect, libvirt.ConnectCloseReason) {
		lc.closeOnce.Do(func() { close(lc.closed) })
	})
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
	select {
	case <-l.closed:
		return false
	default:
	}
	ok, err := l.c.IsAlive()
	return err == nil && ok
}

func (l *libvirtConn) Close() error {
	l.bulkMu.Lock()
	l.raw.close()
	l.bulkMu.Unlock()
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
	l.bulkMu.Lock()
	defer l.bulkMu.Unlock()
	if l.raw.ptr == nil {
		return nil, fmt.Errorf("%w: %s is closed", ErrConnection, l.uri)
	}
	out, err := l.raw.allDomainStats(groups, flags, l.conv)
	return out, l.wrap("GetAllDomainStats", err)
}

func (l *libvirtConn) DomainStats(uuid string, groups Groups, disks, nics []string) (Stats, error) {
	s := Stats{UUID: uuid, Values: make(map[string]uint64, 8+len(disks)*5+len(nics)*8), Names: make(map[string]string, len(disks)+len(nics))}
	if groups&GroupBlock == 0 {
		disks = nil
	}
	if groups&GroupNet == 0 {
		nics = nil
	}
	// One call into C makes the calls (lookup, info, vCPUs, each disk's and
	// NIC's counters): fewer crossings, and no host CPU map for the vCPUs.
	r, err := l.raw.readDomain(uuid, groups&GroupVCPU != 0, disks, nics)
	if err != nil {
		return s, l.wrap("reading "+uuid, err)
	}
	s.Groups |= GroupState
	s.State = StateName(r.state)
	if s.State != "running" && s.State != "paused" && s.State != "blocked" {
		return s, nil
	}
	var errs []error
	if groups&GroupCPU != 0 {
		s.Groups |= GroupCPU
		s.Values["cpu.time"] = r.cpuTime
	}
	if groups&GroupVCPU != 0 {
		s.Groups |= GroupVCPU
		s.Values["vcpu.current"] = uint64(r.vcpus)
		for i, n := range r.vcpuNums {
			s.Values[VCPUKeys.Key(n, 0)] = r.vcpuTimes[i]
		}
	}
	if groups&GroupBalloon != 0 {
		s.Groups |= GroupBalloon
		s.Values["balloon.current"] = r.memory
		s.Values["balloon.maximum"] = r.maxMem
		if !l.noMemoryStats.Load() {
			l.memoryStats(uuid, s.Values)
		}
	}
	if groups&GroupBlock != 0 {
		s.Groups |= GroupBlock
		for i, dev := range disks {
			if err := r.devErrs[i]; err != nil {
				errs = append(errs, l.wrap("block stats of "+dev, err))
				continue
			}
			// What virDomainBlockStats gives, as the libvirt binding read it.
			s.Names[BlockKeys.Key(i, FieldName)] = dev
			for f, field := range [...]int{BlockRdReqs, BlockRdBytes, BlockWrReqs, BlockWrBytes} {
				putCounter(s.Values, BlockKeys.Key(i, field), r.block[i][f])
			}
		}
		s.Values["block.count"] = uint64(len(disks))
	}
	if groups&GroupNet != 0 {
		s.Groups |= GroupNet
		for i, dev := range nics {
			if err := r.devErrs[len(disks)+i]; err != nil {
				errs = append(errs, l.wrap("interface stats of "+dev, err))
				continue
			}
			s.Names[NetKeys.Key(i, FieldName)] = dev
			for f, v := range r.iface[i] {
				putCounter(s.Values, NetKeys.Key(i, NetRxBytes+f), v)
			}
		}
		s.Values["net.count"] = uint64(len(nics))
	}
	return s, errors.Join(errs...)
}

// memoryStats adds the domain's balloon statistics to values.
func (l *libvirtConn) memoryStats(uuid string, values map[string]uint64) {
	d, err := l.lookup(uuid)
	if err != nil {
		return
	}
	defer d.Free()
	ms, err := d.MemoryStats(uint32(libvirt.DOMAIN_MEMORY_STAT_NR), 0)
	for _, m := range ms {
		if name, ok := memoryStatNames[libvirt.DomainMemoryStatTags(m.Tag)]; ok {
			values[name] = m.Val
		}
	}
	// A driver without them (the test driver) answers with none or "not
	// supported"; QEMU always gives some (actual, rss). Ask no more.
	if unsupported(err) || err == nil && len(ms) == 0 {
		l.noMemoryStats.Store(true)
	}
}

// unsupported says err is libvirt's "not supported by the driver".
func unsupported(err error) bool {
	var le libvirt.Error
	return errors.As(err, &le) && le.Code == libvirt.ERR_NO_SUPPORT
}

// putCounter records a counter; libvirt gives -1 for one it does not have.
func putCounter(m map[string]uint64, key string, v int64) {
	if v >= 0 {
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
	// Libvirt's close callback says when the connection is gone; nothing
	// is polled meanwhile (a liveness check every second cost some 3 ms of
	// CPU per 10 s interval).
	select {
	case <-ctx.Done():
		return nil
	case <-l.closed:
		return fmt.Errorf("%w: %s", ErrConnection, l.uri)
	}
}
