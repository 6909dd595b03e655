from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from horizon import tables

from vmmon_dashboard import utils


def status_cell(host):
    css = {"up": "text-success", "stale": "text-warning",
           "down": "text-danger"}.get(host.status, "text-muted")
    return format_html('<span class="vmmon-host-status {}">{}</span>', css,
                       host.status or _("unknown"))


def age_cell(host):
    age = host.heartbeat_age_s
    return "-" if age is None else utils.age_text(age)


def load_cell(metric):
    def cell(host):
        value, unit = host.load.get(metric, (None, None))
        return utils.human(value, unit)
    return cell


class HostsTable(tables.DataTable):
    name = tables.Column("name", verbose_name=_("Host"))
    status = tables.Column(status_cell, verbose_name=_("Agent"))
    heartbeat = tables.Column(age_cell, verbose_name=_("Last heartbeat"))
    interval = tables.Column(lambda h: h.interval_s or "-",
                             verbose_name=_("Interval (s)"))
    seq_gaps = tables.Column(lambda h: h.seq_gaps or 0,
                             verbose_name=_("Lost batches"))
    cpu = tables.Column(load_cell("cpu_util"),
                        verbose_name=_("CPU (sum of instances)"))
    memory = tables.Column(load_cell("memory.usage"),
                           verbose_name=_("Memory (sum)"))
    net_in = tables.Column(load_cell("network.incoming.bytes.rate"),
                           verbose_name=_("Network in (sum)"))

    class Meta(object):
        name = "hosts"
        verbose_name = _("Hosts")
        multi_select = False


class FleetTopTable(tables.DataTable):
    name = tables.Column(lambda g: g.name or g.instance_id,
                         verbose_name=_("Instance"))
    project = tables.Column("project_id", verbose_name=_("Project"))
    host = tables.Column(lambda g: g.host or "-", verbose_name=_("Host"))
    value = tables.Column(lambda g: utils.human(g.value, g.unit),
                          verbose_name=_("CPU (mean, last 15 min)"))

    class Meta(object):
        name = "fleet_top"
        verbose_name = _("Busiest instances")
        multi_select = False
