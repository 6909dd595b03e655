"""An instance's live samples: ``GET /v1/instances/{id}/stream`` (SSE)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

from vmmonclient import exceptions
from vmmonclient import sse
from vmmonclient.v1 import base


class StreamManager(base.Manager):
    """The live stream, as an iterator.

    ::

        for sample in client.stream.samples(instance_id):
            print(sample["timestamp"], sample["metrics"])

    Closing the iterator (``break``, or ``.close()``) closes the connection.
    """

    def events(self, instance_id: str, *,
               last_event_id: Optional[str] = None
               ) -> Iterator[sse.ServerSentEvent]:
        """Yield every Server-Sent Event of the stream, as it arrives.

        vmmon sends ``sample`` events, then ``end`` (the stream's maximum
        lifetime, or the token's expiry) or ``error`` (the client fell
        behind); the iterator ends when the server closes the stream.
        """
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        resp = self.http.request(
            "GET", "/v1/instances/%s/stream" % base.quote(instance_id),
            headers=headers, stream=True)
        try:
            yield from sse.parse(resp.iter_content(chunk_size=None))
        finally:
            resp.close()

    def samples(self, instance_id: str) -> Iterator[Dict[str, Any]]:
        """Yield the data of each ``sample`` event, decoded.

        Ends quietly at an ``end`` event (reconnect for more); raises
        :class:`~vmmonclient.exceptions.StreamError` at an ``error`` event.
        """
        events = self.events(instance_id)
        try:
            for ev in events:
                if ev.event == "sample":
                    yield ev.json()
                elif ev.event == "end":
                    return
                elif ev.event == "error":
                    raise exceptions.StreamError(
                        "The live stream of instance %s ended with an error: "
                        "%s" % (instance_id, ev.data or "(no detail)"))
        finally:
            events.close()
