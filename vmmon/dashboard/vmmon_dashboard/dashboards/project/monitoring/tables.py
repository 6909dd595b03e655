import json
from urllib import parse

from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from horizon import tables

from vmmon_dashboard import utils

# Column -> the sort key vmmon's listing takes for it.
SORT_KEYS = {
    "name": "name",
    "state": "state",
    "flavor": "flavor_name",
    "cpu_util": "cpu_util",
    "memory": "memory.usage",
    "disk_read": "disk.device.read.bytes.rate",
    "disk_write": "disk.device.write.bytes.rate",
    "net_in": "network.incoming.bytes.rate",
    "net_out": "network.outgoing.bytes.rate",
}
# Metric columns sort highest first on the first click.
DESC_FIRST = ("cpu_util", "memory", "disk_read", "disk_write", "net_in",
              "net_out")

SORT_PARAM = "sort"


def live(metric):
    """A cell of the latest value of metric, which the page refreshes."""
    def cell(inst):
        value = inst.latest.get(metric)
        return format_html(
            '<span class="vmmon-live" data-vmmon-metric="{}">{}</span>',
            metric, utils.human(value, inst.units.get(metric)))
    return cell


def agent_cell(inst):
    if inst.detail_error:
        return format_html('<span class="text-warning" title="{}">{}</span>',
                           inst.detail_error, _("unknown"))
    status = (inst.agent or {}).get("status") or ""
    css = {"up": "text-success", "stale": "text-warning",
           "down": "text-danger"}.get(status, "text-muted")
    return format_html('<span class="vmmon-agent {}">{}</span>', css,
                       utils.freshness(inst.agent, inst.data_stale))


def detail_url(inst):
    return reverse("horizon:project:vmmon_monitoring:detail",
                   args=[inst.id])


class NameFilter(tables.FilterAction):
    """Searched by vmmon (name holds it, flavor's name, state)."""
    filter_type = "server"
    filter_choices = (("name", _("Name ="), True),
                      ("flavor", _("Flavor ="), True),
                      ("state", _("State ="), True))


class InstancesTable(tables.DataTable):
    # No column sorts in the browser (a page is not the listing): the
    # headers are links that have vmmon sort the listing.
    name = tables.WrappingColumn("name", verbose_name=_("Name"),
                                 link=detail_url, sortable=False)
    state = tables.Column("state", verbose_name=_("State"), sortable=False)
    flavor = tables.Column("flavor_name", verbose_name=_("Flavor"),
                           sortable=False)
    cpu_util = tables.Column(live("cpu_util"), verbose_name=_("CPU"),
                             sortable=False)
    memory = tables.Column(live("memory.usage"), verbose_name=_("Memory"),
                           sortable=False)
    disk_read = tables.Column(live("disk.device.read.bytes.rate"),
                              verbose_name=_("Disk read"), sortable=False)
    disk_write = tables.Column(live("disk.device.write.bytes.rate"),
                               verbose_name=_("Disk write"), sortable=False)
    net_in = tables.Column(live("network.incoming.bytes.rate"),
                           verbose_name=_("Network in"), sortable=False)
    net_out = tables.Column(live("network.outgoing.bytes.rate"),
                            verbose_name=_("Network out"), sortable=False)
    agent = tables.Column(agent_cell, verbose_name=_("Agent"),
                          sortable=False)

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.current_sort = request.GET.get(SORT_PARAM, "")
        key, _sep, direction = self.current_sort.partition(":")
        for col_name, sort_key in SORT_KEYS.items():
            col = self.columns[col_name]
            if key == sort_key:
                new = sort_key + (":asc" if direction == "desc" else ":desc")
                icon = "fa-sort-desc" if direction == "desc" \
                    else "fa-sort-asc"
            else:
                new = sort_key + (":desc" if col_name in DESC_FIRST
                                  else ":asc")
                icon = "fa-sort vmmon-sort-idle"
            col.verbose_name = format_html(
                '<a class="vmmon-sort" href="?{}">{} '
                '<span class="fa {}"></span></a>',
                parse.urlencode({SORT_PARAM: new}), col.verbose_name, icon)

    def get_pagination_string(self):
        q = {self._meta.pagination_param: self.get_marker()}
        if self.current_sort:
            q[SORT_PARAM] = self.current_sort
        return parse.urlencode(q)

    def get_object_display(self, datum):
        return datum.name or datum.id

    class Meta(object):
        name = "instances"
        verbose_name = _("Instances")
        table_actions = (NameFilter,)
        multi_select = False


class EventsTable(tables.DataTable):
    timestamp = tables.Column(lambda e: utils.when(e.timestamp),
                              verbose_name=_("Time (UTC)"))
    event_type = tables.Column("event_type", verbose_name=_("Event"))
    source = tables.Column("source", verbose_name=_("Source"))
    request_id = tables.Column("request_id", verbose_name=_("Request ID"))
    detail = tables.WrappingColumn(
        lambda e: e.fault or e.detail or "", verbose_name=_("Detail"))

    class Meta(object):
        name = "events"
        verbose_name = _("Lifecycle")
        multi_select = False


def action_label(a):
    """The action with its reboot type: "reboot (HARD)"."""
    try:
        params = json.loads(a.params or "{}") or {}
    except ValueError:
        params = {}
    extra = params.get("type") or params.get("reason")
    return "%s (%s)" % (a.action, extra) if extra else a.action


class ActionsTable(tables.DataTable):
    created_at = tables.Column(lambda a: utils.when(a.created_at),
                               verbose_name=_("Requested (UTC)"))
    action = tables.Column(action_label, verbose_name=_("Action"))
    status = tables.Column("status", verbose_name=_("Status"))
    updated_at = tables.Column(
        lambda a: utils.when(a.updated_at) if a.status != "pending" else "",
        verbose_name=_("Settled (UTC)"))
    message = tables.Column(lambda a: a.message or "",
                            verbose_name=_("Message"))

    class Meta(object):
        name = "actions"
        verbose_name = _("Actions")
        multi_select = False
