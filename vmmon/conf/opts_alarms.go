package conf

var groupAlarms = d.Group("alarms", "Alarms: evaluated by the collectors in the stream of samples, and their actions.", ServiceFile)

// Alarms holds the [alarms] options.
var Alarms = struct {
	Evaluate        BoolOpt
	LeaseTTL        SecondsOpt
	RefreshInterval SecondsOpt
	WebhookTimeout  SecondsOpt
	ActionAttempts  IntOpt
	NotifyTopic     StringOpt
}{
	Evaluate: d.Bool(groupAlarms, "evaluate", true,
		"Whether this vmmon-collector evaluates alarms (sharing them with the other collectors that do)."),
	LeaseTTL: d.Seconds(groupAlarms, "lease_ttl", 30,
		"Seconds a collector holds a shard of alarms without renewing its lease: how long the alarms of a collector "+
			"that died wait before another takes them.", Min(3)),
	RefreshInterval: d.Seconds(groupAlarms, "refresh_interval", 5,
		"Seconds between two passes that renew leases, read new and changed alarms, judge alarms without new data and "+
			"retry actions. Keep it well below lease_ttl.", Min(1)),
	WebhookTimeout: d.Seconds(groupAlarms, "webhook_timeout", 10, "Seconds a webhook call may take.", Min(1)),
	ActionAttempts: d.Int(groupAlarms, "action_attempts", 5,
		"Attempts of each action of a transition (with exponential backoff) before it is recorded as failed.", Min(1)),
	NotifyTopic: d.String(groupAlarms, "notification_topic", "notifications",
		"Topic of the vmmon.alarm.state_change notifications (routing key <topic>.info on the [DEFAULT] control_exchange)."),
}
