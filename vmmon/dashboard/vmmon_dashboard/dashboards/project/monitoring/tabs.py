from django.utils.translation import gettext_lazy as _
from horizon import messages
from horizon import tabs

from vmmon_dashboard.api import vmmon
from vmmon_dashboard.dashboards.project.monitoring import tables
from vmmon_dashboard import utils
from vmmonclient import exceptions


class OverviewTab(tabs.Tab):
    name = _("Overview")
    slug = "overview"
    template_name = "vmmon_dashboard/project/_detail_overview.html"

    def get_context_data(self, request):
        k = self.tab_group.kwargs
        return {"instance": k["instance"], "detail": k["detail"],
                "latest": k["latest"], "allowed": k["allowed"],
                "locked": k["locked"]}


class ChartsTab(tabs.Tab):
    name = _("Charts")
    slug = "charts"
    template_name = "vmmon_dashboard/project/_detail_charts.html"

    def get_context_data(self, request):
        return {"instance": self.tab_group.kwargs["instance"],
                "ranges": list(vmmon.RANGES)}


class EventsTab(tabs.TableTab):
    name = _("Lifecycle")
    slug = "events"
    table_classes = (tables.EventsTable,)
    template_name = "horizon/common/_detail_table.html"

    def get_events_data(self):
        return self.tab_group.kwargs.get("events") or []


class ActionsTab(tabs.TableTab):
    name = _("Actions")
    slug = "actions"
    table_classes = (tables.ActionsTable,)
    template_name = "horizon/common/_detail_table.html"

    def get_actions_data(self):
        inst = self.tab_group.kwargs["instance"]
        try:
            return vmmon.action_list(self.request, inst.id)
        except exceptions.ClientException as e:
            messages.error(self.request,
                           utils.error_message(e, _("list the actions")))
            return []


class InstanceDetailTabs(tabs.DetailTabsGroup):
    slug = "vmmon_instance"
    tabs = (OverviewTab, ChartsTab, EventsTab, ActionsTab)
    sticky = True
