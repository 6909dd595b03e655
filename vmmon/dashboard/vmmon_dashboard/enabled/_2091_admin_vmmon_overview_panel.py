# Admin > Monitoring > Overview: hosts, agents, per-host load, fleet top-N.
PANEL = 'vmmon_overview'
PANEL_DASHBOARD = 'admin'
PANEL_GROUP = 'vmmon'
ADD_PANEL = 'vmmon_dashboard.dashboards.admin.monitoring.panel.Overview'
