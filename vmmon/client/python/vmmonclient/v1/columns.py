"""How the commands lay out the API's resources in cliff's formats.

Lists name their columns as OSC does ("ID", "Power State"); ``show``
commands use the API's own field names. Timestamps are shown as the API
sends them.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

from cliff import columns
from osc_lib.cli import format_columns

# (heading, field) pairs.
Layout = Sequence[Tuple[str, str]]


class MetricsColumn(columns.FormattableColumn):
    """Latest values: one line per metric for people, the list for machines."""

    def human_readable(self) -> str:
        lines = []
        for m in self._value or []:
            name = m.get("name", "")
            if m.get("device"):
                name += " (%s)" % m["device"]
            unit = m.get("unit") or ""
            lines.append("%s = %s%s at %s" % (
                name, _number(m.get("last_value")),
                " " + unit if unit else "", m.get("last_timestamp", "")))
        return "\n".join(lines)

    def machine_readable(self) -> Any:
        return list(self._value or [])


_FORMATTERS = {
    "ips": format_columns.ListColumn,
    "heartbeat": format_columns.DictColumn,
    "latest": MetricsColumn,
}


def _number(v: Any) -> str:
    if isinstance(v, float):
        return ("%.3f" % v).rstrip("0").rstrip(".")
    return "" if v is None else str(v)


def value(item: Mapping[str, Any], field: str, missing: Any = None) -> Any:
    """item's field, formatted for cliff; missing when absent or null."""
    v = item.get(field)
    fmt = _FORMATTERS.get(field)
    if fmt is not None and v is not None:
        return fmt(v)
    return missing if v is None else v


def rows(layout: Layout, items: Iterable[Mapping[str, Any]]
         ) -> Tuple[List[str], List[Tuple[Any, ...]]]:
    """A Lister's (headings, rows) of items in layout; a field an item
    lacks is empty."""
    headings = [h for h, _ in layout]
    return headings, [tuple(value(i, f, "") for _, f in layout)
                      for i in items]


def show(item: Mapping[str, Any]) -> Tuple[Tuple[str, ...], Tuple[Any, ...]]:
    """A ShowOne's (fields, values) of item: the fields it has, by name,
    values as sent (null stays null)."""
    fields = tuple(sorted(item))
    return fields, tuple(value(item, f) for f in fields)


def flatten_instance(detail: Mapping[str, Any]) -> Dict[str, Any]:
    """``GET /v1/instances/{id}`` as one mapping for ``instance show``."""
    out: Dict[str, Any] = dict(detail.get("instance") or {})
    for k, v in (detail.get("agent") or {}).items():
        out["agent_" + k] = v
    out["data_stale"] = detail.get("data_stale")
    out["latest"] = detail.get("latest") or []
    return out
