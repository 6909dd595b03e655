"""Instances: ``GET /v1/instances`` and ``GET /v1/instances/{id}``."""

from __future__ import annotations

from typing import Iterator, Optional, Sequence, Union

from vmmonclient.v1 import base
from vmmonclient.v1.types import Instance, InstanceDetail


class InstanceManager(base.Manager):
    """The instances vmmon knows."""

    def list(self, *, all_projects: bool = False,
             project_id: Optional[str] = None, host: Optional[str] = None,
             state: Optional[str] = None, name: Optional[str] = None,
             flavor: Optional[str] = None,
             sort: Union[str, Sequence[str], None] = None,
             changes_since: Optional[str] = None,
             deleted: Optional[bool] = None, marker: Optional[str] = None,
             limit: Optional[int] = None,
             page_size: Optional[int] = None) -> Iterator[Instance]:
        """Yield the caller's project's instances, page after page, in the
        order vmmon sorts them.

        :param all_projects: every project's (administrators)
        :param project_id: another project's (administrators)
        :param host: those on a compute host (administrators)
        :param state: those in a state (``active``, ``stopped``, ...)
        :param name: those whose name holds this, whatever the case
        :param flavor: those of this flavor (its name)
        :param sort: ``key[:asc|desc]`` or several of them: ``name``,
            ``created_at``, ``updated_at``, ``state``, ``flavor_name``,
            ``host`` (administrators) or a metric by its latest value
        :param changes_since: those changed at or after this time (ISO 8601)
        :param deleted: ``True`` for deleted instances only (hidden by
            default)
        :param marker: start after this instance id
        :param limit: at most this many in all
        :param page_size: instances asked for per request
        """
        if sort is not None and not isinstance(sort, str):
            sort = ",".join(sort)
        params = {"all_projects": True if all_projects else None,
                  "project_id": project_id, "host": host, "state": state,
                  "name": name, "flavor": flavor, "sort": sort or None,
                  "changes-since": changes_since,
                  "deleted": None if deleted is None else deleted,
                  "marker": marker}
        return self.http.paginate("/v1/instances", "instances", params=params,
                                  limit=limit, page_size=page_size)

    def get(self, instance_id: str) -> InstanceDetail:
        """The instance with its agent's freshness and latest values."""
        return self.http.get_json("/v1/instances/" + base.quote(instance_id))
