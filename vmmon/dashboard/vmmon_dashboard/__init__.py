"""vmmon-dashboard: vmmon's panels for Horizon."""

__version__ = "0.1.0"
