"""A stand-in for the Neutron API, which Nova calls even for servers without
networks: every collection is empty, every id unknown, every write succeeds.

Usage: /usr/bin/python3 neutron_standin.py PORT
Nova is the component under test; this only stands for the network.
"""
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0].rstrip("/")
        if path in ("", "/v2.0"):
            return self.reply(200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": []}]})
        m = re.fullmatch(r"/v2\.0/([a-z_-]+)", path)
        if m:
            return self.reply(200, {m.group(1): []})
        return self.reply(404, {"NeutronError": {"message": "not found", "type": "NotFound", "detail": ""}})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(201, {})

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, {})

    def do_DELETE(self):
        self.reply(204)

    def log_message(self, fmt, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
