"""Creates, idempotently, what the Nova test bed needs in Keystone (users and
services of nova, placement, glance and the Neutron stand-in, with their
endpoints), then, with --content, what tests boot: for the fake driver a
1 MiB image and a tiny flavor; for the libvirt driver the bed guest's kernel
and initramfs as aki/ari images, a 1 MiB raw root image that names them, a
flavor a TCG guest boots in, and an aggregate putting the libvirt host in an
availability zone of its own. Prints KEY=VALUE lines for bed.env.

Usage: nova_setup.py AUTH_URL ADMIN_PASSWORD SERVICE_PASSWORD
       nova_setup.py AUTH_URL ADMIN_PASSWORD SERVICE_PASSWORD --content KERNEL INITRD LIBVIRT_HOST ZONE
"""
import hashlib
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

KERNEL, INITRD, LIBVIRT_HOST, ZONE = sys.argv[5:9]
glance = dict(endpoint_filter={"service_type": "image", "interface": "public"}, raise_exc=True)
nova = dict(endpoint_filter={"service_type": "compute", "interface": "public"}, raise_exc=True)


def readable(image):
    """Whether Glance still has the image's data: down.sh --wipe removes
    Glance's files but not its database, which lives in MariaDB."""
    r = sess.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=0-0"},
                 endpoint_filter=glance["endpoint_filter"], raise_exc=False)
    return r.status_code in (200, 206)


def ensure_image(name, data, disk_format, container_format, **properties):
    """An active public image of that name, content and properties: the one
    Glance has, or a new one when the content changed (the bed guest's init
    was edited); older ones stay for the servers that still use them."""
    checksum = hashlib.md5(data).hexdigest()
    for image in sess.get("/v2/images", params={"name": name, "status": "active"}, **glance).json()["images"]:
        if image["checksum"] == checksum and all(image.get(k) == v for k, v in properties.items()) and readable(image):
            return image
    image = sess.post("/v2/images", json={"name": name, "disk_format": disk_format, "container_format": container_format,
                                          "visibility": "public", **properties}, **glance).json()
    sess.put(f"/v2/images/{image['id']}/file", data=data, headers={"Content-Type": "application/octet-stream"}, **glance)
    return image


def ensure_flavor(name, ram, vcpus, disk):
    for f in sess.get("/flavors/detail", **nova).json()["flavors"]:
        if f["name"] == name:
            return f
    return sess.post("/flavors", json={"flavor": {"name": name, "ram": ram, "vcpus": vcpus, "disk": disk}},
                     **nova).json()["flavor"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


# For the fake driver: a 1 MiB image and a tiny flavor.
image = ensure_image("vmmon-tiny", b"\0" * (1 << 20), "raw", "bare")
flavor = ensure_flavor("vmmon.tiny1", 64, 1, 1)
print(f"VMMON_NOVA_IMAGE_ID={image['id']}")
print(f"VMMON_NOVA_FLAVOR_ID={flavor['id']}")

# For the libvirt driver: the way AMI-style images boot (an "ami" disk is
# refused at build), a raw root disk naming a kernel and a ramdisk. The
# command line is the bed guest's own: a serial console, and a panic powers
# the guest off instead of hanging it.
kernel = ensure_image("vmmon-guest-kernel", read(KERNEL), "aki", "aki")
ramdisk = ensure_image("vmmon-guest-initrd", read(INITRD), "ari", "ari")
root = ensure_image("vmmon-guest", b"\0" * (1 << 20), "raw", "bare", kernel_id=kernel["id"], ramdisk_id=ramdisk["id"],
                    os_command_line="console=ttyS0 panic=-1 quiet")
# 128 MB: the kernel and initramfs need more than 64 under TCG.
guest_flavor = ensure_flavor("vmmon.guest", 128, 2, 1)

# The libvirt host in a zone of its own, so that a member (who may not name
# a host) can still choose it; it must join before it runs any server.
aggs = [a for a in sess.get("/os-aggregates", **nova).json()["aggregates"] if a["name"] == "vmmon-libvirt"]
agg = aggs[0] if aggs else sess.post("/os-aggregates", json={"aggregate": {"name": "vmmon-libvirt",
                                                                          "availability_zone": ZONE}}, **nova).json()["aggregate"]
if LIBVIRT_HOST not in (agg.get("hosts") or []):
    sess.post(f"/os-aggregates/{agg['id']}/action", json={"add_host": {"host": LIBVIRT_HOST}}, **nova)
nodes = [h for h in sess.get("/os-hypervisors/detail", **nova).json()["hypervisors"]
         if h["service"]["host"] == LIBVIRT_HOST]
print(f"VMMON_NOVA_LIBVIRT_IMAGE_ID={root['id']}")
print(f"VMMON_NOVA_LIBVIRT_FLAVOR_ID={guest_flavor['id']}")
if nodes:
    print(f"VMMON_NOVA_LIBVIRT_NODE={nodes[0]['hypervisor_hostname']}")
