"""How python-vmmonclient talks to vmmon-api: a keystoneauth1 adapter.

The adapter finds the endpoint (service type ``vm-monitor`` in the catalog,
or an endpoint override), adds the token, the microversion header
(``OpenStack-API-Version: vm-monitor X.Y``), the global request id and the
user agent; this module turns error answers into typed exceptions, keeps
each answer's ``x-openstack-request-id`` and follows ``next`` links.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, Mapping, Optional
from urllib import parse

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
import requests

import vmmonclient
from vmmonclient import exceptions

SERVICE_TYPE = "vm-monitor"
# The microversions this client knows, oldest to newest.
MIN_API_VERSION = "1.0"
MAX_API_VERSION = "1.0"
# api_version="auto" asks the server (GET /v1) and picks the newest both know.
AUTO = "auto"

LOG = logging.getLogger(__name__)


def _version_tuple(v: str) -> tuple:
    major, _, minor = v.partition(".")
    return int(major), int(minor or 0)


class HTTPClient:
    """Sends requests to vmmon-api through a keystoneauth1 session."""

    def __init__(self, session: ks_session.Session, *,
                 service_type: str = SERVICE_TYPE,
                 interface: Optional[str] = None,
                 region_name: Optional[str] = None,
                 endpoint_override: Optional[str] = None,
                 api_version: str = MAX_API_VERSION,
                 global_request_id: Optional[str] = None,
                 timeout: Optional[float] = None,
                 **adapter_options: Any) -> None:
        self.api_version = api_version
        self._adapter = adapter.Adapter(
            session, service_type=service_type, interface=interface,
            region_name=region_name, endpoint_override=endpoint_override,
            global_request_id=global_request_id,
            default_microversion=None if api_version == AUTO else api_version,
            client_name="python-vmmonclient",
            client_version=vmmonclient.__version__, raise_exc=False,
            logger=LOG, **adapter_options)
        self._timeout = timeout
        self._endpoint: Optional[str] = None
        self.last_request_id: Optional[str] = None

    # The endpoint

    @property
    def endpoint(self) -> str:
        """vmmon's root URL (without ``/v1``), found once."""
        if self._endpoint is None:
            a = self._adapter
            try:
                url = a.get_endpoint()
            except ks_exc.EndpointNotFound:
                url = None
            except ks_exc.ConnectFailure as e:
                raise exceptions.ServiceUnreachable(
                    "Could not reach Keystone to read the catalog: %s" % e)
            if not url:
                where = "interface %s" % (a.interface or "public")
                if a.region_name:
                    where += ", region %s" % a.region_name
                raise exceptions.EndpointNotFound(
                    "No %s endpoint in the catalog (%s): ask the cloud's "
                    "operator to register vmmon (vmmon-manage service "
                    "register), choose another interface or region, or give "
                    "the endpoint (--os-endpoint with --os-auth-type none, "
                    "endpoint_override in Python)" % (a.service_type, where))
            url = url.rstrip("/")
            if url.endswith("/v1"):
                url = url[:-3]
            self._endpoint = url
        return self._endpoint

    def url(self, path: str) -> str:
        """The absolute URL of path (``/v1/...``), or path if absolute."""
        if parse.urlparse(path).netloc:
            return path
        return self.endpoint + "/" + path.lstrip("/")

    # Requests

    def request(self, method: str, path: str, *,
                params: Optional[Mapping[str, Any]] = None,
                json: Any = None,
                headers: Optional[Mapping[str, str]] = None,
                stream: bool = False,
                microversion: Optional[str] = None) -> requests.Response:
        """Send one request; raise the HttpError of an error answer."""
        if self.api_version == AUTO:
            self.negotiate_version()
        url = self.url(path)
        kwargs: Dict[str, Any] = {}
        if params:
            kwargs["params"] = {k: _query_value(v) for k, v in params.items()
                                if v is not None}
        if json is not None:
            kwargs["json"] = json
        if headers:
            kwargs["headers"] = dict(headers)
        if stream:
            kwargs["stream"] = True
        if microversion:
            kwargs["microversion"] = microversion
        if self._timeout is not None:
            kwargs["timeout"] = self._timeout
        try:
            resp = self._adapter.request(url, method, **kwargs)
        except ks_exc.EndpointNotFound:
            raise exceptions.EndpointNotFound(
                "No vm-monitor endpoint in the catalog")
        except (ks_exc.ConnectFailure, ks_exc.ConnectionError) as e:
            raise exceptions.ServiceUnreachable(
                "Could not reach vmmon at %s (%s): check that vmmon-api runs "
                "there and that the endpoint is right" % (
                    self.endpoint, _reason(e)))
        self.last_request_id = resp.headers.get("x-openstack-request-id")
        if resp.status_code >= 400:
            err = exceptions.from_response(resp, method, url)
            if stream:
                resp.close()
            raise err
        return resp

    def get_json(self, path: str, *,
                 params: Optional[Mapping[str, Any]] = None) -> Any:
        """GET path and return its JSON body."""
        return self.request("GET", path, params=params).json()

    def paginate(self, path: str, key: str, *,
                 params: Optional[Mapping[str, Any]] = None,
                 limit: Optional[int] = None,
                 page_size: Optional[int] = None) -> Iterator[Dict[str, Any]]:
        """Yield the items of a collection, following its ``next`` links.

        :param key: the collection's name (``instances``); its links are
            ``<key>_links``
        :param limit: stop after this many items (default: all of them)
        :param page_size: items per request (``limit`` in the query; default
            ``limit``, else the server's)
        """
        q = dict(params or {})
        if page_size is None and limit is not None:
            page_size = limit
        if page_size is not None:
            q["limit"] = page_size
        url: Optional[str] = path
        seen = set()
        count = 0
        first = True
        while url:
            body = self.get_json(url, params=q if first else None)
            first = False
            items = body.get(key) or []
            for item in items:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            nxt = _link(body.get(key + "_links"), "next")
            if not items or not nxt or nxt in seen:
                return
            seen.add(nxt)
            url = nxt

    # Microversions

    def negotiate_version(self) -> str:
        """Pick the newest microversion both the server and this client know.

        Reads ``GET /v1`` (no token needed) and sets :attr:`api_version`.
        """
        try:
            resp = self._adapter.get(self.url("/v1"), authenticated=False)
        except (ks_exc.ConnectFailure, ks_exc.ConnectionError) as e:
            raise exceptions.ServiceUnreachable(
                "Could not reach vmmon at %s (%s)" % (
                    self.endpoint, _reason(e)))
        if resp.status_code >= 400:
            raise exceptions.from_response(resp, "GET", self.url("/v1"))
        version = resp.json().get("version") or {}
        server_min = version.get("min_version") or "1.0"
        server_max = version.get("max_version") or server_min
        if (_version_tuple(server_max) < _version_tuple(MIN_API_VERSION) or
                _version_tuple(server_min) > _version_tuple(MAX_API_VERSION)):
            raise exceptions.UnsupportedVersion(
                "vmmon serves microversions %s to %s, this client knows %s "
                "to %s: upgrade python-vmmonclient" % (
                    server_min, server_max, MIN_API_VERSION, MAX_API_VERSION))
        chosen = min(server_max, MAX_API_VERSION, key=_version_tuple)
        self.api_version = chosen
        self._adapter.default_microversion = chosen
        return chosen


def _query_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _link(links: Any, rel: str) -> Optional[str]:
    for link in links or []:
        if isinstance(link, dict) and link.get("rel") == rel:
            return link.get("href")
    return None


def _reason(e: Exception) -> str:
    """Why a connection failed, in a few words."""
    if isinstance(e, ks_exc.ConnectTimeout):
        return "timed out"
    if isinstance(e, ks_exc.SSLError):
        return "TLS failed: %s" % _short(e, 100)
    text = str(e)
    for needle, reason in (("refused", "connection refused"),
                           ("Name or service not known", "unknown host"),
                           ("Temporary failure in name resolution",
                            "unknown host"),
                           ("No route to host", "no route to host"),
                           ("timed out", "timed out")):
        if needle in text:
            return reason
    return _short(e, 160)


def _short(e: Exception, n: int) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= n else text[:n - 3] + "..."
