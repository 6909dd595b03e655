"""Django settings of vmmon-dashboard's unit tests: Horizon's own test
settings, with vmmon-dashboard's enabled files added to Horizon's."""

import os

import openstack_dashboard.enabled as _horizon_enabled
import vmmon_dashboard.enabled as _vmmon_enabled

_horizon_enabled.__path__.append(os.path.dirname(_vmmon_enabled.__file__))

from openstack_dashboard.test.settings import *  # noqa: E402,F401,F403

API_RESULT_PAGE_SIZE = 2
