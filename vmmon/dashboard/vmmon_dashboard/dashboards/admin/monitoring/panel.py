from django.utils.translation import gettext_lazy as _
import horizon


class Overview(horizon.Panel):
    name = _("Overview")
    slug = "vmmon_overview"
    permissions = ("openstack.services.vm-monitor", "openstack.roles.admin")
