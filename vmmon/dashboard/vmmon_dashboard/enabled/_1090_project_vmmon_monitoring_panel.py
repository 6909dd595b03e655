# Project > Compute > Monitoring: the project's instances as vmmon sees them.
PANEL = 'vmmon_monitoring'
PANEL_DASHBOARD = 'project'
PANEL_GROUP = 'compute'
ADD_PANEL = ('vmmon_dashboard.dashboards.project.monitoring.panel.'
             'Monitoring')
# The one enabled file that installs the app (templates, static files).
ADD_INSTALLED_APPS = ["vmmon_dashboard"]
