"""vmmon as the dashboard sees it: python-vmmonclient with the token of
the user logged in to Horizon and the ``vm-monitor`` endpoint of that
user's catalog.

Every function takes the Django request first. Errors are the client's
exceptions (:mod:`vmmonclient.exceptions`); views turn them into messages
with :func:`vmmon_dashboard.utils.error_message`.
"""

from __future__ import annotations

from concurrent import futures
import datetime
import logging

from django.conf import settings
from horizon.utils import functions
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from openstack_dashboard.api import base

from vmmonclient import exceptions
from vmmonclient.v1 import client as v1_client

LOG = logging.getLogger(__name__)

SERVICE_TYPE = "vm-monitor"

# The latest values the instance table shows, with how the API names them.
TABLE_METRICS = ("cpu_util", "memory.usage", "disk.device.read.bytes.rate",
                 "disk.device.write.bytes.rate", "network.incoming.bytes.rate",
                 "network.outgoing.bytes.rate")

# Chart ranges: seconds covered and the granularity asked for (raw points
# for the last hour, which the live stream extends; else a multiple of 60,
# few enough points for the API's max_points).
RANGES = {
    "1h": (3600, "raw"),
    "24h": (86400, 900),
    "7d": (7 * 86400, 3600),
    "30d": (30 * 86400, 4 * 3600),
}


class _Wrapper(base.APIDictWrapper):
    """A resource as sent; a field the API left out reads as None."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return None


class Instance(_Wrapper):
    """An instance of ``GET /v1/instances``, with what the table adds:
    ``latest`` (metric name -> value summed over its devices), ``units``,
    ``agent`` and ``data_stale`` from ``GET /v1/instances/{id}``."""

    _attrs = ["id", "name", "state", "power_state", "task_state",
              "flavor_name", "host_id", "host", "project_id", "updated_at"]

    def __init__(self, apidict, detail=None):
        super().__init__(apidict)
        self.latest = {}
        self.units = {}
        self.agent = {}
        self.data_stale = None
        self.detail_error = None
        if detail:
            self.add_detail(detail)

    def add_detail(self, detail):
        self.agent = detail.get("agent") or {}
        self.data_stale = detail.get("data_stale")
        self.latest, self.units = fold_latest(detail.get("latest") or [])


class Host(_Wrapper):
    """A host of ``GET /v1/hosts`` with its load (``load``: metric ->
    value) from ``GET /v1/aggregates?group_by=host``."""

    def __init__(self, apidict):
        super().__init__(apidict)
        self.id = apidict.get("name")
        self.load = {}


class Record(_Wrapper):
    """An event, an action or an aggregate group, for tables."""

    def __init__(self, apidict, id_key="id"):
        super().__init__(apidict)
        self.id = apidict.get(id_key) or apidict.get("id")


def fold_latest(latest):
    """metric -> value (summed over devices), metric -> unit."""
    values, units = {}, {}
    for m in latest:
        name, value = m.get("name"), m.get("last_value")
        if name is None or value is None:
            continue
        values[name] = values.get(name, 0.0) + value
        if m.get("unit"):
            units[name] = m["unit"]
    return values, units


def _setting(name, default):
    return getattr(settings, name, default)


def vmmonclient(request, timeout=None):
    """A vmmonclient.v1.Client acting as the logged-in user."""
    endpoint = base.url_for(request, SERVICE_TYPE)
    auth = token_endpoint.Token(endpoint, request.user.token.id)
    verify = not _setting("OPENSTACK_SSL_NO_VERIFY", False)
    cacert = _setting("OPENSTACK_SSL_CACERT", None)
    if verify and cacert:
        verify = cacert
    sess = ks_session.Session(auth=auth, verify=verify)
    return v1_client.Client(
        session=sess, endpoint_override=endpoint,
        timeout=timeout or _setting("VMMON_API_TIMEOUT", 10),
        global_request_id=request.META.get("HTTP_X_OPENSTACK_REQUEST_ID"))


def _map(fn, items, workers=8):
    """fn over items in threads (each call a request to vmmon); the result
    or the exception of each, in order."""
    items = list(items)
    if not items:
        return []
    with futures.ThreadPoolExecutor(max_workers=min(workers,
                                                    len(items))) as pool:
        futs = [pool.submit(fn, i) for i in items]
        out = []
        for f in futs:
            try:
                out.append(f.result())
            except exceptions.ClientException as e:
                out.append(e)
        return out


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# Instances

def instance_list(request, *, sort=None, name=None, flavor=None, state=None,
                  marker=None, limit=None, with_latest=True):
    """One page of the project's instances, sorted, searched and paged by
    vmmon; returns (instances, has_more).

    The listing carries no latest values nor agent freshness: each
    instance of the page is read too (in parallel) when with_latest.
    """
    c = vmmonclient(request)
    # The user's "Items Per Page" (Horizon's settings panel).
    limit = int(limit or functions.get_page_size(request))
    # One more than a page, in one request, tells whether there is a next.
    items = list(c.instances.list(sort=sort or None, name=name or None,
                                  flavor=flavor or None, state=state or None,
                                  marker=marker or None, limit=limit + 1,
                                  page_size=limit + 1))
    has_more = len(items) > limit
    instances = [Instance(i) for i in items[:limit]]
    if with_latest:
        details = _map(lambda i: c.instances.get(i.id), instances)
        for inst, d in zip(instances, details):
            if isinstance(d, Exception):
                inst.detail_error = str(d)
            else:
                inst.add_detail(d)
    return instances, has_more


def instance_get(request, instance_id):
    """(Instance, detail) of one instance."""
    d = vmmonclient(request).instances.get(instance_id)
    return Instance(d.get("instance") or {}, d), d


def latest_values(request, ids):
    """id -> {"latest", "units", "agent", "data_stale", "state"} for each
    instance of ids that vmmon answers for."""
    c = vmmonclient(request)
    out = {}
    for i, d in zip(ids, _map(c.instances.get, ids)):
        if isinstance(d, Exception):
            continue
        values, units = fold_latest(d.get("latest") or [])
        out[i] = {"latest": values, "units": units,
                  "agent": d.get("agent") or {},
                  "data_stale": d.get("data_stale"),
                  "state": (d.get("instance") or {}).get("state")}
    return out


# Metrics

def metric_list(request, instance_id):
    return vmmonclient(request).metrics.list(instance_id)


def measures_all(request, instance_id, range_key="1h"):
    """Every metric of the instance over a range, one series per device:
    [{"metric", "unit", "series": [...]} | {"metric", "error"}]."""
    c = vmmonclient(request, timeout=30)
    span, granularity = RANGES.get(range_key, RANGES["1h"])
    names = sorted({m["name"] for m in c.metrics.list(instance_id)
                    if m.get("name")})
    start = iso(utcnow() - datetime.timedelta(seconds=span))

    def one(name):
        return c.measures.get(instance_id, name, start=start,
                              granularity=granularity, all_devices=True)

    out = []
    for name, got in zip(names, _map(one, names)):
        if isinstance(got, Exception):
            out.append({"metric": name, "error": str(got)})
        else:
            out.append({"metric": name, "granularity": granularity,
                        "series": got.get("series") or []})
    return out


# Events and actions

def event_list(request, instance_id, limit=50):
    return [Record(e) for e in
            vmmonclient(request).events.list(instance_id, limit=limit)]


def action_list(request, instance_id, limit=50):
    """The instance's latest actions, newest first."""
    c = vmmonclient(request)
    acts = list(c.actions.list(instance_id))
    return [Record(a) for a in reversed(acts[-limit:])]


def action_create(request, instance_id, action, type=None):
    return vmmonclient(request).actions.create(instance_id, action,
                                               type=type)


def action_get(request, instance_id, action_id):
    return vmmonclient(request).actions.get(instance_id, action_id)


def stream_events(request, instance_id):
    """The instance's live stream (vmmonclient.sse.ServerSentEvent
    iterator); reads time out after VMMON_STREAM_READ_TIMEOUT seconds."""
    c = vmmonclient(request, timeout=_setting("VMMON_STREAM_READ_TIMEOUT",
                                              60))
    return c.stream.events(instance_id)


# Fleet

def aggregates(request, metric, *, group_by="instance", aggregation=None,
               limit=None, all_projects=False, minutes=15):
    """One value per group over the last minutes (None: the latest
    folded minute), highest first."""
    start = None
    if minutes:
        start = iso(utcnow() - datetime.timedelta(minutes=minutes))
    return list(vmmonclient(request).aggregates.list(
        metric, aggregation=aggregation, group_by=group_by, start=start,
        limit=limit, all_projects=all_projects))


def host_list(request):
    return [Host(h) for h in vmmonclient(request).hosts.list()]
