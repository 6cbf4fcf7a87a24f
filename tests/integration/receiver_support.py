"""A webhook receiver on 127.0.0.1 for the channel tests, as a real service would be.

``receiver(port)`` serves POSTs in its own thread until the ``with`` block ends. It
answers what the test sets (``answer``: 200, 503, 400 ...), checks each signature with the
shared secret as a receiver must (a POST with a bad one is answered 401 and not taken),
and takes each ``Idempotency-Key`` once: a repeat is answered 200 and not taken again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "webhook-test-secret-7f3a"


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int
    #: The status every POST is answered with (a signature check comes first).
    answer: int = 200
    answer_body: bytes = b"{}"
    secret: str | None = SECRET
    #: Every POST that arrived, whatever it was answered.
    posts: list[Post] = field(default_factory=list)
    #: The POSTs taken: answered 2xx, signature valid, key not seen before.
    taken: list[Post] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def signed(self, post: Post) -> bool:
        if self.secret is None:
            return True
        expected = "sha256=" + hmac.new(self.secret.encode(), post.body,
                                        hashlib.sha256).hexdigest()
        return hmac.compare_digest(post.headers.get("x-govwatch-signature", ""), expected)

    def handle(self, post: Post) -> int:
        with self.lock:
            self.posts.append(post)
            if not self.signed(post):
                self.bad_signatures += 1
                return 401
            if self.answer >= 300:
                return self.answer
            key = post.headers.get("idempotency-key")
            if key is None or key not in {p.headers.get("idempotency-key") for p in self.taken}:
                self.taken.append(post)
            return self.answer


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        post = Post(self.path, {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length))
        status = self.receiver.handle(post)
        body = self.receiver.answer_body if status < 300 or status == self.receiver.answer \
            else b"bad signature"
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status < 300 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def receiver(target: Receiver) -> Iterator[Receiver]:
    """Serve ``target`` on its port until the block ends (before it: connection refused)."""
    handler = type("Handler", (_Handler,), {"receiver": target})
    server = ThreadingHTTPServer(("127.0.0.1", target.port), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
