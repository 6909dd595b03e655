"""The test bed as the functional tests of python-vmmonclient see it:
bed.env, vmmon's programs, users, RabbitMQ clean-up, the openstack command.
(The fixtures built on these are in conftest.py.)"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import pytest

from vmmonclient import exceptions

BED = pathlib.Path(os.environ.get("VMMON_BED", "/var/tmp/vmmon-bed"))


def load_bed() -> dict:
    path = BED / "bed.env"
    if not path.exists():
        pytest.fail("test bed not started (no %s): run tests/bed/up.sh or "
                    "make test" % path, pytrace=False)
    env = {}
    for line in path.read_text().splitlines():
        k, sep, v = line.partition("=")
        if sep:
            env[k] = v
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(what: str, secs: float, fn, interval: float = 0.5):
    """Poll fn until it returns something true; fail after secs."""
    deadline = time.monotonic() + secs
    last = None
    while time.monotonic() < deadline:
        try:
            got = fn()
            if got:
                return got
        except Exception as e:  # noqa: B902 - kept for the failure message
            last = e
        time.sleep(interval)
    pytest.fail("%s: not within %gs (last error: %r)" % (what, secs, last),
                pytrace=False)


class Proc:
    """A program of vmmon's, its log in a file."""

    def __init__(self, name: str, argv: list, logdir: pathlib.Path):
        self.name = name
        self.log = logdir / (name + ".log")
        self._f = open(self.log, "wb")
        self.p = subprocess.Popen(argv, stdout=self._f,
                                  stderr=subprocess.STDOUT)

    def tail(self, n: int = 30) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._f.close()


def http_ok(url: str) -> bool:
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def keystone_session(bed: dict, user: str, project: str,
                     password: str | None = None) -> ks_session.Session:
    auth = v3.Password(auth_url=bed["VMMON_KEYSTONE_URL"], username=user,
                       password=password or bed["VMMON_TEST_PASSWORD"],
                       project_name=project, user_domain_name="Default",
                       project_domain_name="Default")
    return ks_session.Session(auth=auth)


USERS = {
    # name: (project, password key in bed.env)
    "demo-member": ("demo", "VMMON_TEST_PASSWORD"),
    "demo-reader": ("demo", "VMMON_TEST_PASSWORD"),
    "alt-member": ("alt-demo", "VMMON_TEST_PASSWORD"),
    "admin": ("admin", "VMMON_KEYSTONE_ADMIN_PASSWORD"),
}


def session_of(bed: dict, user: str) -> ks_session.Session:
    project, pw = USERS[user]
    return keystone_session(bed, user, project, bed[pw])


def delete_rabbit(bed: dict, exchanges: list, queues: list):
    import kombu
    url = bed["VMMON_TRANSPORT_URL"].replace("rabbit://", "amqp://", 1)
    with kombu.Connection(url) as conn:
        ch = conn.channel()
        for q in queues:
            try:
                ch.queue_delete(q)
            except Exception:  # noqa: B902 - best effort
                ch = conn.channel()
        for e in exchanges:
            try:
                ch.exchange_delete(e)
            except Exception:  # noqa: B902 - best effort
                ch = conn.channel()


def drop_keyspace(bed: dict, keyspace: str):
    """Drop a keyspace of the bed's Cassandra (Debian's python3-cassandra)."""
    import logging
    from cassandra.cluster import Cluster
    logging.getLogger("cassandra").setLevel(logging.ERROR)
    host, _, port = bed["VMMON_CASSANDRA_HOSTS"].split(",")[0].partition(":")
    cluster = Cluster([host], port=int(port or 9042))
    try:
        cluster.connect().execute("DROP KEYSPACE IF EXISTS %s" % keyspace,
                                  timeout=60)
    finally:
        cluster.shutdown()


def openstack_path() -> str:
    here = pathlib.Path(sys.prefix) / "bin" / "openstack"
    if here.exists():
        return str(here)
    found = shutil.which("openstack")
    if not found:
        pytest.fail("no openstack command: run tests/python/setup.sh",
                    pytrace=False)
    return found


class Result:
    def __init__(self, argv, p):
        self.argv, self.rc, self.out, self.err = argv, p.returncode, \
            p.stdout, p.stderr

    def json(self):
        assert self.rc == 0, self
        return json.loads(self.out)

    def __repr__(self):
        return "openstack %s -> %d\nstdout: %s\nstderr: %s" % (
            " ".join(self.argv), self.rc, self.out, self.err)


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("OS_")}


def still_missing(client, instance_id) -> bool:
    try:
        client.instances.get(instance_id)
        return False
    except exceptions.NotFound:
        return True
