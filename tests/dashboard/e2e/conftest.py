"""What the end-to-end test of vmmon-dashboard runs against.

* ``stack``: vmmon as deployed (vmmon-api with Keystone authentication,
  vmmon-collector, and a vmmon-agent as the bed's libvirt compute host,
  reading the QEMU guests of the bed's libvirtd), on a keyspace, an exchange
  and queues of this run's own, registered in the bed's Keystone catalog as
  ``vm-monitor`` and removed at the end (the fixtures of python-vmmonclient's
  functional tests, tests/python/functional/testbed.py, do the same).
* ``server``: a server that demo-member boots in the bed's Nova on its
  libvirt compute host (a real QEMU guest), deleted at the end.
* ``horizon``: Debian's openstack-dashboard with vmmon-dashboard's enabled
  files, served by Django's runserver on loopback with settings of its own.
* ``browser``: headless Chromium driven by Selenium (Debian's chromium,
  chromium-driver and python3-selenium).
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "python" / "functional"))

from testbed import (BED, Proc, delete_rabbit, drop_keyspace,  # noqa: E402
                     free_port, http_ok, load_bed, session_of, until)
from vmmonclient.v1 import Client  # noqa: E402

SHOTS = pathlib.Path(os.environ.get("VMMON_DASHBOARD_SHOTS",
                                    BED / "dashboard-shots"))
SERVER_NAME = "vmmon-dashboard-e2e"


@pytest.fixture(scope="session")
def bed() -> dict:
    return load_bed()


@pytest.fixture(scope="session")
def shots() -> pathlib.Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    return SHOTS


@pytest.fixture(scope="session")
def bins(tmp_path_factory) -> pathlib.Path:
    """vmmon's programs, built from this tree (or those in
    $VMMON_DASHBOARD_BIN, when set)."""
    given = os.environ.get("VMMON_DASHBOARD_BIN")
    if given:
        return pathlib.Path(given)
    out = tmp_path_factory.mktemp("bin")
    subprocess.run(["go", "build", "-o", str(out) + "/",
                    "./vmmon/cmd/vmmon-api", "./vmmon/cmd/vmmon-collector",
                    "./vmmon/cmd/vmmon-manage", "./vmmon-agent/cmd/..."],
                   cwd=REPO, check=True)
    return out


@pytest.fixture(scope="session")
def stack(bed, bins, tmp_path_factory):
    run = "dash-%s" % uuid.uuid4().hex[:8]
    d = tmp_path_factory.mktemp("stack")
    port = free_port()
    host, _, cport = bed["VMMON_CASSANDRA_HOSTS"].split(",")[0].partition(":")
    exchange = "vmmon-" + run
    queues = [run + ".agent", run + ".notifications", run + ".parked"]
    keyspace = "vmmon_dash_" + run.split("-")[1]
    agent_host = bed["VMMON_NOVA_LIBVIRT_HOST"]
    cfg = d / "vmmon.conf"
    cfg.write_text(
        "[DEFAULT]\ntransport_url = %(url)s\ncontrol_exchange = %(ex)s\n"
        "[api]\nbind_host = 127.0.0.1\nbind_port = %(port)d\n"
        "[storage]\ndriver = cassandra\n"
        "[cassandra]\nhosts = %(chost)s\nport = %(cport)s\n"
        "keyspace = %(ks)s\nconsistency = ONE\n"
        "[keystone_authtoken]\nauth_url = %(kurl)s\nusername = vmmon\n"
        "password = %(pw)s\nproject_name = service\n"
        "[collector]\nagent_queue = %(q0)s\nnotification_queue = %(q1)s\n"
        "parking_queue = %(q2)s\nrollup_interval = 2\n"
        "[nova]\naction_timeout = 180\n"
        "[agent]\nlibvirt_uri = %(luri)s\ninterval = 2\nhost = %(ahost)s\n"
        "spool_dir = %(spool)s\n" % {
            "url": bed["VMMON_TRANSPORT_URL"], "ex": exchange, "port": port,
            "chost": host, "cport": cport or "9042", "ks": keyspace,
            "kurl": bed["VMMON_KEYSTONE_URL"],
            "pw": bed["VMMON_TEST_PASSWORD"], "q0": queues[0],
            "q1": queues[1], "q2": queues[2],
            "luri": bed["VMMON_LIBVIRT_URI"], "ahost": agent_host,
            "spool": d / "spool"})
    procs = []
    base = "http://127.0.0.1:%d" % port
    service_id = None
    try:
        for _attempt in range(3):  # a loaded Cassandra may time out a DDL
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
        env = dict(os.environ, OS_AUTH_URL=bed["VMMON_KEYSTONE_URL"],
                   OS_USERNAME="admin",
                   OS_PASSWORD=bed["VMMON_KEYSTONE_ADMIN_PASSWORD"],
                   OS_PROJECT_NAME="admin", OS_USER_DOMAIN_NAME="Default",
                   OS_PROJECT_DOMAIN_NAME="Default")
        out = subprocess.run([str(bins / "vmmon-manage"), "service",
                              "register", "--public-url", base, "--region",
                              "RegionOne"], env=env, check=True,
                             capture_output=True, text=True).stdout
        if out.startswith("service "):
            service_id = out.split()[1]
        yield {"base": base, "agent_host": agent_host, "dir": d,
               "guest": bed["VMMON_GUEST_UUID"],
               "procs": {p.name: p for p in procs}}
    finally:
        if service_id:
            session_of(bed, "admin").delete(
                bed["VMMON_KEYSTONE_URL"] + "/services/" + service_id,
                raise_exc=False)
        for p in reversed(procs):
            p.stop()
        delete_rabbit(bed, [exchange, queues[2] + ".exchange"], queues)
        drop_keyspace(bed, keyspace)


@pytest.fixture(scope="session")
def clients(bed, stack):
    """vmmonclient.v1.Client per user, straight to this run's vmmon-api."""
    return {u: Client(session=session_of(bed, u),
                      endpoint_override=stack["base"])
            for u in ("demo-member", "demo-reader", "alt-member", "admin")}


class Nova:
    """The bed's Nova as demo-member (compute API, microversion 2.37)."""

    def __init__(self, bed):
        self.s = session_of(bed, "demo-member")
        self.url = bed["VMMON_NOVA_URL"]
        self.h = {"OpenStack-API-Version": "compute 2.37",
                  "X-OpenStack-Nova-API-Version": "2.37"}

    def get(self, path, **kw):
        return self.s.get(self.url + path, headers=self.h, raise_exc=False,
                          **kw)

    def server(self, sid):
        r = self.get("/servers/" + sid)
        return r.json()["server"] if r.status_code == 200 else None

    def delete(self, sid):
        self.s.delete(self.url + "/servers/" + sid, headers=self.h,
                      raise_exc=False)


@pytest.fixture(scope="session")
def nova(bed):
    return Nova(bed)


@pytest.fixture(scope="session")
def server(bed, nova, stack):
    """A server demo-member boots on the libvirt compute host, ACTIVE."""
    for s in nova.get("/servers", params={"name": "^%s$" % SERVER_NAME}
                      ).json().get("servers", []):
        nova.delete(s["id"])  # left by an interrupted run
    r = nova.s.post(nova.url + "/servers", headers=nova.h, json={"server": {
        "name": SERVER_NAME, "imageRef": bed["VMMON_NOVA_LIBVIRT_IMAGE_ID"],
        "flavorRef": bed["VMMON_NOVA_LIBVIRT_FLAVOR_ID"],
        "availability_zone": bed["VMMON_NOVA_LIBVIRT_AZ"],
        "networks": [{"uuid": bed["VMMON_NOVA_NETWORK_ID"]}]}},
        raise_exc=False)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    try:
        def active():
            sv = nova.server(sid)
            if sv and sv["status"] == "ERROR":
                pytest.fail("server in ERROR: %s" % sv.get("fault"),
                            pytrace=False)
            return sv and sv["status"] == "ACTIVE"
        until("the server ACTIVE", 180, active, 1)
        yield sid
    finally:
        nova.delete(sid)


HORIZON_SETTINGS = '''
import os

import openstack_dashboard.local.enabled as _local_enabled
import vmmon_dashboard.enabled as _vmmon_enabled

# vmmon-dashboard's enabled files, as if copied into local/enabled.
_local_enabled.__path__.append(os.path.dirname(_vmmon_enabled.__file__))

from openstack_dashboard.settings import *  # noqa

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
OPENSTACK_KEYSTONE_URL = %(keystone)r
OPENSTACK_KEYSTONE_DEFAULT_ROLE = "member"
OPENSTACK_NEUTRON_NETWORK = dict(OPENSTACK_NEUTRON_NETWORK,
                                 enable_rbac_policy=False)
HORIZON_CONFIG["user_home"] = "/project/vmmon_monitoring/"
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
CACHES = {"default": {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
COMPRESS_OFFLINE = True
'''


@pytest.fixture(scope="session")
def horizon(bed, stack, tmp_path_factory):
    d = tmp_path_factory.mktemp("horizon")
    (d / "vmmon_e2e_settings.py").write_text(HORIZON_SETTINGS % {
        "keystone": bed["VMMON_KEYSTONE_URL"]})
    port = free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="vmmon_e2e_settings",
               PYTHONPATH=str(d), PYTHONDONTWRITEBYTECODE="1")
    log = open(d / "horizon.log", "wb")
    p = subprocess.Popen([sys.executable,
                          "/usr/share/openstack-dashboard/manage.py",
                          "runserver", "--insecure", "--noreload",
                          "127.0.0.1:%d" % port], env=env, stdout=log,
                         stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:%d" % port
    try:
        until("Horizon serving its login page", 60,
              lambda: http_ok(base + "/auth/login/") or p.poll() is not None)
        if p.poll() is not None:
            pytest.fail("Horizon exited:\n%s" % (d / "horizon.log")
                        .read_text()[-3000:], pytrace=False)
        yield {"base": base, "log": d / "horizon.log"}
    finally:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
        log.close()


@pytest.fixture(scope="session")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu",
              "--disable-quic", "--no-first-run",
              "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1400,1000"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                           options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
