"""Creates, idempotently, what the Nova test bed needs in Keystone (users and
services of nova, placement, glance and the Neutron stand-in, with their
endpoints), then, with --content, a 1 MiB image and a tiny flavor.

Usage: nova_setup.py AUTH_URL ADMIN_PASSWORD SERVICE_PASSWORD [--content]
"""
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3

URL, ADMIN_PASSWORD, PASSWORD = sys.argv[1:4]
auth = v3.Password(auth_url=URL, username="admin", password=ADMIN_PASSWORD, project_name="admin",
                   user_domain_id="default", project_domain_id="default")
sess = session.Session(auth=auth)
ks = dict(endpoint_override=URL, raise_exc=True)


def find(collection, **query):
    items = sess.get(f"/{collection}", params=query, **ks).json()[collection]
    return items[0] if items else None


def ensure(collection, singular, query, body):
    return find(collection, **query) or sess.post(f"/{collection}", json={singular: body}, **ks).json()[singular]


if "--content" not in sys.argv:
    service_project = find("projects", name="service")
    admin_role = find("roles", name="admin")
    service_role = find("roles", name="service")
    for name, stype, port, path in [("nova", "compute", 8774, "/v2.1"), ("placement", "placement", 8778, ""),
                                    ("glance", "image", 9292, ""), ("neutron", "network", 9696, "")]:
        user = ensure("users", "user", {"name": name}, {"name": name, "password": PASSWORD, "domain_id": "default"})
        for role in (admin_role, service_role):
            sess.put(f"/projects/{service_project['id']}/users/{user['id']}/roles/{role['id']}", **ks)
        svc = ensure("services", "service", {"type": stype}, {"name": name, "type": stype})
        for iface in ("public", "internal"):
            ensure("endpoints", "endpoint", {"service_id": svc["id"], "interface": iface},
                   {"service_id": svc["id"], "interface": iface, "region_id": "RegionOne",
                    "url": f"http://127.0.0.1:{port}{path}"})
    sys.exit(0)

# Content: a tiny public image and flavor.
glance = dict(endpoint_filter={"service_type": "image", "interface": "public"}, raise_exc=True)
images = sess.get("/v2/images?name=vmmon-tiny", **glance).json()["images"]
if images and images[0]["status"] == "active":
    image = images[0]
else:
    image = sess.post("/v2/images", json={"name": "vmmon-tiny", "disk_format": "raw", "container_format": "bare",
                                          "visibility": "public"}, **glance).json()
    sess.put(f"/v2/images/{image['id']}/file", data=b"\0" * (1 << 20),
             headers={"Content-Type": "application/octet-stream"}, **glance)
nova = dict(endpoint_filter={"service_type": "compute", "interface": "public"}, raise_exc=True)
flavors = [f for f in sess.get("/flavors", **nova).json()["flavors"] if f["name"] == "vmmon.tiny1"]
flavor = flavors[0] if flavors else sess.post("/flavors", json={"flavor": {"name": "vmmon.tiny1", "ram": 64, "vcpus": 1,
                                                                          "disk": 1}}, **nova).json()["flavor"]
print(f"VMMON_NOVA_IMAGE_ID={image['id']}")
print(f"VMMON_NOVA_FLAVOR_ID={flavor['id']}")
