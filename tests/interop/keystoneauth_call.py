"""Calls vmmon-api the way OpenStack clients do: a keystoneauth1 session finds
the endpoint in the catalog by service type and sends the user's token.

Usage: /usr/bin/python3 keystoneauth_call.py AUTH_URL USER PASSWORD PROJECT PATH
Prints the status code and the body of GET PATH.
"""
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3

url, user, password, project, path = sys.argv[1:6]
auth = v3.Password(auth_url=url, username=user, password=password, project_name=project,
                   user_domain_id="default", project_domain_id="default")
sess = session.Session(auth=auth)
resp = sess.get(path, endpoint_filter={"service_type": "vm-monitor", "interface": "public"}, raise_exc=False)
print(resp.status_code)
print(resp.text)
