"""What every resource manager of the v1 client shares."""

from __future__ import annotations

from urllib import parse

from vmmonclient import httpclient


class Manager:
    """A resource's calls, sent through the client's HTTPClient."""

    def __init__(self, http: httpclient.HTTPClient) -> None:
        self.http = http


def quote(segment: str) -> str:
    """One path segment, escaped."""
    if not segment:
        raise ValueError("an empty identifier cannot name a resource")
    return parse.quote(str(segment), safe="")
