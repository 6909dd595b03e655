package conf

import "opendev.org/openstack/vmmon/vmmon/transporturl"

var d = Default

var (
	groupDefault       = d.Group("DEFAULT", "", ServiceFile|AgentFile)
	groupRabbit        = d.Group("oslo_messaging_rabbit", "RabbitMQ connection behaviour, with oslo.messaging's option names.", ServiceFile|AgentFile)
	groupNotifications = d.Group("oslo_messaging_notifications", "Where vmmon listens for Nova's notifications.", ServiceFile)
)

// Common holds the [DEFAULT] options every vmmon process reads.
var Common = struct {
	TransportURL StringOpt
	Debug        BoolOpt
	LogFile      StringOpt
	AuthStrategy StringOpt
	Exchange     StringOpt
}{
	TransportURL: d.String(groupDefault, "transport_url", "rabbit://guest:guest@127.0.0.1:5672/",
		"The RabbitMQ brokers as an oslo.messaging transport URL: "+
			"rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost. Several hosts give failover; "+
			"add ?ssl=1 for TLS. Percent-encode special characters in user names and passwords.",
		Secret(), Validator(transporturl.Validate)),
	Debug:   d.Bool(groupDefault, "debug", false, "Log at debug level instead of info."),
	LogFile: d.String(groupDefault, "log_file", "", "Write the log to this file instead of standard error."),
	AuthStrategy: d.String(groupDefault, "auth_strategy", "keystone",
		"How API requests are authenticated. noauth trusts every caller as an admin and is refused "+
			"unless the API is bound to a loopback address.", Choices("keystone", "noauth"), OnlyIn(ServiceFile)),
	Exchange: d.String(groupDefault, "control_exchange", "vmmon",
		"The topic exchange on which agents publish samples, heartbeats and events."),
}

// Rabbit holds the [oslo_messaging_rabbit] options.
var Rabbit = struct {
	DurableQueues     BoolOpt
	AutoDelete        BoolOpt
	QuorumQueues      BoolOpt
	PassiveExchanges  BoolOpt
	Prefetch          IntOpt
	RetryInterval     SecondsOpt
	RetryBackoff      SecondsOpt
	IntervalMax       SecondsOpt
	HeartbeatTimeout  SecondsOpt
	FailoverStrategy  StringOpt
	SSL               BoolOpt
	SSLCAFile         StringOpt
	SSLCertFile       StringOpt
	SSLKeyFile        StringOpt
	ConfirmTimeout    SecondsOpt
	ConnectionTimeout SecondsOpt
}{
	DurableQueues: d.Bool(groupRabbit, "amqp_durable_queues", false,
		"Declare exchanges and queues durable. Must match how the deployment (Nova) declares the "+
			"nova exchange, or RabbitMQ closes the channel.", DeprecatedName("DEFAULT", "amqp_durable_queues")),
	AutoDelete: d.Bool(groupRabbit, "amqp_auto_delete", false,
		"Declare exchanges and queues auto-delete. Must match the deployment.", DeprecatedName("DEFAULT", "amqp_auto_delete")),
	QuorumQueues: d.Bool(groupRabbit, "rabbit_quorum_queue", false,
		"Declare vmmon's queues as quorum queues (replicated, durable)."),
	PassiveExchanges: d.Bool(groupRabbit, "passive_exchanges", false,
		"Only check that exchanges exist instead of declaring them, for brokers where vmmon may not configure."),
	Prefetch: d.Int(groupRabbit, "rabbit_qos_prefetch_count", 100,
		"How many unacknowledged messages a consumer may hold.", Min(1)),
	RetryInterval: d.Seconds(groupRabbit, "rabbit_retry_interval", 1, "Seconds before the first reconnection attempt."),
	RetryBackoff: d.Seconds(groupRabbit, "rabbit_retry_backoff", 2,
		"Seconds added to the wait after each failed reconnection attempt."),
	IntervalMax: d.Seconds(groupRabbit, "rabbit_interval_max", 30, "Longest wait between reconnection attempts, in seconds."),
	HeartbeatTimeout: d.Seconds(groupRabbit, "heartbeat_timeout_threshold", 60,
		"Seconds after which a silent broker connection is considered dead (AMQP heartbeats); 0 disables."),
	FailoverStrategy: d.String(groupRabbit, "kombu_failover_strategy", "round-robin",
		"Order in which the hosts of transport_url are tried.", Choices("round-robin", "shuffle")),
	SSL:         d.Bool(groupRabbit, "ssl", false, "Connect with TLS (as ?ssl=1 in transport_url does)."),
	SSLCAFile:   d.String(groupRabbit, "ssl_ca_file", "", "CA certificates that sign the broker's certificate (PEM)."),
	SSLCertFile: d.String(groupRabbit, "ssl_cert_file", "", "Client certificate for TLS (PEM)."),
	SSLKeyFile:  d.String(groupRabbit, "ssl_key_file", "", "Private key of the client certificate (PEM)."),
	ConfirmTimeout: d.Seconds(groupRabbit, "confirm_timeout", 30,
		"Seconds to wait for the broker to confirm a published message before it counts as not delivered."),
	ConnectionTimeout: d.Seconds(groupRabbit, "connection_timeout", 10, "Seconds allowed for connecting to one broker."),
}

// Notifications holds the [oslo_messaging_notifications] options.
var Notifications = struct {
	TransportURL StringOpt
	Topics       ListOpt
	NovaExchange StringOpt
}{
	TransportURL: d.String(groupNotifications, "transport_url", "",
		"Transport URL of the broker carrying Nova's notifications, when it is not [DEFAULT] transport_url.",
		Secret(), Validator(transporturl.Validate)),
	Topics: d.List(groupNotifications, "topics", "versioned_notifications,notifications",
		"Notification topics to read (Nova's versioned and legacy); vmmon binds its own queues to "+
			"<topic>.info and <topic>.error."),
	NovaExchange: d.String(groupNotifications, "nova_exchange", "nova", "The exchange Nova publishes notifications on."),
}
