// Package agentmsg defines what vmmon-agent sends to vmmon-collector: sample
// batches, heartbeats and lifecycle events, as versioned payloads inside the
// oslo notification envelope on the "vmmon" exchange.
//
// Payloads follow Nova's versioned-object convention:
//
//	{"vmmon_object.name": "SampleBatch", "vmmon_object.version": "1.0",
//	 "vmmon_object.data": {...}}
//
// A reader accepts any 1.x version (fields are only ever added within a major
// version) and refuses another major version with ErrVersion, so old and new
// agents and collectors can run side by side during an upgrade.
package agentmsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"opendev.org/openstack/vmmon/vmmon/messaging"
)

// Version is the payload version this code writes.
const Version = "1.0"

// Event types of the notifications the agent publishes.
const (
	EventSamples   = "vmmon.samples"
	EventHeartbeat = "vmmon.heartbeat"
	EventLifecycle = "vmmon.lifecycle"
)

// Object names of the payloads.
const (
	ObjectBatch     = "SampleBatch"
	ObjectHeartbeat = "Heartbeat"
	ObjectEvent     = "LifecycleEvent"
)

// RoutingKey returns the routing key of a kind of message from host:
// samples.<host>, heartbeat.<host> or events.<host>.
func RoutingKey(kind, host string) string { return kind + "." + host }

// Kinds of routing key.
const (
	KindSamples   = "samples"
	KindHeartbeat = "heartbeat"
	KindEvents    = "events"
)

// PublisherID is the oslo publisher_id of the agent on host.
func PublisherID(host string) string { return "vmmon-agent:" + host }

// ErrVersion marks a payload of an unknown major version or object.
var ErrVersion = errors.New("unsupported payload version")

type object struct {
	Name    string          `json:"vmmon_object.name"`
	Version string          `json:"vmmon_object.version"`
	Data    json.RawMessage `json:"vmmon_object.data"`
}

// Wrap puts data into a versioned payload (see [AppendPayload]).
func Wrap(name string, data any) (json.RawMessage, error) {
	b, err := AppendPayload(nil, messaging.JSONWriter{}, name, data)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Unwrap checks a versioned payload's name and major version and decodes its
// data into dst.
func Unwrap(payload []byte, name string, dst any) error {
	var o object
	if err := json.Unmarshal(payload, &o); err != nil {
		return fmt.Errorf("agentmsg: %w", err)
	}
	if o.Name != name {
		return fmt.Errorf("%w: object %q, expected %q", ErrVersion, o.Name, name)
	}
	major, _, _ := strings.Cut(o.Version, ".")
	if want, _, _ := strings.Cut(Version, "."); major != want {
		return fmt.Errorf("%w: %s version %q, this vmmon reads %s.x", ErrVersion, name, o.Version, want)
	}
	if err := json.Unmarshal(o.Data, dst); err != nil {
		return fmt.Errorf("agentmsg: decoding %s %s: %w", name, o.Version, err)
	}
	return nil
}

// Kinds of metric value.
const (
	Cumulative = "cumulative" // a counter that only grows while the domain runs
	Gauge      = "gauge"
	Rate       = "rate" // derived by the agent from two cumulative readings
)

// Metric is one value of an instance, optionally of one device.
type Metric struct {
	Name   string  `json:"name"`
	Device string  `json:"device,omitempty"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Kind   string  `json:"kind"`
}

// Nova is what Nova's <nova:instance> metadata says of a domain.
type Nova struct {
	Name        string `json:"name"`
	ProjectID   string `json:"project_id"`
	ProjectName string `json:"project_name"`
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	Flavor      Flavor `json:"flavor"`
	RootType    string `json:"root_type,omitempty"`
	RootID      string `json:"root_id,omitempty"`
	Ports       []Port `json:"ports,omitempty"`
	Created     string `json:"created,omitempty"`
	Package     string `json:"package,omitempty"`
	Namespace   string `json:"namespace"`
}

// Flavor is the flavor recorded in the domain's metadata.
type Flavor struct {
	Name      string `json:"name"`
	VCPUs     int    `json:"vcpus"`
	MemoryMB  int    `json:"memory_mb"`
	DiskGB    int    `json:"disk_gb"`
	SwapMB    int    `json:"swap_mb"`
	Ephemeral int    `json:"ephemeral_gb"`
}

// Port is one Neutron port of the instance with its addresses.
type Port struct {
	ID  string   `json:"id"`
	IPs []string `json:"ips,omitempty"`
}

// Instance is one domain's sample in a batch.
type Instance struct {
	UUID     string    `json:"uuid"`
	Name     string    `json:"domain_name"`
	Nova     *Nova     `json:"nova"` // null: the domain carries no Nova metadata
	State    string    `json:"state"`
	Reason   int       `json:"state_reason"`
	Time     time.Time `json:"timestamp"`
	MonoNS   int64     `json:"monotonic_ns"`
	Metrics  []Metric  `json:"metrics"`
	TimedOut bool      `json:"timed_out,omitempty"`
	Errors   []string  `json:"errors,omitempty"`
}

// Batch is everything one host collected in one cycle.
type Batch struct {
	Host         string     `json:"host"`
	Stream       string     `json:"stream"` // changes when the agent restarts
	Seq          uint64     `json:"seq"`    // 1, 2, 3 ... within Stream: a gap is a lost batch
	AgentVersion string     `json:"agent_version"`
	Time         time.Time  `json:"timestamp"`
	Interval     float64    `json:"interval_s"`
	DurationMS   float64    `json:"duration_ms"` // reading the hypervisor; the metric families' time is in the heartbeat's samplers
	Instances    []Instance `json:"instances"`
}

// SamplerStatus is the timing and outcome of one stage of the last cycle: the
// libvirt calls (libvirt.list, libvirt.xml, libvirt.bulk, libvirt.domain) and
// the metric families (cpu, memory, block, net).
type SamplerStatus struct {
	Name       string  `json:"name"`
	DurationMS float64 `json:"duration_ms"` // summed over calls
	Calls      int     `json:"calls"`
	Errors     int     `json:"errors"`
}

// Heartbeat says the agent is alive and how it fares.
type Heartbeat struct {
	Host              string    `json:"host"`
	Stream            string    `json:"stream"`
	AgentVersion      string    `json:"agent_version"`
	Time              time.Time `json:"timestamp"`
	Interval          float64   `json:"interval_s"`
	LibvirtURI        string    `json:"libvirt_uri"`
	LibvirtConnected  bool      `json:"libvirt_connected"`
	LibvirtError      string    `json:"libvirt_error,omitempty"`
	LibvirtVersion    string    `json:"libvirt_version"`
	HypervisorType    string    `json:"hypervisor_type"`
	HypervisorVersion string    `json:"hypervisor_version"`
	Domains           int       `json:"domains"`
	LastSeq           uint64    `json:"last_seq"`
	LastDurationMS    float64   `json:"last_collection_ms"`
	TimedOut          int       `json:"domains_timed_out"`
	SpoolMessages     int       `json:"spool_messages"`
	SpoolBytes        int64     `json:"spool_bytes"`
	SpoolDropped      uint64    `json:"spool_dropped"`
	// Bytes free for the agent on the spool's file system; absent when not
	// known (older agents, no spool, the file system unreadable). The spool
	// is written only while the broker does not take messages, so a full
	// disk shows here before an outage needs the room.
	SpoolFreeBytes *int64 `json:"spool_free_bytes,omitempty"`
	// Since the agent started: messages written to the spool (those the
	// broker did not confirm, and those sent while others waited there),
	// appends the spool refused (disk full, read-only, ...) with the last
	// such error, unreadable spooled messages moved aside, messages
	// published directly because the spool refused them, and messages the
	// broker returned because no queue took them.
	SpoolWritten     uint64          `json:"spool_written,omitempty"`
	SpoolErrors      uint64          `json:"spool_errors,omitempty"`
	SpoolLastError   string          `json:"spool_last_error,omitempty"`
	SpoolMovedAside  uint64          `json:"spool_moved_aside,omitempty"`
	PublishedDirect  uint64          `json:"published_unspooled,omitempty"`
	Unroutable       uint64          `json:"unroutable,omitempty"`
	PublishLastError string          `json:"publish_last_error,omitempty"`
	HostCPUs         int             `json:"host_cpus"`
	HostMemoryMB     uint64          `json:"host_memory_mb"`
	HostFreeMemoryMB uint64          `json:"host_free_memory_mb"`
	Samplers         []SamplerStatus `json:"samplers"`
}

// Event is a libvirt lifecycle event of one domain.
type Event struct {
	Host   string    `json:"host"`
	UUID   string    `json:"uuid"`
	Name   string    `json:"domain_name"`
	Event  string    `json:"event"`  // started, stopped, suspended, resumed, crashed, defined, undefined, shutdown, pmsuspended
	Detail string    `json:"detail"` // e.g. booted, migrated, destroyed, failed
	Time   time.Time `json:"timestamp"`
}
