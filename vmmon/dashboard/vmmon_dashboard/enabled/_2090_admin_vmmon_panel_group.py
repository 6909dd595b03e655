# Admin > Monitoring: vmmon's panels for the cloud's administrators. The
# overview (hosts, agents, load) is its first panel; alarms will be a
# panel of their own in this group once vmmon's API has them.
PANEL_GROUP = 'vmmon'
PANEL_GROUP_NAME = 'Monitoring'
PANEL_GROUP_DASHBOARD = 'admin'
