"""Canned vmmon answers, as the API reference shows them."""

ENDPOINT = "http://vmmon.test:8780"
KEYSTONE = "http://keystone.test:5000/v3"
INSTANCE_ID = "5b6f8a8e-7c1d-4e0a-9f3b-0000000000b1"
OTHER_ID = "5b6f8a8e-7c1d-4e0a-9f3b-0000000000b2"
ACTION_ID = "dfffb1f7-6346-4464-86df-4beef0c8c697"
REQ_ID = "req-dfffb1f7-6346-4464-86df-4beef0c8c697"

INSTANCE = {
    "id": INSTANCE_ID, "project_id": "bc1d", "user_id": "u1", "name": "web-1",
    "host_id": "19ca7128", "state": "active", "power_state": "running",
    "task_state": "", "flavor_name": "m1.small", "flavor_vcpus": 1,
    "flavor_memory_mb": 2048, "flavor_disk_gb": 20, "image_id": "img",
    "ips": ["10.0.0.5", "fd00::5"], "created_at": "2026-11-28T01:00:00Z",
    "launched_at": "2026-11-28T01:00:05Z", "deleted_at": None,
    "updated_at": "2026-11-28T02:06:51Z", "deleted": False, "source": "nova",
}
INSTANCE2 = dict(INSTANCE, id=OTHER_ID, name="web-2", ips=[])

METRICS = [
    {"name": "cpu_util", "unit": "%", "kind": "rate",
     "last_timestamp": "2026-11-28T02:06:50Z", "last_value": 8.7},
    {"name": "disk.device.read.bytes.rate", "device": "vda", "unit": "B/s",
     "kind": "rate", "last_timestamp": "2026-11-28T02:06:50Z",
     "last_value": 52428.8},
]

INSTANCE_DETAIL = {
    "instance": dict(INSTANCE, host="compute-1", node="compute-1.example"),
    "agent": {"host": "compute-1", "status": "up", "heartbeat_age_s": 1.7,
              "last_heartbeat": "2026-11-28T02:06:50Z"},
    "data_stale": False,
    "latest": METRICS,
}

MEASURES = {
    "metric": "disk.device.read.bytes.rate", "granularity": 300,
    "aggregation": "mean", "start": "2026-11-28T01:00:00Z",
    "end": "2026-11-28T02:00:00Z",
    "series": [
        {"device": "vda", "unit": "B/s", "points": [
            {"timestamp": "2026-11-28T01:00:00Z", "value": 52428.8},
            {"timestamp": "2026-11-28T01:05:00Z", "value": 1024.0}]},
        {"device": "vdb", "unit": "B/s", "points": [
            {"timestamp": "2026-11-28T01:00:00Z", "value": 0.0}]},
    ],
}

EVENTS = [
    {"instance_id": INSTANCE_ID, "id": "e2", "timestamp":
     "2026-11-28T02:00:00Z", "source": "nova", "event_type":
     "instance.reboot.end", "request_id": "req-1", "user_id": "u1",
     "project_id": "bc1d", "host": "compute-1", "detail": "rebooted"},
    {"instance_id": INSTANCE_ID, "id": "e1", "timestamp":
     "2026-11-28T01:00:00Z", "source": "libvirt", "event_type":
     "libvirt.started", "detail": ""},
]

ACTION = {
    "id": ACTION_ID, "instance_id": INSTANCE_ID, "project_id": "bc1d",
    "user_id": "u1", "action": "reboot", "params": '{"type":"HARD"}',
    "status": "pending", "request_id": REQ_ID,
    "nova_request_id": "req-0faf", "created_at": "2026-11-28T02:00:00Z",
    "updated_at": "2026-11-28T02:00:00Z",
}

HOST = {"name": "compute-1", "status": "up", "heartbeat_age_s": 3.1,
        "last_heartbeat": "2026-11-28T02:06:48Z", "interval_s": 10,
        "last_seq": 8640, "seq_gaps": 0, "stream": "samples.compute-1",
        "heartbeat": {"domains": 2, "duration_ms": 12}}

VERSION = {"id": "v1.0", "status": "CURRENT", "min_version": "1.0",
           "max_version": "1.0",
           "links": [{"rel": "self", "href": ENDPOINT + "/v1/"}]}


def links(path, nxt=None):
    out = [{"rel": "self", "href": ENDPOINT + path}]
    if nxt:
        out.append({"rel": "next", "href": ENDPOINT + nxt})
    return out


def error(status, code, title, detail, request_id=REQ_ID):
    return {"errors": [{"request_id": request_id, "code": code,
                        "status": status, "title": title, "detail": detail}]}
