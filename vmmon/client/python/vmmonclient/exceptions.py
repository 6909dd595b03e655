"""Exceptions raised by python-vmmonclient.

Every exception derives from :class:`ClientException`. An error answer of
the API raises the :class:`HttpError` subclass of its status
(:class:`NotFound` for 404, ...), carrying the API-SIG error body
(``{"errors": [{"request_id", "code", "status", "title", "detail"}]}``)::

    try:
        client.instances.get(instance_id)
    except exceptions.NotFound as e:
        print(e.code, e.detail, e.request_id)

``str()`` of any of them is one line a person can act on.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type

import requests


class ClientException(Exception):
    """The base of every exception python-vmmonclient raises."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return " ".join(str(self.message).split())


class EndpointNotFound(ClientException):
    """No vm-monitor endpoint in the catalog, and no endpoint_override."""


class ServiceUnreachable(ClientException):
    """vmmon's endpoint did not answer (refused, timed out, TLS failed)."""


class UnsupportedVersion(ClientException):
    """The server and this client share no API microversion."""


class WaitTimeout(ClientException):
    """An action did not settle within the time given to wait for it."""


class StreamError(ClientException):
    """The live stream ended with an ``error`` event (the client fell
    behind)."""


class HttpError(ClientException):
    """An error answer of the API.

    :ivar http_status: the HTTP status
    :ivar code: the API's error code (``vmmon.query.unknown_parameter``, ...)
    :ivar title: the status's title
    :ivar detail: what went wrong and what to change, as the API says it
    :ivar request_id: the ``x-openstack-request-id`` of the answer
    :ivar errors: every error of the body, as sent
    """

    http_status: int = 0
    hint: str = ""

    def __init__(self, message: str = "", *, http_status: Optional[int] = None,
                 code: str = "", title: str = "", detail: str = "",
                 request_id: Optional[str] = None,
                 errors: Optional[List[Dict[str, Any]]] = None,
                 method: Optional[str] = None, url: Optional[str] = None,
                 response: Optional[requests.Response] = None) -> None:
        if http_status is not None:
            self.http_status = http_status
        self.code = code
        self.title = title
        self.detail = detail
        self.request_id = request_id
        self.errors = errors or []
        self.method = method
        self.url = url
        self.response = response
        super().__init__(message or self._compose())

    def _compose(self) -> str:
        title = self.title or type(self).__name__
        if self.detail:
            text = "%s: %s" % (title, self.detail.rstrip("."))
        elif self.http_status >= 500:
            text = ("%s: vmmon could not answer; its log has the details "
                    "under the request id" % title)
        else:
            text = title
        if self.hint:
            text += " (%s)" % self.hint
        text += " (HTTP %d" % self.http_status
        if self.code:
            text += ", %s" % self.code
        text += ")"
        if self.request_id:
            text += " (Request-ID: %s)" % self.request_id
        return text


class BadRequest(HttpError):
    http_status = 400


class Unauthorized(HttpError):
    http_status = 401
    hint = "the token was refused: check the credentials, or get a new token"


class Forbidden(HttpError):
    http_status = 403


class NotFound(HttpError):
    http_status = 404


class MethodNotAllowed(HttpError):
    http_status = 405


class NotAcceptable(HttpError):
    http_status = 406


class Conflict(HttpError):
    http_status = 409


class UnprocessableEntity(HttpError):
    http_status = 422


class TooManyRequests(HttpError):
    http_status = 429


class InternalServerError(HttpError):
    http_status = 500


class BadGateway(HttpError):
    http_status = 502


class ServiceUnavailable(HttpError):
    http_status = 503


class GatewayTimeout(HttpError):
    http_status = 504


_BY_STATUS: Dict[int, Type[HttpError]] = {
    c.http_status: c for c in (
        BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed,
        NotAcceptable, Conflict, UnprocessableEntity, TooManyRequests,
        InternalServerError, BadGateway, ServiceUnavailable, GatewayTimeout)
}


def from_response(response: requests.Response, method: Optional[str] = None,
                  url: Optional[str] = None) -> HttpError:
    """Return the exception of an error answer (status 400 and above)."""
    status = response.status_code
    request_id = response.headers.get("x-openstack-request-id")
    errors: List[Dict[str, Any]] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        errors = [e for e in body["errors"] if isinstance(e, dict)]
    first = errors[0] if errors else {}
    detail = str(first.get("detail") or "")
    if not errors and status < 500:
        # Not the API-SIG body (a proxy in between, say): keep a little of it.
        text = " ".join((response.text or "").split())
        detail = text[:200]
    cls = _BY_STATUS.get(status, HttpError)
    return cls(http_status=status, code=str(first.get("code") or ""),
               title=str(first.get("title") or response.reason or ""),
               detail=detail,
               request_id=str(first.get("request_id") or request_id or "")
               or None,
               errors=errors, method=method, url=url, response=response)
