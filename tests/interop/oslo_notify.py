"""Publishes notifications with a real oslo.messaging Notifier, as Nova does.

Usage: /usr/bin/python3 oslo_notify.py TRANSPORT_URL EXCHANGE TOPIC SAMPLE.json...

Each sample is one of Nova's notification samples (event_type, priority,
publisher_id, payload). The context of each message carries a request id
derived from the sample's position, so the receiver can check _context_* keys.
"""
import json
import sys

from oslo_config import cfg
import oslo_messaging


def main():
    url, exchange, topic, paths = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    oslo_messaging.set_transport_defaults(exchange)
    conf = cfg.ConfigOpts()
    conf([], project="vmmon-interop")
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    for i, path in enumerate(paths):
        with open(path) as f:
            sample = json.load(f)
        notifier = oslo_messaging.Notifier(
            transport, publisher_id=sample["publisher_id"], driver="messagingv2", topics=[topic])
        ctxt = {"request_id": "req-interop-%04d" % i, "project_id": "interop-project",
                "user_id": "interop-user", "global_request_id": None}
        priority = sample.get("priority", "INFO").lower()
        getattr(notifier, priority)(ctxt, sample["event_type"], sample["payload"])
    transport.cleanup()


if __name__ == "__main__":
    main()
