"""vmmonclient.v1.Client against canned answers."""

import json
import re

from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
import pytest
import requests

from canned import (ACTION, ACTION_ID, ENDPOINT, EVENTS, HOST, INSTANCE,
                    INSTANCE2, INSTANCE_DETAIL, INSTANCE_ID, MEASURES,
                    METRICS, REQ_ID, VERSION, error, links)
import vmmonclient
from vmmonclient import client as client_factory
from vmmonclient import exceptions
from vmmonclient import sse
from vmmonclient.v1 import Client


# The endpoint

@pytest.mark.parametrize("interface,region,want", [
    (None, "RegionOne", "http://public.one:8780"),
    ("internal", "RegionOne", "http://internal.one:8780"),
    ("public", "RegionTwo", "http://public.two:8780"),
    ("admin", "RegionOne", "http://admin.one:8780"),
])
def test_endpoint_from_catalog(api, keystone_session, interface, region,
                               want):
    c = Client(session=keystone_session, interface=interface,
               region_name=region)
    api.get(want + "/v1/instances", json={"instances": []})
    assert list(c.instances.list()) == []
    assert c.endpoint == want
    sent = api.last_request
    assert sent.url == want + "/v1/instances"
    assert sent.headers["X-Auth-Token"] == "the-token"


def test_no_endpoint_in_catalog_says_what_to_do(keystone_session):
    c = Client(session=keystone_session, interface="admin",
               region_name="RegionTwo")
    with pytest.raises(exceptions.EndpointNotFound) as e:
        list(c.instances.list())
    msg = str(e.value)
    assert "vm-monitor" in msg and "region RegionTwo" in msg
    assert "vmmon-manage service register" in msg


def test_noauth_endpoint_from_the_auth_plugin(api):
    c = Client(session=ks_session.Session(
        auth=noauth.NoAuth(endpoint=ENDPOINT + "/v1/")))
    api.get(ENDPOINT + "/v1/hosts", json={"hosts": []})
    assert list(c.hosts.list()) == []
    assert c.endpoint == ENDPOINT


def test_noauth_without_endpoint(api):
    c = Client(session=ks_session.Session(auth=noauth.NoAuth()))
    with pytest.raises(exceptions.EndpointNotFound) as e:
        c.hosts.get("h")
    assert "--os-endpoint" in str(e.value)


def test_unreachable(api, client):
    api.get(ENDPOINT + "/v1/hosts/h",
            exc=requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(exceptions.ServiceUnreachable) as e:
        client.hosts.get("h")
    assert str(e.value).startswith(
        "Could not reach vmmon at %s (connection refused)" % ENDPOINT)


# Headers

def test_headers_microversion_request_ids_user_agent(api):
    c = Client(session=ks_session.Session(auth=noauth.NoAuth()),
               endpoint_override=ENDPOINT, global_request_id="req-global-1")
    api.get(ENDPOINT + "/v1/hosts/compute-1", json={"host": HOST},
            headers={"x-openstack-request-id": REQ_ID})
    assert c.hosts.get("compute-1") == HOST
    sent = api.last_request.headers
    assert sent["OpenStack-API-Version"] == "vm-monitor 1.0"
    assert sent["X-OpenStack-Request-ID"] == "req-global-1"
    assert "python-vmmonclient/" + vmmonclient.__version__ in \
        sent["User-Agent"]
    assert c.last_request_id == REQ_ID


def test_pinned_microversion(api):
    c = Client(session=ks_session.Session(auth=noauth.NoAuth()),
               endpoint_override=ENDPOINT, api_version="1.3")
    api.get(ENDPOINT + "/v1/hosts", json={"hosts": []})
    list(c.hosts.list())
    assert api.last_request.headers["OpenStack-API-Version"] == \
        "vm-monitor 1.3"


def test_auto_negotiates_from_v1_document(api):
    c = Client(session=ks_session.Session(auth=noauth.NoAuth()),
               endpoint_override=ENDPOINT, api_version="auto")
    api.get(ENDPOINT + "/v1", json={"version": dict(VERSION,
                                                    max_version="1.9")})
    api.get(ENDPOINT + "/v1/hosts", json={"hosts": []})
    list(c.hosts.list())
    assert c.api_version == "1.0"  # the newest this client knows
    assert api.last_request.headers["OpenStack-API-Version"] == \
        "vm-monitor 1.0"


def test_auto_refuses_a_server_too_new(api):
    c = Client(session=ks_session.Session(auth=noauth.NoAuth()),
               endpoint_override=ENDPOINT, api_version="auto")
    api.get(ENDPOINT + "/v1", json={"version": dict(
        VERSION, min_version="2.0", max_version="2.4")})
    with pytest.raises(exceptions.UnsupportedVersion) as e:
        c.negotiate_version()
    assert "upgrade python-vmmonclient" in str(e.value)


def test_versions(api, client):
    api.get(ENDPOINT + "/", json={"versions": [VERSION]})
    api.get(ENDPOINT + "/v1", json={"version": VERSION})
    assert client.versions.list() == [VERSION]
    assert client.versions.get_current()["max_version"] == "1.0"


def test_client_factory():
    s = ks_session.Session(auth=noauth.NoAuth())
    assert client_factory.Client("1", session=s).api_version == "1.0"
    assert client_factory.Client("1.2", session=s).api_version == "1.2"
    with pytest.raises(exceptions.UnsupportedVersion):
        client_factory.Client("2", session=s)


# Errors

@pytest.mark.parametrize("status,cls", [
    (400, exceptions.BadRequest), (401, exceptions.Unauthorized),
    (403, exceptions.Forbidden), (404, exceptions.NotFound),
    (406, exceptions.NotAcceptable), (409, exceptions.Conflict),
    (422, exceptions.UnprocessableEntity), (429, exceptions.TooManyRequests),
    (500, exceptions.InternalServerError),
    (503, exceptions.ServiceUnavailable), (418, exceptions.HttpError),
])
def test_errors_by_status(api, client, status, cls):
    body = error(status, "vmmon.some.code", "Some Title",
                 "What went wrong. Do this instead.")
    api.get(ENDPOINT + "/v1/instances/" + INSTANCE_ID, status_code=status,
            json=body, headers={"x-openstack-request-id": REQ_ID})
    with pytest.raises(cls) as e:
        client.instances.get(INSTANCE_ID)
    err = e.value
    assert isinstance(err, exceptions.HttpError)
    assert err.http_status == status
    assert err.code == "vmmon.some.code"
    assert err.title == "Some Title"
    assert err.detail == "What went wrong. Do this instead."
    assert err.request_id == REQ_ID
    assert err.errors == body["errors"]
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith("Some Title: What went wrong. Do this instead")
    assert "(HTTP %d, vmmon.some.code)" % status in msg
    assert msg.endswith("(Request-ID: %s)" % REQ_ID)


def test_error_5xx_without_detail_points_at_the_log(api, client):
    api.get(ENDPOINT + "/v1/hosts", status_code=500,
            json=error(500, "vmmon.internal", "Internal Server Error", ""))
    with pytest.raises(exceptions.InternalServerError) as e:
        list(client.hosts.list())
    assert "its log has the details under the request id" in str(e.value)


def test_error_not_in_api_sig_format(api, client):
    api.get(ENDPOINT + "/v1/hosts", status_code=502, reason="Bad Gateway",
            text="<html>\n<body>upstream gone</body></html>")
    with pytest.raises(exceptions.BadGateway) as e:
        list(client.hosts.list())
    assert e.value.errors == []
    assert str(e.value).startswith("Bad Gateway")
    api.get(ENDPOINT + "/v1/hosts/x", status_code=404, reason="Not Found",
            text="no such\npage")
    with pytest.raises(exceptions.NotFound) as e:
        client.hosts.get("x")
    assert str(e.value) == "Not Found: no such page (HTTP 404)"


def test_unauthorized_says_what_to_do(api, client):
    api.get(ENDPOINT + "/v1/hosts", status_code=401,
            json=error(401, "vmmon.unauthorized", "Unauthorized",
                       "The request needs a valid token."))
    with pytest.raises(exceptions.Unauthorized) as e:
        list(client.hosts.list())
    assert "check the credentials" in str(e.value)


# Pagination

def test_list_follows_next_links(api, client):
    api.get(ENDPOINT + "/v1/instances", [
        {"json": {"instances": [INSTANCE],
                  "instances_links": links("/v1/instances?limit=1",
                                           "/v1/instances?limit=1&marker=a")}},
    ])
    api.get(re.compile(re.escape(ENDPOINT) + r"/v1/instances\?.*marker=a"),
            json={"instances": [INSTANCE2], "instances_links": links(
                "/v1/instances?limit=1&marker=a",
                "/v1/instances?limit=1&marker=b")})
    api.get(re.compile(re.escape(ENDPOINT) + r"/v1/instances\?.*marker=b"),
            json={"instances": [], "instances_links": links(
                "/v1/instances?limit=1&marker=b")})
    got = list(client.instances.list(page_size=1, all_projects=True,
                                     state="active"))
    assert [i["id"] for i in got] == [INSTANCE["id"], INSTANCE2["id"]]
    first = api.request_history[0]
    assert first.qs == {"limit": ["1"], "all_projects": ["true"],
                        "state": ["active"]}
    assert api.call_count == 3


def test_list_is_lazy_and_limit_stops_early(api, client):
    api.get(ENDPOINT + "/v1/instances", json={
        "instances": [INSTANCE, INSTANCE2],
        "instances_links": links("/v1/instances?limit=2",
                                 "/v1/instances?limit=2&marker=x")})
    gen = client.instances.list(limit=2)
    assert api.call_count == 0
    assert len(list(gen)) == 2
    assert api.call_count == 1  # the next page is never asked for
    assert api.last_request.qs == {"limit": ["2"]}


def test_list_stops_on_a_repeated_next_link(api, client):
    api.get(ENDPOINT + "/v1/hosts", json={
        "hosts": [HOST], "hosts_links": links("/v1/hosts",
                                              "/v1/hosts?marker=m")})
    assert len(list(client.hosts.list())) == 2
    assert api.call_count == 2


def test_error_on_a_later_page(api, client):
    api.get(ENDPOINT + "/v1/hosts", json={
        "hosts": [HOST], "hosts_links": links("/v1/hosts", "/v1/hosts?m=1")})
    api.get(ENDPOINT + "/v1/hosts?m=1", status_code=503,
            json=error(503, "vmmon.identity_unavailable",
                       "Service Unavailable", "Keystone cannot be reached."))
    gen = client.hosts.list()
    assert next(gen) == HOST
    with pytest.raises(exceptions.ServiceUnavailable):
        next(gen)


# Resources

def test_instances(api, client):
    api.get(ENDPOINT + "/v1/instances/" + INSTANCE_ID, json=INSTANCE_DETAIL)
    assert client.instances.get(INSTANCE_ID) == INSTANCE_DETAIL
    api.get(ENDPOINT + "/v1/instances", json={"instances": [INSTANCE]})
    list(client.instances.list(project_id="p2", host="h1", marker="m"))
    assert api.last_request.qs == {"project_id": ["p2"], "host": ["h1"],
                                   "marker": ["m"]}


def test_identifiers_are_escaped(api, client):
    api.get(ENDPOINT + "/v1/hosts/a%2Fb%20c", json={"host": HOST})
    assert client.hosts.get("a/b c") == HOST
    with pytest.raises(ValueError):
        client.instances.get("")


def test_metrics_and_measures(api, client):
    base = ENDPOINT + "/v1/instances/" + INSTANCE_ID
    api.get(base + "/metrics", json={"metrics": METRICS})
    assert client.metrics.list(INSTANCE_ID) == METRICS
    api.get(base + "/metrics/disk.device.read.bytes.rate/measures",
            json={"measures": MEASURES})
    got = client.measures.get(INSTANCE_ID, "disk.device.read.bytes.rate",
                              start="2026-11-28T01:00:00Z", granularity=300,
                              aggregation="max", all_devices=True)
    assert got == MEASURES
    assert api.last_request.qs == {
        "start": ["2026-11-28t01:00:00z"], "granularity": ["300"],
        "aggregation": ["max"], "all_devices": ["true"]}
    client.measures.get(INSTANCE_ID, "disk.device.read.bytes.rate",
                        granularity="raw", device="vda")
    assert api.last_request.qs == {"granularity": ["raw"],
                                   "device": ["vda"]}


def test_events(api, client):
    api.get(ENDPOINT + "/v1/instances/%s/events" % INSTANCE_ID, json={
        "events": EVENTS, "events_links": links("/v1/instances/x/events")})
    assert list(client.events.list(INSTANCE_ID, start="s", end="e")) == \
        EVENTS
    assert api.last_request.qs == {"start": ["s"], "end": ["e"]}


def test_hosts(api, client):
    api.get(ENDPOINT + "/v1/hosts", json={"hosts": [HOST],
                                          "hosts_links": links("/v1/hosts")})
    assert list(client.hosts.list()) == [HOST]


# Actions

def test_action_create_with_idempotency_key(api, client):
    url = ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID
    api.post(url, status_code=202, json={"action": ACTION},
             headers={"Location": url + "/" + ACTION_ID})
    got = client.actions.create(INSTANCE_ID, "reboot", type="HARD",
                                idempotency_key="key-1")
    assert got == ACTION
    sent = api.last_request
    assert sent.json() == {"action": "reboot", "type": "HARD"}
    assert sent.headers["Idempotency-Key"] == "key-1"
    assert sent.headers["OpenStack-API-Version"] == "vm-monitor 1.0"


def test_action_create_makes_a_key_per_call(api, client):
    url = ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID
    api.post(url, status_code=202, json={"action": ACTION})
    client.actions.create(INSTANCE_ID, "lock", reason="maintenance")
    k1 = api.last_request.headers["Idempotency-Key"]
    assert api.last_request.json() == {"action": "lock",
                                       "reason": "maintenance"}
    client.actions.create(INSTANCE_ID, "lock")
    k2 = api.last_request.headers["Idempotency-Key"]
    assert k1 != k2 and len(k1) <= 255


def test_action_list_and_get(api, client):
    url = ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID
    api.get(url, json={"actions": [ACTION], "actions_links": links("/x")})
    assert list(client.actions.list(INSTANCE_ID)) == [ACTION]
    api.get(url + "/" + ACTION_ID, json={"action": ACTION})
    assert client.actions.get(INSTANCE_ID, ACTION_ID) == ACTION


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


def test_action_wait_until_settled(api, client):
    url = ENDPOINT + "/v1/instances/%s/actions/%s" % (INSTANCE_ID, ACTION_ID)
    api.get(url, [{"json": {"action": ACTION}},
                  {"json": {"action": ACTION}},
                  {"json": {"action": dict(ACTION, status="succeeded")}}])
    t = FakeTime()
    client.actions._sleep, client.actions._clock = t.sleep, t.clock
    seen = []
    got = client.actions.wait(INSTANCE_ID, ACTION_ID, interval=2,
                              callback=lambda a: seen.append(a["status"]))
    assert got["status"] == "succeeded"
    assert seen == ["pending", "pending", "succeeded"]
    assert t.sleeps == [2, 2]


def test_action_wait_times_out(api, client):
    url = ENDPOINT + "/v1/instances/%s/actions/%s" % (INSTANCE_ID, ACTION_ID)
    api.get(url, json={"action": ACTION})
    t = FakeTime()
    client.actions._sleep, client.actions._clock = t.sleep, t.clock
    with pytest.raises(exceptions.WaitTimeout) as e:
        client.actions.wait(INSTANCE_ID, ACTION_ID, timeout=5, interval=2)
    assert t.sleeps == [2, 2, 1]
    assert "openstack vmmon action show" in str(e.value)


def test_action_refused_by_nova(api, client):
    url = ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID
    api.post(url, status_code=409, json=error(
        409, "vmmon.nova.conflict", "Conflict",
        "Nova refused: Cannot 'unpause' instance while it is in vm_state "
        "active"))
    with pytest.raises(exceptions.Conflict) as e:
        client.actions.create(INSTANCE_ID, "unpause")
    assert "Nova refused" in str(e.value)


# The live stream

STREAM = (
    b"retry: 3000\n\n"
    b"id: 1\nevent: sample\ndata: {\"instance_id\": \"i\", \"metrics\": "
    b"[{\"name\": \"cpu_util\", \"value\": 8.7}]}\n\n"
    b": a comment\n"
    b"id: 2\nevent: sample\ndata: {\"instance_id\": \"i\", \"metrics\": []}"
    b"\n\nevent: end\ndata: stream lifetime reached\n\n")


def test_stream_events(api, client):
    api.get(ENDPOINT + "/v1/instances/%s/stream" % INSTANCE_ID,
            content=STREAM, headers={"Content-Type": "text/event-stream"})
    evs = list(client.stream.events(INSTANCE_ID))
    assert [(e.event, e.id, e.retry) for e in evs] == [
        ("message", None, 3000), ("sample", "1", None),
        ("sample", "2", None), ("end", "2", None)]
    assert evs[1].json()["metrics"][0]["value"] == 8.7
    assert api.last_request.headers["Accept"] == "text/event-stream"


def test_stream_samples_end_and_error(api, client):
    url = ENDPOINT + "/v1/instances/%s/stream" % INSTANCE_ID
    api.get(url, content=STREAM + b"event: sample\ndata: {}\n\n")
    got = list(client.stream.samples(INSTANCE_ID))
    assert [s["metrics"] for s in got] == [
        [{"name": "cpu_util", "value": 8.7}], []]  # nothing after "end"
    api.get(url, content=b"event: sample\ndata: {}\n\n"
            b"event: error\ndata: client too slow\n\n")
    gen = client.stream.samples(INSTANCE_ID)
    assert next(gen) == {}
    with pytest.raises(exceptions.StreamError) as e:
        next(gen)
    assert "client too slow" in str(e.value)


def test_stream_refused(api, client):
    api.get(ENDPOINT + "/v1/instances/%s/stream" % INSTANCE_ID,
            status_code=429, json=error(429, "vmmon.stream.too_many",
                                        "Too Many Requests",
                                        "At most 10 streams per user."))
    with pytest.raises(exceptions.TooManyRequests):
        next(client.stream.samples(INSTANCE_ID))


@pytest.mark.parametrize("chunks", [
    [b"event: a\r\ndata: x\r\ndata: y\r\n\r\n"],
    [b"event: a\rdata: x\rdata: y\r\r"],
    [b"ev", b"ent: a\ndata:", b" x\n", b"data: y\n", b"\n"],
    [b"event: a\r", b"\ndata: x\r\ndata:y\r", b"\n\r\n"],
])
def test_sse_parser(chunks):
    evs = list(sse.parse(chunks))
    assert [(e.event, e.data) for e in evs] == [("a", "x\ny")]


def test_sse_parser_ignores_an_unfinished_event():
    assert list(sse.parse([b"data: half"])) == []
    assert json.loads(sse.ServerSentEvent(data="[1]").data) == [1]
