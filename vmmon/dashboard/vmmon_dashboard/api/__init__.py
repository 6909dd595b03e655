from vmmon_dashboard.api import vmmon  # noqa: F401
