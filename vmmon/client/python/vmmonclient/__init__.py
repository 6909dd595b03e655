"""python-vmmonclient: the Python client of vmmon, the OpenStack VM monitor.

``vmmonclient.v1.Client`` is the library; ``vmmonclient.osc`` plugs the
``openstack vmmon ...`` commands into python-openstackclient.
"""

# The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.1.0"
