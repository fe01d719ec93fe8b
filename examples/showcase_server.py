"""The local JSON API the showcase talks to: standard library only, no effectpy.

`ApiServer` serves a few users, their posts and some drafts over HTTP on 127.0.0.1 (a
free port), one thread per request. To give the client something to handle, the first
request for a `flaky` path fails with 503 Service Unavailable, and the first request
for a `stalled` path takes that many seconds to answer. It counts what it serves, so
the showcase can show what really reached it.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Collection, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USERS = {1: "ada", 2: "grace", 3: "barbara", 4: "edsger"}
POSTS = {
    1: ["Notes on the analytical engine", "Bernoulli numbers, step by step"],
    2: ["Compilers for everyone", "A moth in the relay"],
    3: ["Abstraction and data types"],
    4: ["Go to statement considered harmful", "On the cruelty of teaching", "EWD 1036"],
}
DRAFTS = {1: "Programming as a human activity", 2: "Why structured concurrency", 3: ""}
"""Draft 3 has no title: the showcase refuses to publish it."""

LATENCY = 0.1
"""How long a normal answer takes, in seconds."""


def route(path: str) -> tuple[int, object]:
    """The status and JSON body for `path`."""
    if match := re.fullmatch(r"/users/(\d+)", path):
        user_id = int(match[1])
        return 200, {"id": user_id, "name": USERS[user_id]}
    if match := re.fullmatch(r"/users/(\d+)/posts", path):
        user_id = int(match[1])
        titles = enumerate(POSTS[user_id])
        return 200, [{"id": user_id * 10 + i, "user_id": user_id, "title": t} for i, t in titles]
    if match := re.fullmatch(r"/drafts/(\d+)", path):
        draft_id = int(match[1])
        return 200, {"id": draft_id, "title": DRAFTS[draft_id]}
    return 404, {"error": f"no such path: {path}"}


class ApiServer(ThreadingHTTPServer):
    """The API on 127.0.0.1; `start()` serves from a thread, `stop()` ends it all."""

    def __init__(
        self, *, flaky: Collection[str] = (), stalled: Mapping[str, float] | None = None
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.flaky = frozenset(flaky)
        self.stalled = dict(stalled or {})
        self.lock = threading.Lock()
        self.served: Counter[str] = Counter()
        """How many requests reached the server, per path."""
        self.in_flight = 0
        self.max_in_flight = 0
        """The most requests the server was handling at once."""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, name="api-server")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Wake stalled handlers, stop serving, and wait for every thread to end."""
        self._stopping.set()
        self.shutdown()
        self.server_close()  # joins the handler threads
        self._thread.join()

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: a client that gave up has closed its socket, so a stalled answer
        has nowhere to go. That is expected here."""

    def _answer(self, path: str) -> tuple[int, object]:
        with self.lock:
            self.served[path] += 1
            first = self.served[path] == 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._stopping.wait(self.stalled.get(path, LATENCY) if first else LATENCY)
            if first and path in self.flaky:
                return 503, {"error": "try again"}
            return route(path)
        finally:
            with self.lock:
                self.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer

    def do_GET(self) -> None:
        status, body = self.server._answer(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the client logs its requests."""
