"""A Server-Sent Events parser (the WHATWG event-stream format)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Iterator, Optional


@dataclasses.dataclass
class ServerSentEvent:
    """One event of a text/event-stream."""

    event: str = "message"
    data: str = ""
    id: Optional[str] = None
    retry: Optional[int] = None

    def json(self) -> Any:
        """The event's data, decoded as JSON."""
        return json.loads(self.data)


def parse(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """Yield the events of a stream given as chunks of bytes, as they end.

    A ``retry:`` line alone (as vmmon sends first) makes an event with no
    data, so that a caller sees the reconnection delay.
    """
    event, data, last_id, retry = "", [], None, None
    pending = False
    for text in _lines(chunks):
        if text == "":
            if pending:
                yield ServerSentEvent(event=event or "message",
                                      data="\n".join(data), id=last_id,
                                      retry=retry)
            event, data, retry, pending = "", [], None, False
            continue
        if text.startswith(":"):
            continue
        field, _, value = text.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event, pending = value, True
        elif field == "data":
            data.append(value)
            pending = True
        elif field == "id":
            if "\0" not in value:
                last_id = value
            pending = True
        elif field == "retry":
            if value.isdigit():
                retry, pending = int(value), True


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of a stream given in chunks, without their line ends."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        while True:
            line, sep, rest = _split_line(buf)
            if sep is None:
                break
            buf = rest
            yield line.decode("utf-8", errors="replace")
    if buf.endswith(b"\r"):
        yield buf[:-1].decode("utf-8", errors="replace")


def _split_line(buf: bytes):
    """Split buf at its first line end (CRLF, LF or CR); sep is None when
    buf holds no complete line yet."""
    lf, cr = buf.find(b"\n"), buf.find(b"\r")
    if cr == -1 or (lf != -1 and lf < cr):
        if lf == -1:
            return buf, None, b""
        return buf[:lf], b"\n", buf[lf + 1:]
    if cr + 1 == len(buf):
        return buf, None, b""  # perhaps CRLF: wait for the next byte
    end = cr + 2 if buf[cr + 1:cr + 2] == b"\n" else cr + 1
    return buf[:cr], b"\r", buf[end:]
