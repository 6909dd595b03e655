"""Horizon's "enabled" files of vmmon-dashboard: copy the ``_*.py`` files
into ``openstack_dashboard/local/enabled/``."""
