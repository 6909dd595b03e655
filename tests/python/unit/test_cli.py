"""The ``openstack vmmon`` commands, run through python-openstackclient's own
shell (in this process) against canned answers, in every output format."""

import csv
import io
import json
import logging
import re

from osc_lib import clientmanager
import pytest
import yaml

from canned import (ACTION, ACTION_ID, ENDPOINT, EVENTS, HOST, INSTANCE,
                    INSTANCE2, INSTANCE_DETAIL, INSTANCE_ID, MEASURES,
                    METRICS, REQ_ID, error, links)

shell = pytest.importorskip("openstackclient.shell")

LIST_FORMATS = ("table", "json", "yaml", "value", "csv")
SHOW_FORMATS = ("table", "json", "yaml", "value", "shell")


@pytest.fixture
def osc(api, capsys):
    """Run ``openstack --os-auth-type none --os-endpoint ENDPOINT ...``;
    returns (exit status, standard output, standard error)."""
    root = logging.getLogger()

    def run(*argv):
        handlers = list(root.handlers)
        # OSC keeps a plugin's client for the life of the process.
        vars(clientmanager.ClientManager)["vm_monitor"]._handle = None
        try:
            rc = shell.main(["--os-auth-type", "none", "--os-endpoint",
                             ENDPOINT] + list(argv))
        except SystemExit as e:
            rc = e.code
        finally:
            for h in list(root.handlers):
                if h not in handlers:
                    root.removeHandler(h)
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def parse(fmt, out):
    """Rows of a Lister's output as lists of strings, headings first (where
    the format has them)."""
    if fmt == "json":
        return json.loads(out)
    if fmt == "yaml":
        return yaml.safe_load(out)
    if fmt == "csv":
        return list(csv.reader(io.StringIO(out)))
    if fmt == "value":
        return [line.split(" ") for line in out.splitlines()]
    if fmt == "table":
        return [[c.strip() for c in line.strip("|").split("|")]
                for line in out.splitlines() if line.startswith("|")]
    if fmt == "shell":
        return {k: v.replace('\\"', '"')
                for k, v in re.findall(r'^(\w+)="(.*)"$', out, re.M)}
    raise AssertionError(fmt)


def check_list(fmt, out, headings, rows):
    """rows (as dicts by heading) are what the command printed in fmt."""
    got = parse(fmt, out)
    if fmt in ("json", "yaml"):
        assert got == rows
        return
    if fmt == "value":
        assert got == [[str(r[h]) for h in headings] for r in rows]
        return
    assert got[0] == list(headings)
    want = [["" if r[h] is None else str(r[h]) for h in headings]
            for r in rows]
    assert got[1:] == want


def check_show(fmt, out, fields):
    """fields (a dict) is what a ShowOne printed in fmt."""
    got = parse(fmt, out)
    if fmt in ("json", "yaml"):
        assert got == fields
    elif fmt == "value":
        assert out.splitlines() == [str(fields[k]) for k in sorted(fields)]
    elif fmt == "shell":
        assert got == {k: str(v) for k, v in fields.items()}
    else:
        assert got[0] == ["Field", "Value"]
        assert dict(got[1:]) == {k: str(v) for k, v in fields.items()}


# instance list

INSTANCE_HEADINGS = ("ID", "Name", "State", "Power State", "Flavor", "IPs",
                     "Updated At")


def instance_row(i, fmt):
    ips = i["ips"]
    if fmt == "table":
        ips = ", ".join(ips)
    elif fmt in ("value", "csv"):
        ips = str(ips)  # cliff: machine-readable, as Python shows a list
    return {"ID": i["id"], "Name": i["name"], "State": i["state"],
            "Power State": i["power_state"], "Flavor": i["flavor_name"],
            "IPs": ips, "Updated At": i["updated_at"]}


@pytest.mark.parametrize("fmt", LIST_FORMATS)
def test_instance_list(api, osc, fmt):
    api.get(ENDPOINT + "/v1/instances", json={
        "instances": [INSTANCE, INSTANCE2],
        "instances_links": links("/v1/instances")})
    rc, out, err = osc("vmmon", "instance", "list", "-f", fmt)
    assert rc == 0, err
    if fmt == "value":
        # IPs as a Python list: check the other columns only.
        rows = [line.split(" ") for line in out.splitlines()]
        assert [r[:5] for r in rows] == [
            [i["id"], i["name"], "active", "running", "m1.small"]
            for i in (INSTANCE, INSTANCE2)]
        return
    check_list(fmt, out, INSTANCE_HEADINGS,
               [instance_row(i, fmt) for i in (INSTANCE, INSTANCE2)])


def test_instance_list_options_long_columns_sort(api, osc):
    api.get(ENDPOINT + "/v1/instances", json={
        "instances": [INSTANCE, INSTANCE2],
        "instances_links": links("/v1/instances")})
    rc, out, err = osc("vmmon", "instance", "list", "--all-projects",
                       "--host", "compute-1", "--state", "active",
                       "--limit", "5", "--long", "-f", "json")
    assert rc == 0, err
    assert api.last_request.qs == {"all_projects": ["true"],
                                   "host": ["compute-1"],
                                   "state": ["active"], "limit": ["5"]}
    got = json.loads(out)
    assert got[0]["Project ID"] == "bc1d" and got[0]["vCPUs"] == 1
    assert "Host ID" in got[0] and "Launched At" in got[0]
    rc, out, err = osc("vmmon", "instance", "list", "--project", "p2",
                       "-c", "Name", "-c", "ID", "--sort-column", "Name",
                       "--sort-descending", "-f", "csv")
    assert rc == 0, err
    assert api.last_request.qs == {"project_id": ["p2"]}
    # cliff keeps the command's order of columns.
    assert parse("csv", out) == [["ID", "Name"], [INSTANCE2["id"], "web-2"],
                                 [INSTANCE["id"], "web-1"]]


def test_instance_list_sorted_and_searched_by_vmmon(api, osc):
    api.get(ENDPOINT + "/v1/instances", json={
        "instances": [INSTANCE2, INSTANCE],
        "instances_links": links("/v1/instances")})
    rc, out, err = osc("vmmon", "instance", "list", "--sort", "cpu_util:desc",
                       "--sort", "name", "--name", "Web", "--flavor",
                       "m1.small", "--changes-since", "2026-11-28T00:00:00Z",
                       "--no-deleted", "-f", "json")
    assert rc == 0, err
    qs = api.last_request.qs
    assert qs == {"sort": ["cpu_util:desc,name"], "name": ["web"],
                  "flavor": ["m1.small"],
                  "changes-since": ["2026-11-28t00:00:00z"],
                  "deleted": ["false"]}
    # The order is vmmon's, not re-sorted by the client.
    assert [r["ID"] for r in json.loads(out)] == [INSTANCE2["id"],
                                                  INSTANCE["id"]]
    rc, out, err = osc("vmmon", "instance", "list", "--deleted")
    assert rc == 0, err
    assert api.last_request.qs == {"deleted": ["true"]}
    rc, out, err = osc("vmmon", "instance", "list", "--deleted",
                       "--no-deleted")
    assert rc != 0 and "not allowed with" in err


def test_instance_list_follows_pages(api, osc):
    api.get(ENDPOINT + "/v1/instances", json={
        "instances": [INSTANCE],
        "instances_links": links("/v1/instances", "/v1/instances?marker=1")})
    api.get(ENDPOINT + "/v1/instances?marker=1", json={
        "instances": [INSTANCE2],
        "instances_links": links("/v1/instances?marker=1")})
    rc, out, err = osc("vmmon", "instance", "list", "-f", "value", "-c",
                       "Name")
    assert (rc, out) == (0, "web-1\nweb-2\n")


# instance show

def instance_fields():
    d = INSTANCE_DETAIL
    f = dict(d["instance"])
    f.update({"agent_" + k: v for k, v in d["agent"].items()})
    f["data_stale"] = False
    f["latest"] = METRICS
    return f


@pytest.mark.parametrize("fmt", SHOW_FORMATS)
def test_instance_show(api, osc, fmt):
    api.get(ENDPOINT + "/v1/instances/" + INSTANCE_ID, json=INSTANCE_DETAIL)
    rc, out, err = osc("vmmon", "instance", "show", INSTANCE_ID, "-f", fmt)
    assert rc == 0, err
    fields = instance_fields()
    if fmt in ("json", "yaml"):
        check_show(fmt, out, fields)
        return
    if fmt == "table":
        assert "| latest                | cpu_util = 8.7 % at " \
               "2026-11-28T02:06:50Z" in out
        assert "disk.device.read.bytes.rate (vda) = 52428.8 B/s at" in out
        assert "| ips                   | 10.0.0.5, fd00::5" in out
        assert "| agent_status          | up" in out
        assert "| host                  | compute-1" in out
        return
    got = out if fmt == "value" else parse(fmt, out)
    if fmt == "shell":
        assert got["name"] == "web-1" and got["agent_status"] == "up"
        assert got["data_stale"] == "False"
    else:
        assert "web-1" in got.splitlines()


def test_instance_show_by_name(api, osc):
    api.get(ENDPOINT + "/v1/instances", json={
        "instances": [INSTANCE, INSTANCE2],
        "instances_links": links("/v1/instances")})
    api.get(ENDPOINT + "/v1/instances/" + INSTANCE_ID, json=INSTANCE_DETAIL)
    rc, out, err = osc("vmmon", "instance", "show", "web-1", "-f", "value",
                       "-c", "id")
    assert (rc, out) == (0, INSTANCE_ID + "\n")
    rc, out, err = osc("vmmon", "instance", "show", "web-9")
    assert rc == 1
    assert err == ("No instance named 'web-9' among the instances you can "
                   "see; give its ID (openstack vmmon instance list)\n")


def test_instance_show_not_found_is_one_line(api, osc):
    api.get(ENDPOINT + "/v1/instances/" + INSTANCE_ID, status_code=404,
            json=error(404, "vmmon.instance.not_found", "Not Found",
                       "Instance %s not found." % INSTANCE_ID),
            headers={"x-openstack-request-id": REQ_ID})
    rc, out, err = osc("vmmon", "instance", "show", INSTANCE_ID)
    assert rc == 1 and out == ""
    assert err == ("Not Found: Instance %s not found (HTTP 404, "
                   "vmmon.instance.not_found) (Request-ID: %s)\n"
                   % (INSTANCE_ID, REQ_ID))


def test_unreachable_is_one_line(api, osc):
    import requests
    api.get(ENDPOINT + "/v1/hosts", exc=requests.exceptions.ConnectionError(
        "[Errno 111] Connection refused"))
    rc, out, err = osc("vmmon", "host", "list")
    assert rc == 1
    assert err.count("\n") == 1
    assert err.startswith("Could not reach vmmon at %s (connection refused)"
                          % ENDPOINT)


# metric list

METRIC_HEADINGS = ("Name", "Device", "Unit", "Kind", "Last Timestamp",
                   "Last Value")


@pytest.mark.parametrize("fmt", LIST_FORMATS)
def test_metric_list(api, osc, fmt):
    api.get(ENDPOINT + "/v1/instances/%s/metrics" % INSTANCE_ID,
            json={"metrics": METRICS})
    rc, out, err = osc("vmmon", "metric", "list", INSTANCE_ID, "-f", fmt)
    assert rc == 0, err
    rows = [{"Name": m["name"], "Device": m.get("device", ""),
             "Unit": m["unit"], "Kind": m["kind"],
             "Last Timestamp": m["last_timestamp"],
             "Last Value": m["last_value"]} for m in METRICS]
    if fmt == "value":
        assert out.splitlines() == [
            "cpu_util  % rate 2026-11-28T02:06:50Z 8.7",
            "disk.device.read.bytes.rate vda B/s rate 2026-11-28T02:06:50Z "
            "52428.8"]
        return
    check_list(fmt, out, METRIC_HEADINGS, rows)


# measures show

MEASURES_HEADINGS = ("Timestamp", "Granularity", "Device", "Value")


@pytest.mark.parametrize("fmt", LIST_FORMATS)
def test_measures_show(api, osc, fmt):
    api.get(ENDPOINT + "/v1/instances/%s/metrics/disk.device.read.bytes.rate"
            "/measures" % INSTANCE_ID, json={"measures": MEASURES})
    rc, out, err = osc("vmmon", "measures", "show", INSTANCE_ID,
                       "disk.device.read.bytes.rate", "--all-devices",
                       "--start", "2026-11-28T01:00:00Z", "--end",
                       "2026-11-28T02:00:00Z", "--granularity", "300",
                       "--aggregation", "max", "-f", fmt)
    assert rc == 0, err
    assert api.last_request.qs == {
        "start": ["2026-11-28t01:00:00z"], "end": ["2026-11-28t02:00:00z"],
        "granularity": ["300"], "aggregation": ["max"],
        "all_devices": ["true"]}
    rows = [{"Timestamp": p["timestamp"], "Granularity": 300,
             "Device": s["device"], "Value": p["value"]}
            for s in MEASURES["series"] for p in s["points"]]
    if fmt == "value":
        assert out.splitlines()[0] == "2026-11-28T01:00:00Z 300 vda 52428.8"
        assert len(out.splitlines()) == 3
        return
    check_list(fmt, out, MEASURES_HEADINGS, rows)


def test_measures_show_device_and_long(api, osc):
    api.get(re.compile(re.escape(ENDPOINT) + "/v1/instances/.*/measures"),
            json={"measures": MEASURES})
    rc, out, err = osc("vmmon", "measures", "show", INSTANCE_ID,
                       "disk.device.read.bytes.rate", "--device", "vda",
                       "--long", "-f", "json")
    assert rc == 0, err
    assert api.last_request.qs == {"device": ["vda"]}
    assert json.loads(out)[0] == {
        "Timestamp": "2026-11-28T01:00:00Z", "Granularity": 300,
        "Device": "vda", "Value": 52428.8, "Unit": "B/s",
        "Aggregation": "mean"}
    rc, out, err = osc("vmmon", "measures", "show", INSTANCE_ID, "cpu",
                       "--aggregation", "median")
    assert rc == 2 and "invalid choice: 'median'" in err


def test_measures_show_bad_request_says_what_to_change(api, osc):
    api.get(re.compile(re.escape(ENDPOINT) + "/v1/instances/.*/measures"),
            status_code=400, json=error(
                400, "vmmon.measures.invalid", "Bad Request",
                "granularity: 7s is not supported: use raw (0), or a "
                "multiple of 60 seconds."))
    rc, out, err = osc("vmmon", "measures", "show", INSTANCE_ID, "cpu_util",
                       "--granularity", "7")
    assert rc == 1
    assert err.startswith("Bad Request: granularity: 7s is not supported: "
                          "use raw (0), or a multiple of 60 seconds (HTTP "
                          "400, vmmon.measures.invalid)")


# event list

EVENT_HEADINGS = ("Timestamp", "Source", "Event Type", "Detail")


@pytest.mark.parametrize("fmt", LIST_FORMATS)
def test_event_list(api, osc, fmt):
    api.get(ENDPOINT + "/v1/instances/%s/events" % INSTANCE_ID, json={
        "events": EVENTS, "events_links": links("/v1/instances/i/events")})
    rc, out, err = osc("vmmon", "event", "list", INSTANCE_ID, "--start",
                       "2026-11-28T00:00:00Z", "-f", fmt)
    assert rc == 0, err
    assert api.last_request.qs == {"start": ["2026-11-28t00:00:00z"]}
    rows = [{"Timestamp": e["timestamp"], "Source": e["source"],
             "Event Type": e["event_type"], "Detail": e["detail"]}
            for e in EVENTS]
    if fmt == "value":
        assert out.splitlines() == [
            "2026-11-28T02:00:00Z nova instance.reboot.end rebooted",
            "2026-11-28T01:00:00Z libvirt libvirt.started "]
        return
    check_list(fmt, out, EVENT_HEADINGS, rows)


def test_event_list_long(api, osc):
    api.get(ENDPOINT + "/v1/instances/%s/events" % INSTANCE_ID, json={
        "events": EVENTS, "events_links": links("/v1/instances/i/events")})
    rc, out, err = osc("vmmon", "event", "list", INSTANCE_ID, "--long",
                       "--limit", "1", "-f", "json")
    assert rc == 0, err
    got = json.loads(out)
    assert len(got) == 1 and got[0]["Request ID"] == "req-1"
    assert got[0]["Host"] == "compute-1"


# action create|list|show

ACTION_HEADINGS = ("ID", "Action", "Status", "Created At", "Updated At")


@pytest.mark.parametrize("fmt", SHOW_FORMATS)
def test_action_create(api, osc, fmt):
    url = ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID
    api.post(url, status_code=202, json={"action": ACTION})
    rc, out, err = osc("vmmon", "action", "create", INSTANCE_ID, "reboot",
                       "--type", "HARD", "--idempotency-key", "k-1",
                       "-f", fmt)
    assert rc == 0, err
    assert api.last_request.json() == {"action": "reboot", "type": "HARD"}
    assert api.last_request.headers["Idempotency-Key"] == "k-1"
    check_show(fmt, out, ACTION)


def test_action_create_wait(api, osc, monkeypatch):
    from vmmonclient.v1 import actions
    monkeypatch.setattr(actions.ActionManager, "_sleep",
                        staticmethod(lambda s: None))
    url = ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID
    api.post(url, status_code=202, json={"action": ACTION})
    api.get(url + "/" + ACTION_ID, [
        {"json": {"action": ACTION}},
        {"json": {"action": dict(ACTION, status="succeeded")}}])
    rc, out, err = osc("vmmon", "action", "create", INSTANCE_ID, "stop",
                       "--wait", "-f", "value", "-c", "status")
    assert (rc, out) == (0, "succeeded\n"), err
    assert api.call_count == 3


@pytest.mark.parametrize("status,says", [
    ("failed", "failed: Nova said no"),
    ("unknown", "is unknown: vmmon heard nothing from Nova in time"),
])
def test_action_create_wait_unsettled_exits_non_zero(api, osc, monkeypatch,
                                                     status, says):
    from vmmonclient.v1 import actions
    monkeypatch.setattr(actions.ActionManager, "_sleep",
                        staticmethod(lambda s: None))
    url = ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID
    api.post(url, status_code=202, json={"action": ACTION})
    api.get(url + "/" + ACTION_ID, json={"action": dict(
        ACTION, status=status, message="Nova said no")})
    rc, out, err = osc("vmmon", "action", "create", INSTANCE_ID, "reboot",
                       "--wait")
    assert rc == 1 and out == ""
    assert err.count("\n") == 1 and says in err and ACTION_ID in err


def test_action_create_refusals(api, osc):
    url = ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID
    api.post(url, status_code=403, json=error(
        403, "vmmon.forbidden", "Forbidden",
        "Policy vmmon:instance:action does not allow this."))
    rc, out, err = osc("vmmon", "action", "create", INSTANCE_ID, "stop")
    assert rc == 1
    assert err.startswith("Forbidden: Policy vmmon:instance:action does not "
                          "allow this (HTTP 403, vmmon.forbidden)")
    rc, out, err = osc("vmmon", "action", "create", INSTANCE_ID, "stop",
                       "--type", "HARD")
    assert (rc, err) == (1, "--type applies to reboot only\n")
    rc, out, err = osc("vmmon", "action", "create", INSTANCE_ID, "explode")
    assert rc == 2 and "invalid choice: 'explode'" in err


@pytest.mark.parametrize("fmt", LIST_FORMATS)
def test_action_list(api, osc, fmt):
    done = dict(ACTION, id="a2", status="succeeded",
                updated_at="2026-11-28T02:00:09Z")
    api.get(ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID, json={
        "actions": [ACTION, done], "actions_links": links("/x")})
    rc, out, err = osc("vmmon", "action", "list", INSTANCE_ID, "-f", fmt)
    assert rc == 0, err
    rows = [{"ID": a["id"], "Action": a["action"], "Status": a["status"],
             "Created At": a["created_at"], "Updated At": a["updated_at"]}
            for a in (ACTION, done)]
    check_list(fmt, out, ACTION_HEADINGS, rows)


def test_action_list_long(api, osc):
    api.get(ENDPOINT + "/v1/instances/%s/actions" % INSTANCE_ID, json={
        "actions": [ACTION], "actions_links": links("/x")})
    rc, out, err = osc("vmmon", "action", "list", INSTANCE_ID, "--long",
                       "-f", "json")
    assert rc == 0, err
    assert json.loads(out)[0]["Nova Request ID"] == "req-0faf"


@pytest.mark.parametrize("fmt", SHOW_FORMATS)
def test_action_show(api, osc, fmt):
    api.get(ENDPOINT + "/v1/instances/%s/actions/%s" % (
        INSTANCE_ID, ACTION_ID), json={"action": ACTION})
    rc, out, err = osc("vmmon", "action", "show", INSTANCE_ID, ACTION_ID,
                       "-f", fmt)
    assert rc == 0, err
    check_show(fmt, out, ACTION)


# host list|show

HOST_HEADINGS = ("Name", "Status", "Heartbeat Age (s)", "Interval (s)")


@pytest.mark.parametrize("fmt", LIST_FORMATS)
def test_host_list(api, osc, fmt):
    other = dict(HOST, name="compute-2", status="stale",
                 heartbeat_age_s=45.2)
    api.get(ENDPOINT + "/v1/hosts", json={"hosts": [HOST, other],
                                          "hosts_links": links("/v1/hosts")})
    rc, out, err = osc("vmmon", "host", "list", "-f", fmt)
    assert rc == 0, err
    rows = [{"Name": h["name"], "Status": h["status"],
             "Heartbeat Age (s)": h["heartbeat_age_s"],
             "Interval (s)": h["interval_s"]} for h in (HOST, other)]
    check_list(fmt, out, HOST_HEADINGS, rows)


def test_host_list_long_and_sorted(api, osc):
    other = dict(HOST, name="compute-2", heartbeat_age_s=45.2)
    api.get(ENDPOINT + "/v1/hosts", json={"hosts": [HOST, other],
                                          "hosts_links": links("/v1/hosts")})
    rc, out, err = osc("vmmon", "host", "list", "--long", "--sort-column",
                       "Heartbeat Age (s)", "--sort-descending", "-f",
                       "json")
    assert rc == 0, err
    got = json.loads(out)
    assert [h["Name"] for h in got] == ["compute-2", "compute-1"]
    assert got[0]["Last Seq"] == 8640 and got[0]["Stream"]


@pytest.mark.parametrize("fmt", SHOW_FORMATS)
def test_host_show(api, osc, fmt):
    api.get(ENDPOINT + "/v1/hosts/compute-1", json={"host": HOST})
    rc, out, err = osc("vmmon", "host", "show", "compute-1", "-f", fmt)
    assert rc == 0, err
    if fmt in ("json", "yaml"):
        check_show(fmt, out, HOST)
    elif fmt == "table":
        assert "| heartbeat       | domains='2', duration_ms='12' |" in out
        assert "| status          | up " in out
    elif fmt == "shell":
        assert parse(fmt, out)["last_seq"] == "8640"
    else:
        assert "compute-1" in out.splitlines()


def test_host_forbidden_for_members(api, osc):
    api.get(ENDPOINT + "/v1/hosts", status_code=403, json=error(
        403, "vmmon.forbidden", "Forbidden",
        "Policy vmmon:host:list does not allow this."))
    rc, out, err = osc("vmmon", "host", "list")
    assert rc == 1 and out == "" and err.count("\n") == 1


# The plugin's global option

def test_api_version_option(api, osc):
    api.get(ENDPOINT + "/v1/hosts", json={"hosts": []})
    rc, out, err = osc("--os-vm-monitor-api-version", "1.0", "vmmon", "host",
                       "list")
    assert rc == 0, err
    assert api.last_request.headers["OpenStack-API-Version"] == \
        "vm-monitor 1.0"
    rc, out, err = osc("--os-vm-monitor-api-version", "1.x", "vmmon", "host",
                       "list")
    assert rc != 0 and "not valid: give 1 or 1.<minor>" in err


# aggregate list

AGGREGATES = [
    {"instance_id": INSTANCE_ID, "name": "web-1", "project_id": "bc1d",
     "host_id": "19ca7128", "series": 1, "unit": "%", "value": 87.5,
     "timestamp": "2026-11-28T02:06:50Z"},
    {"instance_id": INSTANCE2["id"], "name": "web-2", "project_id": "bc1d",
     "host_id": "19ca7128", "series": 1, "unit": "%", "value": 12.0,
     "timestamp": "2026-11-28T02:06:50Z"},
]
AGGREGATE_HEADINGS = ("Group", "Name", "Value", "Unit", "Series")


@pytest.mark.parametrize("fmt", LIST_FORMATS)
def test_aggregate_list(api, osc, fmt):
    m = api.get(ENDPOINT + "/v1/aggregates", json={
        "aggregates": AGGREGATES, "aggregation": "mean",
        "group_by": "instance", "metric": "cpu_util",
        "aggregates_links": links("/v1/aggregates?metric=cpu_util")})
    rc, out, err = osc("vmmon", "aggregate", "list", "--metric", "cpu_util",
                       "--limit", "2", "--ascending", "-f", fmt)
    assert rc == 0, err
    assert m.last_request.qs == {"metric": ["cpu_util"], "limit": ["2"],
                                 "sort": ["value:asc"]}
    rows = [{"Group": a["instance_id"], "Name": a["name"],
             "Value": a["value"], "Unit": a["unit"], "Series": a["series"]}
            for a in AGGREGATES]
    if fmt == "value":
        assert out.splitlines() == [
            INSTANCE_ID + " web-1 87.5 % 1",
            INSTANCE2["id"] + " web-2 12.0 % 1"]
        return
    check_list(fmt, out, AGGREGATE_HEADINGS, rows)


def test_aggregate_list_by_host_is_refused_for_a_member(api, osc):
    api.get(ENDPOINT + "/v1/aggregates", status_code=403, json=error(
        403, "vmmon.forbidden", "Forbidden",
        "Only a cloud administrator or reader may group or filter by host."))
    rc, out, err = osc("vmmon", "aggregate", "list", "--metric", "cpu_util",
                       "--group-by", "host")
    assert rc == 1 and err.count("\n") == 1, err
    assert "group or filter by host" in err and "HTTP 403" in err
