package conf

var groupAgent = d.Group("agent", "vmmon-agent, on each compute node.", AgentFile)

// Agent holds the [agent] options.
var Agent = struct {
	LibvirtURI     StringOpt
	Interval       SecondsOpt
	LibvirtTimeout SecondsOpt
	Host           StringOpt
	SpoolDir       StringOpt
	SpoolMaxBytes  IntOpt
	MetricsBind    StringOpt
}{
	LibvirtURI: d.String(groupAgent, "libvirt_uri", "qemu:///system", "The libvirt connection to read domains from."),
	Interval:   d.Seconds(groupAgent, "interval", 10, "Seconds between two collections.", Min(1)),
	LibvirtTimeout: d.Seconds(groupAgent, "libvirt_timeout", 5,
		"Seconds one libvirt call may take before its domain is reported as timed out for the cycle."),
	Host: d.String(groupAgent, "host", "",
		"Name of this compute node as Nova's [DEFAULT] host names it (routing keys and heartbeats use it); "+
			"empty means the machine's host name.", SampleDefault("<hostname>")),
	SpoolDir: d.String(groupAgent, "spool_dir", "/var/lib/vmmon/spool",
		"Directory where batches wait while the broker is unreachable."),
	SpoolMaxBytes: d.Int(groupAgent, "spool_max_bytes", 64<<20,
		"Largest size of the spool; when full, the oldest batches are dropped and counted.", Min(0)),
	MetricsBind: d.String(groupAgent, "metrics_bind", "",
		"host:port where the agent serves its own figures (those of its heartbeat) as Prometheus text at /metrics; "+
			"empty serves none. Keep it on loopback or a management network."),
}
