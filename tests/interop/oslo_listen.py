"""Receives notifications with a real oslo.messaging notification listener.

Usage: /usr/bin/python3 oslo_listen.py TRANSPORT_URL EXCHANGE TOPIC COUNT TIMEOUT

Prints READY once its queues exist, then one JSON line per notification
(priority, publisher_id, event_type, payload, ctxt) until COUNT arrived or
TIMEOUT seconds passed; deletes its queues before it exits.
"""
import json
import sys
import threading
import time

import kombu
from oslo_config import cfg
import oslo_messaging

PRIORITIES = ["audit", "debug", "info", "warn", "error", "critical", "sample"]


def main():
    url, exchange, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    count, timeout = int(sys.argv[4]), float(sys.argv[5])
    conf = cfg.ConfigOpts()
    conf([], project="vmmon-interop")
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    got = []
    done = threading.Event()
    lock = threading.Lock()

    class Endpoint:
        pass

    def make(priority):
        def handle(self, ctxt, publisher_id, event_type, payload, metadata):
            with lock:
                got.append({"priority": priority.upper(), "publisher_id": publisher_id,
                            "event_type": event_type, "payload": payload, "ctxt": ctxt,
                            "message_id": metadata.get("message_id"),
                            "timestamp": metadata.get("timestamp")})
                if len(got) >= count:
                    done.set()
        return handle

    for p in PRIORITIES:
        setattr(Endpoint, p, make(p))
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=topic, exchange=exchange)], [Endpoint()],
        executor="threading")
    listener.start()
    queues = ["%s.%s" % (topic, p) for p in PRIORITIES]
    kurl = url.replace("rabbit://", "amqp://", 1)
    with kombu.Connection(kurl) as conn:
        deadline = time.time() + 30
        for q in queues:
            while True:
                try:
                    conn.channel().queue_declare(queue=q, passive=True)
                    break
                except Exception:
                    if time.time() > deadline:
                        raise
                    conn.close()
                    conn.connect()
                    time.sleep(0.2)
    print("READY", flush=True)
    done.wait(timeout)
    listener.stop()
    listener.wait()
    with lock:
        for m in got:
            print(json.dumps(m, sort_keys=True), flush=True)
    with kombu.Connection(kurl) as conn:
        for q in queues:
            try:
                conn.channel().queue_delete(queue=q)
            except Exception:
                pass
    transport.cleanup()


if __name__ == "__main__":
    main()
