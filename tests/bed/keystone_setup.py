"""Creates, idempotently, the Keystone identities the vmmon tests use.

Usage: keystone_setup.py AUTH_URL ADMIN_PASSWORD
Prints KEY=VALUE lines for bed.env on standard output.

- project ``demo`` with users ``demo-member`` (member) and ``demo-reader`` (reader)
- project ``alt-demo`` with user ``alt-member`` (member)
- project ``service`` with the vmmon service user ``vmmon`` (role service
  only: that is all token validation needs)
- ``domain-reader`` (reader on domain Default, no project), ``system-reader``
  and ``system-admin`` (reader and admin on the system), for every kind of
  token
"""
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3

URL, ADMIN_PASSWORD = sys.argv[1], sys.argv[2]
PASSWORD = "vmmon-test-secret"

auth = v3.Password(auth_url=URL, username="admin", password=ADMIN_PASSWORD,
                   project_name="admin", user_domain_id="default",
                   project_domain_id="default")
sess = session.Session(auth=auth)
api = dict(endpoint_override=URL, raise_exc=True)


def find(collection, name, **query):
    r = sess.get(f"/{collection}", params=dict(name=name, **query), **api)
    items = r.json()[collection]
    return items[0] if items else None


def ensure(collection, singular, name, body):
    found = find(collection, name)
    if found:
        return found
    r = sess.post(f"/{collection}", json={singular: dict(name=name, **body)}, **api)
    return r.json()[singular]


def ensure_role(name):
    return ensure("roles", "role", name, {})


def grant(project, user, role):
    sess.put(f"/projects/{project['id']}/users/{user['id']}/roles/{role['id']}", **api)


def revoke(project, user, role):
    path = f"/projects/{project['id']}/users/{user['id']}/roles/{role['id']}"
    if sess.head(path, endpoint_override=URL, raise_exc=False).status_code == 204:
        sess.delete(path, **api)


roles = {n: ensure_role(n) for n in ("admin", "member", "reader", "service")}
projects = {n: ensure("projects", "project", n, {"domain_id": "default"})
            for n in ("demo", "alt-demo", "service")}
users = [
    ("demo-member", "demo", ["member"]),
    ("demo-reader", "demo", ["reader"]),
    ("alt-member", "alt-demo", ["member"]),
    ("vmmon", "service", ["service"]),
]
out = {"VMMON_TEST_PASSWORD": PASSWORD}
for name, project, user_roles in users:
    user = ensure("users", "user", name, {"domain_id": "default", "password": PASSWORD,
                                          "default_project_id": projects[project]["id"]})
    for role in user_roles:
        grant(projects[project], user, roles[role])
    out["VMMON_USER_%s_ID" % name.upper().replace("-", "_")] = user["id"]
# The service user had admin in earlier beds: validation needs only service.
revoke(projects["service"], find("users", "vmmon"), roles["admin"])
for name, target in (("domain-reader", ("domains", "default", "reader")),
                     ("system-reader", ("system", "all", "reader")),
                     ("system-admin", ("system", "all", "admin"))):
    user = ensure("users", "user", name, {"domain_id": "default", "password": PASSWORD})
    kind, tid, role = target
    if kind == "system":
        sess.put(f"/system/users/{user['id']}/roles/{roles[role]['id']}", **api)
    else:
        sess.put(f"/domains/{tid}/users/{user['id']}/roles/{roles[role]['id']}", **api)
    out["VMMON_USER_%s_ID" % name.upper().replace("-", "_")] = user["id"]
for name, project in projects.items():
    out["VMMON_PROJECT_%s_ID" % name.upper().replace("-", "_")] = project["id"]
for k, v in out.items():
    print(f"{k}={v}")
