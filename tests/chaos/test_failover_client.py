"""The failover benchmark's HTTP client reaches whichever replica answers, as a load balancer
would: a killed replica (connection refused) is skipped, not an error."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# appended, not prepended: benchmarks/vrplib.py must not shadow the vrplib package PyVRP imports
sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))

from chaoslib.replicas import api_client  # noqa: E402
from ground_control.embedded.broker import free_port  # noqa: E402


class Hello(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


async def test_requests_go_around_a_dead_replica():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    alive = f"http://127.0.0.1:{server.server_address[1]}"
    dead = f"http://127.0.0.1:{free_port()}"     # nothing listens there
    try:
        async with api_client(lambda: [dead, alive]) as api:
            for i in range(4):                   # whichever replica the turn starts at
                r = await api.post("/parcels", json={"id": f"p-{i}"})
                assert r.status_code == 201 and r.json() == {"id": f"p-{i}"}
    finally:
        server.shutdown()
