from django.utils.translation import gettext_lazy as _
import horizon


class Monitoring(horizon.Panel):
    name = _("Monitoring")
    slug = "vmmon_monitoring"
    # Shown when vmmon is in the user's catalog.
    permissions = ("openstack.services.vm-monitor",)
