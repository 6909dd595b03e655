"""``vmmonclient.client.Client(version, ...)``: a client by API version."""

from __future__ import annotations

from typing import Any

from vmmonclient import exceptions
from vmmonclient.v1 import client as v1_client

_CLIENTS = {"1": v1_client.Client}


def Client(version: str = "1", *args: Any, **kwargs: Any) -> v1_client.Client:
    """The client of an API major version (``"1"``), or ``"1.x"``, which
    pins that microversion."""
    major, _, minor = str(version).partition(".")
    try:
        cls = _CLIENTS[major]
    except KeyError:
        raise exceptions.UnsupportedVersion(
            "vmmon API version %r is unknown; known: %s" % (
                version, ", ".join(sorted(_CLIENTS))))
    if minor:
        kwargs.setdefault("api_version", "%s.%s" % (major, minor))
    return cls(*args, **kwargs)
