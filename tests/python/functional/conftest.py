"""What the functional tests of python-vmmonclient run against.

* ``aio``: the all-in-one of ``make run`` (no authentication) on a free
  port, reading the bed's libvirt test driver of 200 domains.
* ``stack``: vmmon as deployed: vmmon-api with Keystone authentication,
  vmmon-collector and a vmmon-agent reading the bed's QEMU guest (project
  demo), on a keyspace of the bed's Cassandra and an exchange and queues of
  the bed's RabbitMQ of this run's own (dropped at the end), listening to
  the bed's Nova; registered in the bed's Keystone catalog by
  ``vmmon-manage service register`` and removed again at the end.
* ``osc``: the ``openstack`` command of the virtual environment
  (tests/python/setup.sh), as a user of the bed.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time
import uuid

import pytest

from testbed import (Proc, Result, USERS, clean_env, delete_rabbit,
                     drop_keyspace, free_port, http_ok, load_bed,
                     openstack_path, session_of, until)
from vmmonclient.v1 import Client

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def bed() -> dict:
    return load_bed()


@pytest.fixture(scope="session")
def bins(tmp_path_factory) -> pathlib.Path:
    """vmmon's programs, built from this tree."""
    out = tmp_path_factory.mktemp("bin")
    subprocess.run(["go", "build", "-o", str(out) + "/", "./vmmon/cmd/...",
                    "./vmmon-agent/cmd/..."], cwd=REPO, check=True)
    return out


# The all-in-one

@pytest.fixture(scope="session")
def aio(bed, bins, tmp_path_factory) -> str:
    """The base URL of a vmmon-aio on the 200 test-driver domains."""
    data = tmp_path_factory.mktemp("aio")
    port = free_port()
    proc = Proc("vmmon-aio", [str(bins / "vmmon-aio"), "--data-dir",
                              str(data), "--bind", "127.0.0.1:%d" % port,
                              "--libvirt-uri",
                              bed["VMMON_LIBVIRT_TEST_URI_200"],
                              "--interval", "2s"], data)
    base = "http://127.0.0.1:%d" % port
    try:
        until("vmmon-aio serving", 30, lambda: http_ok(base + "/healthcheck")
              or proc.p.poll() is not None)
        if proc.p.poll() is not None:
            pytest.fail("vmmon-aio exited:\n" + proc.tail(), pytrace=False)
        yield base
    finally:
        proc.stop()


# vmmon as deployed

@pytest.fixture(scope="session")
def stack(bed, bins, tmp_path_factory):
    """vmmon-api (Keystone), vmmon-collector and vmmon-agent; yields a dict
    with base, agent_host, guest, log."""
    run = "pyclient-%s" % uuid.uuid4().hex[:8]
    d = tmp_path_factory.mktemp("stack")
    port = free_port()
    host, _, cport = bed["VMMON_CASSANDRA_HOSTS"].split(",")[0].partition(":")
    exchange = "vmmon-" + run
    queues = {"agent_queue": run + ".agent",
              "notification_queue": run + ".notifications",
              "parking_queue": run + ".parked"}
    agent_host = run
    keyspace = "vmmon_pyclient_" + run.split("-")[1]
    cfg = d / "vmmon.conf"
    cfg.write_text(
        "[DEFAULT]\ntransport_url = %(url)s\ncontrol_exchange = %(ex)s\n"
        "[api]\nbind_host = 127.0.0.1\nbind_port = %(port)d\n"
        "[storage]\ndriver = cassandra\n"
        "[cassandra]\nhosts = %(chost)s\nport = %(cport)s\n"
        "keyspace = %(ks)s\nconsistency = ONE\n"
        "[keystone_authtoken]\nauth_url = %(kurl)s\nusername = vmmon\n"
        "password = %(pw)s\nproject_name = service\n"
        "[collector]\nagent_queue = %(aq)s\nnotification_queue = %(nq)s\n"
        "parking_queue = %(pq)s\nrollup_interval = 2\n"
        "[nova]\naction_timeout = 180\n"
        "[agent]\nlibvirt_uri = %(luri)s\ninterval = 2\nhost = %(ahost)s\n"
        "spool_dir = %(spool)s\n" % {
            "url": bed["VMMON_TRANSPORT_URL"], "ex": exchange, "port": port,
            "chost": host, "cport": cport or "9042", "ks": keyspace,
            "kurl": bed["VMMON_KEYSTONE_URL"],
            "pw": bed["VMMON_TEST_PASSWORD"], "aq": queues["agent_queue"],
            "nq": queues["notification_queue"],
            "pq": queues["parking_queue"],
            "luri": bed["VMMON_LIBVIRT_URI"], "ahost": agent_host,
            "spool": d / "spool"})
    procs = []
    base = "http://127.0.0.1:%d" % port
    try:
        for attempt in range(3):  # a loaded Cassandra may time out a DDL
            sync = subprocess.run([str(bins / "vmmon-manage"),
                                   "--config-file", str(cfg), "db", "sync"],
                                  capture_output=True, text=True)
            if sync.returncode == 0:
                break
            time.sleep(5)
        else:
            pytest.fail("vmmon-manage db sync: %s%s" % (sync.stdout,
                                                        sync.stderr),
                        pytrace=False)
        procs.append(Proc("vmmon-collector", [str(bins / "vmmon-collector"),
                                              "--config-file", str(cfg)], d))
        procs.append(Proc("vmmon-api", [str(bins / "vmmon-api"),
                                        "--config-file", str(cfg)], d))
        until("vmmon-api answering /healthcheck", 60,
              lambda: http_ok(base + "/healthcheck") or
              any(p.p.poll() is not None for p in procs))
        for p in procs:
            if p.p.poll() is not None:
                pytest.fail("%s exited:\n%s" % (p.name, p.tail()),
                            pytrace=False)
        time.sleep(2)  # the collector declares and binds its queues
        procs.append(Proc("vmmon-agent", [str(bins / "vmmon-agent"),
                                          "--config-file", str(cfg)], d))
        yield {"base": base, "agent_host": agent_host,
               "guest": bed["VMMON_GUEST_UUID"], "procs": procs, "dir": d}
    finally:
        for p in reversed(procs):
            p.stop()
        delete_rabbit(bed, [exchange, queues["parking_queue"] + ".exchange"],
                      list(queues.values()))
        drop_keyspace(bed, keyspace)


@pytest.fixture(scope="session")
def catalog(bed, bins, stack):
    """vm-monitor registered in the bed's Keystone at stack's vmmon-api;
    the service (and so its endpoints) deleted at the end."""
    env = dict(os.environ, OS_AUTH_URL=bed["VMMON_KEYSTONE_URL"],
               OS_USERNAME="admin",
               OS_PASSWORD=bed["VMMON_KEYSTONE_ADMIN_PASSWORD"],
               OS_PROJECT_NAME="admin", OS_USER_DOMAIN_NAME="Default",
               OS_PROJECT_DOMAIN_NAME="Default")
    out = subprocess.run([str(bins / "vmmon-manage"), "service", "register",
                          "--public-url", stack["base"], "--region",
                          "RegionOne"], env=env, check=True,
                         capture_output=True, text=True).stdout
    service_id = out.split()[1] if out.startswith("service ") else None
    try:
        yield stack
    finally:
        if service_id:
            s = session_of(bed, "admin")
            s.delete(bed["VMMON_KEYSTONE_URL"] + "/services/" + service_id,
                     raise_exc=False)


@pytest.fixture(scope="session")
def clients(bed, catalog):
    """A vmmonclient.v1.Client per user of the bed, through the catalog."""
    return {u: Client(session=session_of(bed, u), region_name="RegionOne")
            for u in USERS}


@pytest.fixture(scope="session")
def guest_known(clients, stack):
    """The bed's QEMU guest as the collector knows it, with raw points."""
    guest = stack["guest"]
    c = clients["demo-member"]

    def ready():
        c.instances.get(guest)
        pts = c.measures.get(guest, "cpu_util", granularity="raw")
        return any(s.get("points") for s in pts.get("series") or [])

    until("the guest and its cpu_util points in vmmon", 60, ready, 1)
    return guest


# The openstack command

@pytest.fixture(scope="session")
def osc(bed, tmp_path_factory):
    """osc(user, *argv): run ``openstack *argv`` as a user of the bed (OS_*
    variables; demo-reader through clouds.yaml and OS_CLOUD), or without
    authentication when user is a URL (--os-auth-type none)."""
    exe = openstack_path()
    cfgdir = tmp_path_factory.mktemp("clouds")
    clouds = cfgdir / "clouds.yaml"
    clouds.write_text(json.dumps({"clouds": {"bed-reader": {
        "auth": {"auth_url": bed["VMMON_KEYSTONE_URL"],
                 "username": "demo-reader",
                 "password": bed["VMMON_TEST_PASSWORD"],
                 "project_name": "demo", "user_domain_name": "Default",
                 "project_domain_name": "Default"},
        "region_name": "RegionOne", "identity_api_version": 3}}}))

    def run(user: str, *argv: str, timeout: float = 300) -> Result:
        env = clean_env()
        pre = []
        if user.startswith("http"):
            pre = ["--os-auth-type", "none", "--os-endpoint", user]
        elif user == "demo-reader":
            env.update(OS_CLIENT_CONFIG_FILE=str(clouds),
                       OS_CLOUD="bed-reader")
        else:
            project, pw = USERS[user]
            env.update(OS_AUTH_URL=bed["VMMON_KEYSTONE_URL"],
                       OS_USERNAME=user, OS_PASSWORD=bed[pw],
                       OS_PROJECT_NAME=project,
                       OS_USER_DOMAIN_NAME="Default",
                       OS_PROJECT_DOMAIN_NAME="Default",
                       OS_REGION_NAME="RegionOne", OS_INTERFACE="public",
                       OS_IDENTITY_API_VERSION="3")
        full = pre + list(argv)
        p = subprocess.run([exe] + full, env=env, capture_output=True,
                           text=True, timeout=timeout)
        return Result(full, p)

    return run
