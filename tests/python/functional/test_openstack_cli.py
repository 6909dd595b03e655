"""The real ``openstack`` command (python-openstackclient from Debian, in a
virtual environment with python-vmmonclient) against the real vmmon."""

from __future__ import annotations

import time
import uuid

from keystoneauth1 import adapter
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
import pytest

from testbed import session_of, still_missing, until
from vmmonclient import exceptions
from vmmonclient.v1 import Client


# Without authentication: the all-in-one of `make run`

def test_aio_without_auth(aio, osc):
    r = osc(aio, "vmmon", "instance", "list", "-f", "value", "-c", "ID")
    assert r.rc == 0, r
    ids = r.out.split()
    assert len(ids) == 200
    lib = Client(session=ks_session.Session(auth=noauth.NoAuth()),
                 endpoint_override=aio)
    until("points of cpu_util in the all-in-one", 30, lambda: lib.measures.get(
        ids[0], "cpu_util", granularity="raw")["series"])
    r = osc(aio, "vmmon", "measures", "show", ids[0], "cpu_util",
            "--granularity", "raw", "-f", "json")
    assert r.json() and r.json()[0]["Granularity"] == 0
    r = osc(aio, "vmmon", "metric", "list", ids[0], "-f", "json")
    assert "cpu_util" in [m["Name"] for m in r.json()]
    r = osc(aio, "vmmon", "host", "list", "-f", "json")
    assert [h["Status"] for h in r.json()] == ["up"]
    r = osc(aio, "vmmon", "instance", "show", str(uuid.uuid4()))
    assert r.rc == 1 and r.err.count("\n") == 1, r
    assert r.err.startswith("Not Found: Instance ") and "HTTP 404" in r.err


def test_aio_library_pages(aio):
    c = Client(session=ks_session.Session(auth=noauth.NoAuth()),
               endpoint_override=aio)
    got = [i["id"] for i in c.instances.list(page_size=64)]
    assert len(got) == 200 and len(set(got)) == 200
    assert c.last_request_id.startswith("req-")


# With Keystone, found through the catalog

def test_member_and_reader_list_their_project(osc, guest_known):
    for user in ("demo-member", "demo-reader"):
        r = osc(user, "vmmon", "instance", "list", "-f", "json")
        rows = r.json()
        assert guest_known in [i["ID"] for i in rows], r
        r = osc(user, "vmmon", "instance", "show", guest_known, "-f", "json")
        shown = r.json()
        assert shown["id"] == guest_known and "host" not in shown
        assert shown["agent_status"] in ("up", "stale")


def test_other_project_sees_nothing_and_gets_404(osc, guest_known):
    r = osc("alt-member", "vmmon", "instance", "list", "-f", "json")
    assert guest_known not in [i["ID"] for i in r.json()]
    r = osc("alt-member", "vmmon", "instance", "show", guest_known)
    assert r.rc == 1 and r.out == "", r
    assert r.err.count("\n") == 1, r
    assert "Not Found" in r.err and "(HTTP 404" in r.err
    assert "Request-ID: req-" in r.err


def test_admin_lists_every_project_and_hosts(osc, guest_known, stack):
    r = osc("admin", "vmmon", "instance", "list", "--all-projects", "--long",
            "-f", "json")
    rows = {i["ID"]: i for i in r.json()}
    assert rows[guest_known]["Host"] == stack["agent_host"]
    r = osc("admin", "vmmon", "host", "list", "-f", "json")
    assert stack["agent_host"] in [h["Name"] for h in r.json()]
    r = osc("admin", "vmmon", "host", "show", stack["agent_host"], "-f",
            "json")
    assert r.json()["status"] == "up"
    r = osc("demo-member", "vmmon", "host", "list")
    assert r.rc == 1 and "(HTTP 403" in r.err, r


def test_measures_metrics_events(osc, guest_known):
    r = osc("demo-member", "vmmon", "measures", "show", guest_known,
            "cpu_util", "--granularity", "raw", "--aggregation", "max",
            "-f", "json")
    points = r.json()
    assert points and all(isinstance(p["Value"], (int, float))
                          for p in points)
    r = osc("demo-member", "vmmon", "metric", "list", guest_known, "-f",
            "json")
    assert "cpu_util" in [m["Name"] for m in r.json()]
    r = osc("demo-member", "vmmon", "event", "list", guest_known, "-f",
            "json")
    assert r.rc == 0, r
    r = osc("demo-member", "vmmon", "measures", "show", guest_known,
            "cpu_util", "--granularity", "7")
    assert r.rc == 1 and "multiple of 60" in r.err, r


def test_reader_may_not_act(osc, guest_known):
    r = osc("demo-reader", "vmmon", "action", "create", guest_known, "stop")
    assert r.rc == 1 and r.out == "", r
    assert r.err.count("\n") == 1 and "Forbidden" in r.err
    assert "(HTTP 403" in r.err


def test_library_stream_and_errors(clients, guest_known, stack):
    member = clients["demo-member"]
    assert member.endpoint == stack["base"]
    gen = member.stream.samples(guest_known)
    try:
        sample = next(gen)
    finally:
        gen.close()
    assert sample["instance_id"] == guest_known and sample["metrics"]
    assert "host" not in sample
    with pytest.raises(exceptions.NotFound) as e:
        clients["alt-member"].instances.get(guest_known)
    assert e.value.code and e.value.request_id.startswith("req-")


# An action on a server of the bed's Nova, followed with --wait

@pytest.fixture
def server(bed, clients):
    """A server booted as demo-member in the bed's Nova (fake driver), known
    to vmmon; deleted at the end."""
    compute = adapter.Adapter(session_of(bed, "demo-member"),
                              service_type="compute", interface="public",
                              region_name="RegionOne",
                              default_microversion="2.37")
    body = {"server": {"name": "pyclient-%s" % uuid.uuid4().hex[:6],
                       "imageRef": bed["VMMON_NOVA_IMAGE_ID"],
                       "flavorRef": bed["VMMON_NOVA_FLAVOR_ID"],
                       "networks": "none"}}
    sid = compute.post("/servers", json=body).json()["server"]["id"]
    try:
        def active():
            s = compute.get("/servers/" + sid).json()["server"]
            if s["status"] == "ERROR":
                pytest.fail("server %s went to ERROR: %s" % (
                    sid, s.get("fault")), pytrace=False)
            return s["status"] == "ACTIVE"
        until("server ACTIVE in Nova", 120, active, 1)
        until("vmmon knowing the server from Nova's notifications", 60,
              lambda: not still_missing(clients["demo-member"], sid), 1)
        yield compute, sid
    finally:
        compute.delete("/servers/" + sid, raise_exc=False)


def test_action_with_wait(osc, server):
    compute, sid = server
    t0 = time.monotonic()
    r = osc("demo-member", "vmmon", "action", "create", sid, "stop",
            "--wait", "--wait-timeout", "180", "-f", "json")
    action = r.json()
    assert action["status"] == "succeeded", r
    assert action["action"] == "stop" and action["nova_request_id"]
    took = time.monotonic() - t0
    until("the server SHUTOFF in Nova", 60, lambda: compute.get(
        "/servers/" + sid).json()["server"]["status"] == "SHUTOFF", 1)
    r = osc("demo-member", "vmmon", "action", "list", sid, "-f", "json")
    assert [(a["ID"], a["Status"]) for a in r.json()] == [
        (action["id"], "succeeded")]
    r = osc("demo-reader", "vmmon", "action", "show", sid, action["id"],
            "-f", "value", "-c", "status")
    assert r.out == "succeeded\n", r
    # Nova's own refusal comes back as one line: it is stopped already.
    r = osc("demo-member", "vmmon", "action", "create", sid, "stop")
    assert r.rc == 1 and "(HTTP 409" in r.err, r
    print("stop --wait took %.1fs" % took)


def test_aio_top_n(aio, osc):
    # The all-in-one's 200 test-driver domains, by their latest cpu_util.
    until("latest cpu_util values", 30, lambda: osc(
        aio, "vmmon", "aggregate", "list", "--metric", "cpu_util",
        "--limit", "5", "-f", "json").json())
    r = osc(aio, "vmmon", "aggregate", "list", "--metric", "cpu_util",
            "--limit", "5", "-f", "json")
    assert r.rc == 0, r
    top = r.json()
    assert len(top) == 5
    values = [row["Value"] for row in top]
    assert values == sorted(values, reverse=True)


def test_aio_list_sorted_searched_filtered_by_vmmon(aio, osc):
    # The 200 test-driver domains are test-vm-1 to test-vm-200; every fifth
    # from the second is of flavor m1.quad (tests/bed/libvirt.sh).
    r = osc(aio, "vmmon", "instance", "list", "--name", "TEST-VM-1",
            "--sort", "name:desc", "--limit", "5", "-f", "json")
    assert r.rc == 0, r
    names = ["test-vm-%d" % i for i in range(1, 201)
             if ("test-vm-%d" % i).startswith("test-vm-1")]
    want = sorted(names, reverse=True)[:5]
    assert [row["Name"] for row in r.json()] == want
    r = osc(aio, "vmmon", "instance", "list", "--flavor", "m1.quad",
            "-f", "json")
    assert r.rc == 0, r
    assert sorted(row["Name"] for row in r.json()) == sorted(
        "test-vm-%d" % i for i in range(1, 201) if i % 5 == 2)
    r = osc(aio, "vmmon", "instance", "list", "--sort", "name:sideways", "-f",
            "json")
    assert r.rc == 1 and "sort" in r.err, r
