"""Fleet views: ``/v1/aggregates`` and ``/v1/aggregates/measures``."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional

from vmmonclient.v1 import base


def _params(metric: str, **kw: Any) -> Dict[str, Any]:
    params: Dict[str, Any] = {"metric": metric}
    for key, value in kw.items():
        if value is None or value is False:
            continue
        params[key] = "true" if value is True else value
    return params


class AggregateManager(base.Manager):
    """One value (or series) per instance, host or project."""

    def list(self, metric: str, *, aggregation: Optional[str] = None,
             group_by: Optional[str] = None, start: Optional[str] = None,
             end: Optional[str] = None, sort: Optional[str] = None,
             limit: Optional[int] = None, project_id: Optional[str] = None,
             all_projects: bool = False, host: Optional[str] = None,
             state: Optional[str] = None, flavor: Optional[str] = None
             ) -> Iterator[Dict[str, Any]]:
        """Yield one value per group, by value (descending unless ``sort``
        is ``value:asc``); ``limit`` makes it a top-N. Without ``start``
        and ``end`` the groups fold their latest values."""
        params = _params(
            metric, aggregation=aggregation, group_by=group_by, start=start,
            end=end, sort=sort, project_id=project_id,
            all_projects=all_projects, host=host, state=state, flavor=flavor)
        return self.http.paginate("/v1/aggregates", "aggregates",
                                  params=params, limit=limit)

    def measures(self, metric: str, *, aggregation: Optional[str] = None,
                 group_by: Optional[str] = None,
                 granularity: Optional[int] = None,
                 start: Optional[str] = None, end: Optional[str] = None,
                 sort: Optional[str] = None, limit: Optional[int] = None,
                 project_id: Optional[str] = None, all_projects: bool = False,
                 host: Optional[str] = None, state: Optional[str] = None,
                 flavor: Optional[str] = None) -> List[Dict[str, Any]]:
        """The groups as series of points (``points`` in each group)."""
        return list(self.http.paginate(
            "/v1/aggregates/measures", "aggregates", params=_params(
                metric, aggregation=aggregation, group_by=group_by,
                granularity=granularity, start=start, end=end, sort=sort,
                project_id=project_id, all_projects=all_projects, host=host,
                state=state, flavor=flavor), limit=limit))
