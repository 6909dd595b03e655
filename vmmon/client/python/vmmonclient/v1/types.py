"""The shapes of vmmon's /v1 resources, as the API sends them.

Managers return plain dicts (the JSON as sent); these TypedDicts describe
them for type checkers and editors. Fields the API leaves out for some
callers (``host`` and ``node`` of an instance) are optional, as every field
here is.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict


class Link(TypedDict, total=False):
    rel: str
    href: str


class Instance(TypedDict, total=False):
    id: str
    project_id: str
    user_id: str
    name: str
    host: str
    node: str
    host_id: str
    state: str
    power_state: str
    task_state: str
    flavor_name: str
    flavor_vcpus: int
    flavor_memory_mb: int
    flavor_disk_gb: int
    image_id: str
    ips: Optional[List[str]]
    created_at: Optional[str]
    launched_at: Optional[str]
    deleted_at: Optional[str]
    updated_at: str
    deleted: bool
    source: str


class Metric(TypedDict, total=False):
    name: str
    device: str
    unit: str
    kind: str
    last_timestamp: str
    last_value: float


class Agent(TypedDict, total=False):
    host: str
    status: str
    heartbeat_age_s: float
    last_heartbeat: str


class InstanceDetail(TypedDict, total=False):
    """``GET /v1/instances/{id}``: the instance, its agent, latest values."""

    instance: Instance
    agent: Agent
    data_stale: bool
    latest: List[Metric]


class Point(TypedDict):
    timestamp: str
    value: float


class Series(TypedDict, total=False):
    device: str
    unit: str
    points: List[Point]


class Measures(TypedDict, total=False):
    metric: str
    start: str
    end: str
    granularity: int
    aggregation: str
    series: List[Series]


class Event(TypedDict, total=False):
    instance_id: str
    id: str
    timestamp: str
    source: str
    event_type: str
    request_id: str
    user_id: str
    project_id: str
    host: str
    detail: str
    fault: str


class Action(TypedDict, total=False):
    id: str
    instance_id: str
    project_id: str
    user_id: str
    action: str
    params: str
    status: str
    request_id: str
    nova_request_id: str
    message: str
    created_at: str
    updated_at: str


class Host(TypedDict, total=False):
    name: str
    status: str
    heartbeat_age_s: float
    last_heartbeat: str
    interval_s: float
    stream: str
    last_seq: int
    seq_gaps: int
    heartbeat: Optional[Dict[str, Any]]


class Version(TypedDict, total=False):
    id: str
    status: str
    min_version: str
    max_version: str
    updated: str
    links: List[Link]
