import json
import logging
import time

from django import http
from django.urls import reverse
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views import generic
from horizon import exceptions as horizon_exceptions
from horizon import messages
from horizon import tables as horizon_tables
from horizon import tabs as horizon_tabs

from vmmon_dashboard.api import vmmon
from vmmon_dashboard.dashboards.project.monitoring import tables
from vmmon_dashboard.dashboards.project.monitoring import tabs
from vmmon_dashboard import utils
from vmmonclient import exceptions

LOG = logging.getLogger(__name__)

INDEX_URL = reverse_lazy("horizon:project:vmmon_monitoring:index")

# The project's top-N summary above the table: metric, title.
TOP_METRICS = (("cpu_util", _("CPU")), ("memory.usage", _("Memory")),
               ("network.incoming.bytes.rate", _("Network in")))
TOP_N = 5


def _json_error(exc, what, status=None):
    status = status or (getattr(exc, "http_status", 0) or 503)
    if status < 400:
        status = 503
    return http.JsonResponse({"error": str(utils.error_message(exc, what))},
                             status=status)


class IndexView(horizon_tables.DataTableView):
    table_class = tables.InstancesTable
    template_name = "vmmon_dashboard/project/index.html"
    page_title = _("Monitoring")

    def has_more_data(self, table):
        return self._more

    def get_data(self):
        self._more = False
        filters = self.get_filters()
        marker = self.request.GET.get(
            tables.InstancesTable._meta.pagination_param)
        sort = self.request.GET.get(tables.SORT_PARAM) or None
        try:
            instances, self._more = vmmon.instance_list(
                self.request, sort=sort, marker=marker, **filters)
        except exceptions.ClientException as e:
            messages.error(self.request,
                           utils.error_message(e, _("list the instances")))
            self.vmmon_down = True
            return []
        return instances

    def get_top(self):
        if getattr(self, "vmmon_down", False):
            return []
        out = []
        for metric, title in TOP_METRICS:
            try:
                groups = vmmon.aggregates(self.request, metric, limit=TOP_N)
            except exceptions.ClientException as e:
                LOG.info("top-N of %s: %s", metric, e)
                continue
            rows = [{"id": g.get("instance_id"),
                     "name": g.get("name") or g.get("instance_id"),
                     "value": utils.human(g.get("value"), g.get("unit"))}
                    for g in groups]
            out.append({"metric": metric, "title": title, "rows": rows})
        return out

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["top"] = self.get_top()
        context["latest_url"] = reverse(
            "horizon:project:vmmon_monitoring:latest")
        context["refresh_s"] = 10
        return context


class DetailView(horizon_tabs.TabbedTableView):
    tab_group_class = tabs.InstanceDetailTabs
    template_name = "vmmon_dashboard/project/detail.html"
    page_title = "{{ instance.name|default:instance.id }}"

    def get_data(self):
        if getattr(self, "_vmmon", None) is None:
            iid = self.kwargs["instance_id"]
            try:
                inst, detail = vmmon.instance_get(self.request, iid)
            except exceptions.NotFound:
                msg = _("Instance %s is not one vmmon knows in this "
                        "project.") % iid
                messages.error(self.request, msg)
                raise horizon_exceptions.Http302(INDEX_URL)
            except exceptions.ClientException as e:
                messages.error(self.request, utils.error_message(
                    e, _("show instance %s") % iid))
                raise horizon_exceptions.Http302(INDEX_URL)
            try:
                events = vmmon.event_list(self.request, iid)
            except exceptions.ClientException as e:
                messages.error(self.request, utils.error_message(
                    e, _("read the lifecycle")))
                events = []
            self._vmmon = (inst, detail, events)
        return self._vmmon

    def get_tabs(self, request, *args, **kwargs):
        inst, detail, events = self.get_data()
        locked = utils.locked_from_events(events)
        allowed = utils.allowed_actions(request, inst.state, locked,
                                        inst.task_state)
        latest = sorted(detail.get("latest") or [],
                        key=lambda m: (m.get("name") or "",
                                       m.get("device") or ""))
        for m in latest:
            m["shown"] = utils.human(m.get("last_value"), m.get("unit"))
            m["at"] = utils.when(m.get("last_timestamp"))
        return self.tab_group_class(
            request, instance=inst, detail=detail, events=events,
            locked=locked, allowed=allowed, latest=latest, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        inst, detail, _events = self.get_data()
        iid = inst.id
        context["instance"] = inst
        context["url"] = INDEX_URL
        context["vmmon_urls"] = json.dumps({
            "measures": reverse("horizon:project:vmmon_monitoring:measures",
                                args=[iid]),
            "stream": reverse("horizon:project:vmmon_monitoring:stream",
                              args=[iid]),
            "action": reverse("horizon:project:vmmon_monitoring:action",
                              args=[iid]),
            "detail": reverse("horizon:project:vmmon_monitoring:detail",
                              args=[iid]),
        })
        return context


class MeasuresView(generic.View):
    """Every metric of an instance over a range, as JSON for the charts."""

    def get(self, request, instance_id):
        rng = request.GET.get("range", "1h")
        if rng not in vmmon.RANGES:
            return http.JsonResponse(
                {"error": "range must be one of %s" % ", ".join(vmmon.RANGES)},
                status=400)
        try:
            charts = vmmon.measures_all(request, instance_id, rng)
        except exceptions.ClientException as e:
            return _json_error(e, _("read the measures"))
        return http.JsonResponse({"range": rng, "charts": charts})


class LatestView(generic.View):
    """The latest values and agents of the instances of a table page."""

    def get(self, request):
        ids = [i for i in request.GET.get("ids", "").split(",") if i][:100]
        try:
            got = vmmon.latest_values(request, ids)
        except exceptions.ClientException as e:
            return _json_error(e, _("refresh the values"))
        out = {}
        for iid, d in got.items():
            cells = {m: utils.human(d["latest"].get(m), d["units"].get(m))
                     for m in vmmon.TABLE_METRICS}
            out[iid] = {"cells": cells, "state": d["state"],
                        "agent": str(utils.freshness(d["agent"],
                                                     d["data_stale"])),
                        "agent_status": d["agent"].get("status")}
        return http.JsonResponse({"instances": out})


class ActionView(generic.View):
    """POST: run an action (JSON answer: the action, or an error a person
    can act on); GET ?id=: one action's status."""

    def post(self, request, instance_id):
        key = request.POST.get("action", "")
        try:
            inst, _detail = vmmon.instance_get(request, instance_id)
            events = vmmon.event_list(request, instance_id, limit=20)
        except exceptions.ClientException as e:
            return _json_error(e, _("run the action"))
        allowed = {k: (a, t, label) for k, a, t, label in
                   utils.allowed_actions(request, inst.state,
                                         utils.locked_from_events(events),
                                         inst.task_state)}
        if key not in allowed:
            return http.JsonResponse(
                {"error": str(_("This action is not possible now: the "
                                "instance is %(state)s, or your role does "
                                "not allow it.") % {"state": inst.state})},
                status=409)
        action, rtype, label = allowed[key]
        try:
            act = vmmon.action_create(request, instance_id, action, rtype)
        except exceptions.ClientException as e:
            return _json_error(e, _("%(label)s %(name)s") % {
                "label": str(label).lower(), "name": inst.name or inst.id})
        return http.JsonResponse({"action": act}, status=202)

    def get(self, request, instance_id):
        action_id = request.GET.get("id", "")
        if not action_id:
            return http.JsonResponse({"error": "id is required"}, status=400)
        try:
            act = vmmon.action_get(request, instance_id, action_id)
            inst, _detail = vmmon.instance_get(request, instance_id)
        except exceptions.ClientException as e:
            return _json_error(e, _("follow the action"))
        return http.JsonResponse({"action": act, "state": inst.state,
                                  "task_state": inst.task_state})


def _sse(event, data, event_id=None):
    out = ""
    if event_id:
        out += "id: %s\n" % event_id
    out += "event: %s\n" % event
    for line in (data or "").splitlines() or [""]:
        out += "data: %s\n" % line
    return (out + "\n").encode()


class StreamView(generic.View):
    """vmmon's live stream of an instance, relayed to the browser as
    Server-Sent Events: the browser never holds the token. A relay lasts
    at most VMMON_STREAM_MAX_SECONDS; the browser then reconnects."""

    def get(self, request, instance_id):
        from django.conf import settings
        max_s = getattr(settings, "VMMON_STREAM_MAX_SECONDS", 300)
        try:
            events = vmmon.stream_events(request, instance_id)
            first = next(events, None)
        except exceptions.ClientException as e:
            return _json_error(e, _("follow the live values"))

        def relay():
            deadline = time.monotonic() + max_s
            yield b"retry: 3000\n\n"
            try:
                ev = first
                while ev is not None:
                    if ev.event in ("sample", "end", "error"):
                        yield _sse(ev.event, ev.data, ev.id)
                    if ev.event in ("end", "error"):
                        return
                    if time.monotonic() > deadline:
                        yield _sse("end", '{"reason": "relay lifetime"}')
                        return
                    ev = next(events, None)
            except exceptions.ClientException as e:
                yield _sse("error", json.dumps(
                    {"error": str(utils.error_message(
                        e, _("follow the live values")))}))
            except Exception as e:  # the connection to vmmon broke
                LOG.info("live stream of %s ended: %s", instance_id, e)
            finally:
                close = getattr(events, "close", None)
                if close:
                    close()

        resp = http.StreamingHttpResponse(relay(),
                                          content_type="text/event-stream")
        resp["Cache-Control"] = "no-cache"
        resp["X-Accel-Buffering"] = "no"
        return resp
