"""The v1 client: one object per session, a manager per resource."""

from __future__ import annotations

from typing import Any, Optional

from keystoneauth1 import session as ks_session

from vmmonclient import httpclient
from vmmonclient.v1 import actions
from vmmonclient.v1 import aggregates
from vmmonclient.v1 import events
from vmmonclient.v1 import hosts
from vmmonclient.v1 import instances
from vmmonclient.v1 import metrics
from vmmonclient.v1 import stream
from vmmonclient.v1 import versions


class Client:
    """The client of vmmon's /v1 API.

    ::

        from keystoneauth1 import loading, session
        from vmmonclient.v1 import Client

        auth = loading.get_plugin_loader("password").load_from_options(
            auth_url="https://keystone.example.org/v3", username="demo",
            password="...", project_name="demo", user_domain_name="Default",
            project_domain_name="Default")
        vmmon = Client(session=session.Session(auth=auth))
        for inst in vmmon.instances.list():
            print(inst["id"], inst["name"], inst["state"])

    :param session: a keystoneauth1 session (its auth plugin gives the token
        and the catalog)
    :param interface: which catalog endpoint (``public``, ``internal``,
        ``admin``; keystoneauth's default: public)
    :param region_name: the catalog region
    :param endpoint_override: vmmon's URL instead of the catalog's (e.g.
        ``http://127.0.0.1:8780`` with ``keystoneauth1.noauth``)
    :param api_version: the microversion to send
        (``OpenStack-API-Version: vm-monitor X.Y``), or ``"auto"`` for the
        newest both this client and the server know
    :param global_request_id: sent as ``X-OpenStack-Request-ID`` so that
        vmmon's log (and Nova's, for actions) carries the caller's id
    :param timeout: seconds for each request (the live stream: between two
        reads)
    :param adapter_options: passed to ``keystoneauth1.adapter.Adapter``
        (``connect_retries``, ``status_code_retries``, ``service_name``...)
    """

    def __init__(self, session: ks_session.Session, *,
                 interface: Optional[str] = None,
                 region_name: Optional[str] = None,
                 endpoint_override: Optional[str] = None,
                 api_version: str = httpclient.MAX_API_VERSION,
                 global_request_id: Optional[str] = None,
                 timeout: Optional[float] = None,
                 service_type: str = httpclient.SERVICE_TYPE,
                 **adapter_options: Any) -> None:
        self.http = httpclient.HTTPClient(
            session, service_type=service_type, interface=interface,
            region_name=region_name, endpoint_override=endpoint_override,
            api_version=api_version, global_request_id=global_request_id,
            timeout=timeout, **adapter_options)
        self.versions = versions.VersionManager(self.http)
        self.instances = instances.InstanceManager(self.http)
        self.metrics = metrics.MetricManager(self.http)
        self.measures = metrics.MeasuresManager(self.http)
        self.events = events.EventManager(self.http)
        self.actions = actions.ActionManager(self.http)
        self.hosts = hosts.HostManager(self.http)
        self.stream = stream.StreamManager(self.http)
        self.aggregates = aggregates.AggregateManager(self.http)
        # Alarms (/v1/alarms, design 5.1) are not in the API yet: they will
        # get a module beside hosts.py (alarms.AlarmManager), an attribute
        # here, commands beside host_cli.py and entry points in
        # pyproject.toml.

    @property
    def endpoint(self) -> str:
        """vmmon's root URL, as found in the catalog or given."""
        return self.http.endpoint

    @property
    def api_version(self) -> str:
        """The microversion the client sends."""
        return self.http.api_version

    @property
    def last_request_id(self) -> Optional[str]:
        """The ``x-openstack-request-id`` of the last answer."""
        return self.http.last_request_id

    def negotiate_version(self) -> str:
        """Pick the newest microversion both sides know, and use it."""
        return self.http.negotiate_version()
