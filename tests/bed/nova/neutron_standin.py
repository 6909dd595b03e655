"""A stand-in for the Neutron API, which Nova calls even for servers without
networks. Every collection is empty and every write succeeds, except for one
network (with one subnet) whose ports Nova may create, bind and delete:
a server booted on it gets a NIC on a Linux bridge of the host (vif_type
"bridge": os-vif creates the bridge, libvirt the tap device), so its NIC
counters move, and no other network service is needed. (vif_type "tap" does
not work with Debian 12's Nova and libvirt: Nova creates the tap device and
libvirt then refuses it as "already exists".)

Usage: /usr/bin/python3 neutron_standin.py PORT [STATE_FILE]
STATE_FILE keeps the ports across restarts (Nova remembers them too).
Nova is the component under test; this only stands for the network.
"""
import ipaddress
import json
import os
import random
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

NETWORK_ID = "7e57ab1e-0000-4000-8000-000000000001"
SUBNET_ID = "7e57ab1e-0000-4000-8000-000000000002"
CIDR = ipaddress.ip_network("10.254.0.0/24")
# Owned by no real project, so that it appears only when asked for by id:
# servers booted with "networks": "auto" or "none" see no network, as before.
OWNER = "vmmon-bed"
BRIDGE = "brvmmon0"
NETWORK = {"id": NETWORK_ID, "name": "vmmon-bed-net", "tenant_id": OWNER, "project_id": OWNER, "subnets": [SUBNET_ID],
           "status": "ACTIVE", "admin_state_up": True, "shared": False, "router:external": False, "mtu": 1500,
           "port_security_enabled": True, "provider:network_type": "local", "provider:physical_network": None,
           "provider:segmentation_id": None}
SUBNET = {"id": SUBNET_ID, "name": "vmmon-bed-subnet", "network_id": NETWORK_ID, "tenant_id": OWNER, "project_id": OWNER,
          "ip_version": 4, "cidr": str(CIDR), "gateway_ip": None, "enable_dhcp": False, "dns_nameservers": [],
          "host_routes": [], "allocation_pools": [{"start": "10.254.0.2", "end": "10.254.0.254"}],
          "ipv6_address_mode": None, "ipv6_ra_mode": None, "subnetpool_id": None}

STATE = sys.argv[2] if len(sys.argv) > 2 else None
lock = threading.Lock()
ports = {}
if STATE and os.path.exists(STATE):
    with open(STATE) as f:
        ports = json.load(f)


def save():
    if STATE:
        with open(STATE + ".tmp", "w") as f:
            json.dump(ports, f)
        os.replace(STATE + ".tmp", STATE)


def matches(item, query):
    """Neutron's filters: every key given must hold one of its values."""
    for key, values in query.items():
        if key in ("fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"):
            continue
        have = item.get(key)
        if isinstance(have, bool) or have is None:
            have = str(have)
        if str(have).lower() not in [v.lower() for v in values]:
            return False
    return True


def new_port(body):
    used = {ip["ip_address"] for p in ports.values() for ip in p["fixed_ips"]}
    address = next(str(a) for a in CIDR.hosts() if a.packed[-1] >= 2 and str(a) not in used)
    pid = str(uuid.uuid4())
    port = {"id": pid, "name": "", "network_id": NETWORK_ID, "tenant_id": body.get("tenant_id", OWNER),
            "project_id": body.get("project_id", body.get("tenant_id", OWNER)), "device_id": "", "device_owner": "",
            "admin_state_up": True, "status": "ACTIVE",
            "mac_address": "fa:16:3e:%02x:%02x:%02x" % tuple(random.randrange(256) for _ in range(3)),
            "fixed_ips": [{"subnet_id": SUBNET_ID, "ip_address": address}], "security_groups": [],
            "allowed_address_pairs": [], "extra_dhcp_opts": [], "port_security_enabled": True,
            "binding:host_id": "", "binding:vif_type": "bridge",
            # port_filter: os-vif leaves iptables alone, as with Neutron's own filtering.
            "binding:vif_details": {"port_filter": True, "bridge_name": BRIDGE},
            "binding:vnic_type": "normal", "binding:profile": {}, "qos_policy_id": None, "resource_request": None,
            "dns_name": "", "tags": []}
    port.update({k: v for k, v in body.items() if k in ("name", "device_id", "device_owner", "admin_state_up",
                                                         "binding:host_id", "binding:profile", "dns_name")})
    return port


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self):
        self.reply(404, {"NeutronError": {"message": "not found", "type": "NotFound", "detail": ""}})

    def body(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def do_GET(self):
        url = urlsplit(self.path)
        path, query = url.path.rstrip("/"), parse_qs(url.query)
        if path in ("", "/v2.0"):
            return self.reply(200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": []}]})
        fixed = {"networks": [NETWORK], "subnets": [SUBNET]}
        m = re.fullmatch(r"/v2\.0/([a-z_-]+)", path)
        if m:
            name = m.group(1)
            with lock:
                items = list(ports.values()) if name == "ports" else fixed.get(name, [])
            # Only asked for by id (or by its ports' filters) does the network show.
            if name in fixed and "id" not in query:
                items = []
            return self.reply(200, {name: [i for i in items if matches(i, query)]})
        m = re.fullmatch(r"/v2\.0/([a-z_-]+)/([^/]+)", path)
        if m:
            name, ident = m.groups()
            if name == "quotas":
                return self.reply(200, {"quota": {"port": -1, "network": -1, "subnet": -1, "security_group": -1}})
            with lock:
                items = list(ports.values()) if name == "ports" else fixed.get(name, [])
            for i in items:
                if i["id"] == ident:
                    return self.reply(200, {name[:-1]: i})
        return self.not_found()

    def do_POST(self):
        body = self.body()
        if self.path.rstrip("/") == "/v2.0/ports":
            req = body.get("port", {})
            if req.get("network_id") != NETWORK_ID:
                return self.not_found()
            with lock:
                port = new_port(req)
                ports[port["id"]] = port
                save()
            return self.reply(201, {"port": port})
        self.reply(201, {})

    def do_PUT(self):
        body = self.body()
        m = re.fullmatch(r"/v2\.0/ports/([^/]+)", self.path.rstrip("/"))
        if m:
            with lock:
                port = ports.get(m.group(1))
                if port is None:
                    return self.not_found()
                port.update({k: v for k, v in body.get("port", {}).items() if k not in ("id", "network_id", "fixed_ips")})
                save()
            return self.reply(200, {"port": port})
        self.reply(200, {})

    def do_DELETE(self):
        m = re.fullmatch(r"/v2\.0/ports/([^/]+)", self.path.rstrip("/"))
        if m:
            with lock:
                if ports.pop(m.group(1), None) is None:
                    return self.not_found()
                save()
        self.reply(204)

    def log_message(self, fmt, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
