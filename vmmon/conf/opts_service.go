package conf

import (
	"fmt"
	"net"
	"strconv"
)

var (
	groupAuthtoken   = d.Group("keystone_authtoken", "How vmmon-api validates Keystone tokens, as the vmmon service user.", ServiceFile)
	groupPolicy      = d.Group("oslo_policy", "Access rules (oslo.policy).", ServiceFile)
	groupHealthcheck = d.Group("healthcheck", "GET /healthcheck, with oslo.middleware's semantics.", ServiceFile)
	groupAPI         = d.Group("api", "The /v1 REST API.", ServiceFile)
	groupStorage     = d.Group("storage", "Where samples, instances and events are kept.", ServiceFile)
	groupCassandra   = d.Group("cassandra", "The Apache Cassandra storage driver.", ServiceFile)
	groupCollector   = d.Group("collector", "vmmon-collector.", ServiceFile)
	groupNova        = d.Group("nova", "Control actions, carried out through Nova with the caller's token.", ServiceFile)
)

// Nova holds the [nova] options.
var Nova = struct {
	ActionTimeout SecondsOpt
}{
	ActionTimeout: d.Seconds(groupNova, "action_timeout", 600,
		"Seconds after which an action without Nova's end or error notification shows as unknown.", Min(1)),
}

// Collector holds the [collector] options.
var Collector = struct {
	AgentQueue      StringOpt
	NovaQueue       StringOpt
	ParkingQueue    StringOpt
	ParkingMax      IntOpt
	RollupInterval  SecondsOpt
	Workers         IntOpt
	StaleMultiplier FloatOpt
	DownMultiplier  FloatOpt
	MaxClockSkew    SecondsOpt
	MetricsBind     StringOpt
}{
	AgentQueue: d.String(groupCollector, "agent_queue", "vmmon-collector.agent",
		"Queue, shared by every collector, bound to the agents' samples, heartbeats and events."),
	NovaQueue: d.String(groupCollector, "notification_queue", "vmmon-collector.notifications",
		"Queue, shared by every collector, bound to Nova's notification topics (never Nova's own queues)."),
	ParkingQueue: d.String(groupCollector, "parking_queue", "vmmon-collector.parked",
		"Queue where messages that can never be written are kept for inspection: undecodable, invalid (see the "+
			"collector's validation), refused by storage, or whose handling failed. The collector logs each with its reason."),
	ParkingMax:     d.Int(groupCollector, "parking_max_messages", 10000, "Most messages the parking queue keeps (the oldest go first).", Min(1)),
	RollupInterval: d.Seconds(groupCollector, "rollup_interval", 10, "Seconds between two passes over pending rollups.", Min(1)),
	Workers: d.Int(groupCollector, "workers", 8,
		"Messages of each queue handled at once (each is acknowledged once its own writes are durable).", Min(1)),
	StaleMultiplier: d.Float(groupCollector, "stale_after_intervals", 3,
		"An agent whose last heartbeat is older than this many of its intervals is stale.", Min(1)),
	DownMultiplier: d.Float(groupCollector, "down_after_intervals", 10,
		"An agent whose last heartbeat is older than this many of its intervals is down.", Min(1)),
	MaxClockSkew: d.Seconds(groupCollector, "max_clock_skew", 30,
		"Seconds an agent's clock may be ahead of or behind the collector's (measured on its heartbeats) before its host "+
			"is flagged with the skew in /v1/hosts (clock_skew_s) and its heartbeats are timed by the collector's clock.", Min(1)),
	MetricsBind: d.String(groupCollector, "metrics_bind", "",
		"Address (host:port) where vmmon-collector serves its own figures as Prometheus text at /metrics (deliveries, "+
			"parked messages by reason, storage retries and write durations, rollups, agents' sequence gaps and clock "+
			"skew); empty serves none. Unauthenticated: bind it to an address only monitoring can reach.",
		Validator(validHostPort)),
}

// validHostPort accepts host:port (the host may be empty: every address).
func validHostPort(s string) error {
	if s == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// Authtoken holds the [keystone_authtoken] options.
var Authtoken = struct {
	WWWAuthenticateURI StringOpt
	AuthURL            StringOpt
	AuthType           StringOpt
	Username           StringOpt
	Password           StringOpt
	ProjectName        StringOpt
	UserDomainName     StringOpt
	ProjectDomainName  StringOpt
	RegionName         StringOpt
	Interface          StringOpt
	CAFile             StringOpt
	Insecure           BoolOpt
	TokenCacheTime     SecondsOpt
	MemcachedServers   ListOpt
}{
	WWWAuthenticateURI: d.String(groupAuthtoken, "www_authenticate_uri", "",
		"Public Keystone URL announced to clients in WWW-Authenticate; empty means auth_url."),
	AuthURL:           d.String(groupAuthtoken, "auth_url", "http://127.0.0.1:5000/v3", "Keystone's identity v3 URL."),
	AuthType:          d.String(groupAuthtoken, "auth_type", "password", "How the service user authenticates.", Choices("password")),
	Username:          d.String(groupAuthtoken, "username", "vmmon", "The vmmon service user."),
	Password:          d.String(groupAuthtoken, "password", "", "The service user's password.", Secret()),
	ProjectName:       d.String(groupAuthtoken, "project_name", "service", "The service user's project."),
	UserDomainName:    d.String(groupAuthtoken, "user_domain_name", "Default", "Domain of the service user."),
	ProjectDomainName: d.String(groupAuthtoken, "project_domain_name", "Default", "Domain of the service user's project."),
	RegionName:        d.String(groupAuthtoken, "region_name", "", "Region used to pick endpoints from the catalog."),
	Interface: d.String(groupAuthtoken, "interface", "internal", "Which catalog endpoints vmmon itself calls.",
		Choices("public", "internal", "admin")),
	CAFile:   d.String(groupAuthtoken, "cafile", "", "CA certificates for HTTPS connections to Keystone (PEM)."),
	Insecure: d.Bool(groupAuthtoken, "insecure", false, "Do not verify Keystone's HTTPS certificate (testing only)."),
	TokenCacheTime: d.Seconds(groupAuthtoken, "token_cache_time", 300,
		"Seconds a validated token is trusted without asking Keystone again (never past its expiry). A token Keystone "+
			"refused is refused again without asking for 10 seconds (at most this time)."),
	MemcachedServers: d.List(groupAuthtoken, "memcached_servers", "",
		"Accepted for compatibility with keystonemiddleware settings; vmmon caches tokens in memory."),
}

// Policy holds the [oslo_policy] options.
var Policy = struct {
	PolicyFile StringOpt
}{
	PolicyFile: d.String(groupPolicy, "policy_file", "policy.yaml",
		"Rules overriding the defaults; a relative name is looked up beside the config files."),
}

// Healthcheck holds the [healthcheck] options.
var Healthcheck = struct {
	Detailed          BoolOpt
	DisableByFilePath StringOpt
}{
	Detailed: d.Bool(groupHealthcheck, "detailed", false, "Show details of each check to callers (they may reveal internals)."),
	DisableByFilePath: d.String(groupHealthcheck, "disable_by_file_path", "",
		"While this file exists, /healthcheck answers 503 (to drain an API node)."),
}

// API holds the [api] options.
var API = struct {
	BindHost          StringOpt
	BindPort          IntOpt
	MaxPoints         IntOpt
	MaxLimit          IntOpt
	GCPercent         IntOpt
	RequestTimeout    SecondsOpt
	ClientTimeout     SecondsOpt
	IdleTimeout       SecondsOpt
	StreamsPerUser    IntOpt
	StreamMaxLifetime SecondsOpt
}{
	BindHost:  d.String(groupAPI, "bind_host", "0.0.0.0", "Address vmmon-api listens on."),
	BindPort:  d.Port(groupAPI, "bind_port", 8780, "Port vmmon-api listens on."),
	MaxPoints: d.Int(groupAPI, "max_points", 10000, "Most points one measures request may return.", Min(1)),
	MaxLimit:  d.Int(groupAPI, "max_limit", 1000, "Largest page size a listing returns.", Min(1)),
	GCPercent: d.Int(groupAPI, "gc_percent", 400, "Go garbage collection target of vmmon-api, as GOGC: the heap may grow "+
		"to (1 + gc_percent/100) times the data in use before a collection. Higher answers faster under load and "+
		"uses more memory. The GOGC environment variable, when set, takes precedence.", Min(10)),
	RequestTimeout: d.Seconds(groupAPI, "request_timeout", 60,
		"Seconds a request (other than the live stream) may take before vmmon-api gives up on it with 503 and stops its storage reads.", Min(1)),
	ClientTimeout: d.Seconds(groupAPI, "client_timeout", 30,
		"Seconds a client may take to send a request's headers and body, and to read each part of the answer.", Min(1)),
	IdleTimeout: d.Seconds(groupAPI, "idle_timeout", 120, "Seconds an idle keep-alive connection stays open.", Min(1)),
	StreamsPerUser: d.Int(groupAPI, "max_streams_per_user", 10,
		"Live streams one user may hold open on one vmmon-api; more are refused with 429.", Min(1)),
	StreamMaxLifetime: d.Seconds(groupAPI, "stream_max_lifetime", 3600,
		"Seconds after which a live stream ends (clients reconnect); it also ends when the caller's token expires.", Min(1)),
}

// Storage holds the [storage] options.
var Storage = struct {
	Driver          StringOpt
	Path            StringOpt
	RawRetention    IntOpt
	MinuteRetention IntOpt
	HourRetention   IntOpt
}{
	Driver: d.String(groupStorage, "driver", "cassandra", "Storage driver: cassandra for production, embedded "+
		"(a single file) for the all-in-one and small installs.", Choices("cassandra", "embedded")),
	Path: d.String(groupStorage, "path", "/var/lib/vmmon/store", "Directory of the embedded store."),
	RawRetention: d.Int(groupStorage, "raw_retention_days", 7,
		"Days raw points are kept. With Cassandra, applies to tables created by db sync.", Min(1)),
	MinuteRetention: d.Int(groupStorage, "minute_retention_days", 30, "Days one-minute rollups are kept.", Min(1)),
	HourRetention:   d.Int(groupStorage, "hour_retention_days", 400, "Days one-hour rollups and lifecycle events are kept.", Min(1)),
}

// Cassandra holds the [cassandra] options.
var Cassandra = struct {
	Hosts       ListOpt
	Port        IntOpt
	Keyspace    StringOpt
	Replication StringOpt
	Consistency StringOpt
	Username    StringOpt
	Password    StringOpt
	Timeout     SecondsOpt
}{
	Hosts:    d.List(groupCassandra, "hosts", "127.0.0.1", "Contact points of the Cassandra cluster."),
	Port:     d.Port(groupCassandra, "port", 9042, "CQL native transport port."),
	Keyspace: d.String(groupCassandra, "keyspace", "vmmon", "Keyspace holding vmmon's tables."),
	Replication: d.String(groupCassandra, "replication", "{'class': 'SimpleStrategy', 'replication_factor': 1}",
		"Replication of the keyspace, as a CQL map, used when vmmon-manage db sync creates it "+
			"(e.g. {'class': 'NetworkTopologyStrategy', 'dc1': 3})."),
	Consistency: d.String(groupCassandra, "consistency", "LOCAL_QUORUM", "Consistency level of reads and writes.",
		Choices("ONE", "TWO", "THREE", "QUORUM", "LOCAL_QUORUM", "EACH_QUORUM", "ALL", "LOCAL_ONE")),
	Username: d.String(groupCassandra, "username", "", "User name when Cassandra requires authentication."),
	Password: d.String(groupCassandra, "password", "", "Password when Cassandra requires authentication.", Secret()),
	Timeout:  d.Seconds(groupCassandra, "timeout", 10, "Seconds allowed for one query."),
}
