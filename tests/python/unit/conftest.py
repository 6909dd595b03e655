"""Fixtures of the unit tests: a client on canned answers (requests-mock)."""

from keystoneauth1 import fixture as ks_fixture
from keystoneauth1.identity import v3
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
import pytest
import requests_mock as rm

from canned import ENDPOINT, KEYSTONE
from vmmonclient.v1 import Client


@pytest.fixture
def api():
    """requests-mock, answering every request unless told otherwise."""
    with rm.Mocker() as m:
        yield m


@pytest.fixture
def client(api):
    """A client without Keystone (noauth), on ENDPOINT."""
    return Client(session=ks_session.Session(auth=noauth.NoAuth()),
                  endpoint_override=ENDPOINT)


def token_with_catalog():
    """A Keystone token whose catalog has vm-monitor in two regions."""
    token = ks_fixture.V3Token()
    token.set_project_scope()
    svc = token.add_service("vm-monitor", name="vmmon")
    svc.add_standard_endpoints(public="http://public.one:8780",
                               internal="http://internal.one:8780/v1/",
                               admin="http://admin.one:8780",
                               region="RegionOne")
    svc = token.add_service("vm-monitor", name="vmmon")
    svc.add_standard_endpoints(public="http://public.two:8780/",
                               internal="http://internal.two:8780",
                               region="RegionTwo")
    return token


@pytest.fixture
def keystone_session(api):
    """A password session whose token (from a canned Keystone) has a
    catalog."""
    api.post(KEYSTONE + "/auth/tokens", json=token_with_catalog(),
             headers={"X-Subject-Token": "the-token"})
    auth = v3.Password(auth_url=KEYSTONE, username="demo", password="pw",
                       project_name="demo", user_domain_id="default",
                       project_domain_id="default")
    return ks_session.Session(auth=auth)
