// Package messaging is what vmmon-agent and vmmon-collector share on RabbitMQ:
// the oslo.messaging notification envelope ([Encode], [Decode]), connections
// that fail over across the hosts of a transport URL and reconnect with
// backoff ([Options]), a [Publisher] that waits for publisher confirms, and a
// [Consumer] with manual acknowledgement and a prefetch limit that declares
// exchanges and queues the way the deployment does (durable, auto-delete,
// quorum, or passive).
package messaging
