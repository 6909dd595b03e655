import logging

from django.utils.translation import gettext_lazy as _
from horizon import messages
from horizon import tables as horizon_tables

from vmmon_dashboard.api import vmmon
from vmmon_dashboard.dashboards.admin.monitoring import tables
from vmmon_dashboard import utils
from vmmonclient import exceptions

LOG = logging.getLogger(__name__)

# Per-host load: metric, aggregation (sums: a host's total).
HOST_LOAD = (("cpu_util", "sum"), ("memory.usage", "sum"),
             ("network.incoming.bytes.rate", "sum"))
TOP_N = 10


class IndexView(horizon_tables.MultiTableView):
    table_classes = (tables.HostsTable, tables.FleetTopTable)
    template_name = "vmmon_dashboard/admin/index.html"
    page_title = _("Hosts and fleet")

    def get_hosts_data(self):
        try:
            hosts = vmmon.host_list(self.request)
        except exceptions.ClientException as e:
            messages.error(self.request,
                           utils.error_message(e, _("list the hosts")))
            self.vmmon_down = True
            return []
        by_name = {h.name: h for h in hosts}
        for metric, aggregation in HOST_LOAD:
            try:
                groups = vmmon.aggregates(
                    self.request, metric, group_by="host",
                    aggregation=aggregation, all_projects=True)
            except exceptions.ClientException as e:
                LOG.info("per-host %s: %s", metric, e)
                continue
            for g in groups:
                h = by_name.get(g.get("host"))
                if h is not None:
                    h.load[metric] = (g.get("value"), g.get("unit"))
        return hosts

    def get_fleet_top_data(self):
        if getattr(self, "vmmon_down", False):
            return []
        try:
            groups = vmmon.aggregates(self.request, "cpu_util", limit=TOP_N,
                                      all_projects=True)
        except exceptions.ClientException as e:
            messages.error(self.request, utils.error_message(
                e, _("read the busiest instances")))
            return []
        return [vmmon.Record(g, id_key="instance_id") for g in groups]
