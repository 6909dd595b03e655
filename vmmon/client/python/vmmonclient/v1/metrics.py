"""Metrics and measures of an instance."""

from __future__ import annotations

from typing import List, Optional, Union

from vmmonclient.v1 import base
from vmmonclient.v1.types import Measures, Metric

AGGREGATIONS = ("mean", "min", "max", "last", "sum", "count")


class MetricManager(base.Manager):
    """``GET /v1/instances/{id}/metrics``."""

    def list(self, instance_id: str) -> List[Metric]:
        """The instance's metrics with their latest values."""
        body = self.http.get_json(
            "/v1/instances/%s/metrics" % base.quote(instance_id))
        return body.get("metrics") or []


class MeasuresManager(base.Manager):
    """``GET /v1/instances/{id}/metrics/{name}/measures``."""

    def get(self, instance_id: str, metric: str, *,
            start: Optional[str] = None, end: Optional[str] = None,
            granularity: Union[int, str, None] = None,
            aggregation: Optional[str] = None, device: Optional[str] = None,
            all_devices: bool = False) -> Measures:
        """Points of one metric between two times, one series per device.

        :param start: ISO 8601 (the API's default: an hour ago)
        :param end: ISO 8601 (default: now)
        :param granularity: ``"raw"``, or seconds as a multiple of 60
            (default 60)
        :param aggregation: one of :data:`AGGREGATIONS` (default mean)
        :param device: one device's series (``vda``, ``tap...``)
        :param all_devices: a series for each device
        """
        params = {"start": start, "end": end, "granularity": granularity,
                  "aggregation": aggregation, "device": device,
                  "all_devices": True if all_devices else None}
        body = self.http.get_json(
            "/v1/instances/%s/metrics/%s/measures" % (
                base.quote(instance_id), base.quote(metric)), params=params)
        return body.get("measures") or {}
