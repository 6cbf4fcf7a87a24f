"""A raw-socket HTTP "server" on 127.0.0.1 that answers with whatever bytes a test wants.

Unlike the aiohttp ``site`` fixture, nothing here is valid HTTP by construction: a path
maps to a *behaviour*, a function that gets the accepted connection and may send a
garbage status line, lie about Content-Length, cut a chunked body short or drip one byte
every half second. ``/robots.txt`` answers 404 unless a test routes it.

Everything is bounded: every socket has a timeout, a drip stops as soon as the client
goes away or the server stops, and :meth:`HostileServer.stop` joins every thread it
started (it raises if one does not end).

The server records how each answer ended (:meth:`HostileServer.endings`): sent whole,
``left`` (the client hung up before the server was done) or ``stalled`` (the client
stopped reading). A test proves that the client gave up on a slow or endless answer by
that event, not by timing the cycle.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import zstandard

SOCKET_TIMEOUT = 5.0
MAX_REQUEST_HEAD = 64 * 1024
# A wait for the server to see something the client does in milliseconds: only a hang
# reaches it, even on a loaded machine.
WAIT_SECONDS = 30.0
SENT, LEFT, STALLED = "sent", "left", "stalled"


@dataclass
class Connection:
    """One accepted client connection and the request line it sent."""

    sock: socket.socket
    path: str
    request_head: bytes
    stopping: threading.Event
    #: How the answer ended: SENT unless a send found the client gone or not reading.
    ending: str = SENT

    def send(self, data: bytes) -> bool:
        """Send ``data``; False when the client has gone (or the server is stopping)."""
        if self.stopping.is_set():
            return False
        try:
            self.sock.sendall(data)
        except TimeoutError:
            self.ending = STALLED  # connected, but not reading
            return False
        except OSError:
            self.ending = LEFT
            return False
        return True

    def drip(self, data: bytes, interval: float) -> None:
        """One byte every ``interval`` seconds until done, the client leaves or we stop."""
        for index in range(len(data)):
            if not self.send(data[index:index + 1]):
                return
            if self.stopping.wait(interval):
                return


Behaviour = Callable[[Connection], None]


def head(
    status: int = 200, reason: str = "OK", headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A status line and headers, exactly as given (no header is added)."""
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raw(data: bytes) -> Behaviour:
    """Send ``data`` as the whole answer, then close."""
    def behave(conn: Connection) -> None:
        conn.send(data)
    return behave


def respond(
    body: bytes = b"",
    *,
    status: int = 200,
    reason: str = "OK",
    content_type: str | None = "text/html; charset=utf-8",
    headers: Sequence[tuple[str, str]] = (),
    content_length: int | None = -1,
) -> Behaviour:
    """A well-formed answer unless told otherwise.

    ``content_length``: -1 declares the real length, None sends no Content-Length (the
    body ends when the connection closes), any other number is declared as is (a lie).
    """
    out = list(headers)
    if content_type is not None:
        out.append(("Content-Type", content_type))
    if content_length is not None:
        out.append(("Content-Length", str(len(body) if content_length == -1 else content_length)))
    out.append(("Connection", "close"))
    message = head(status, reason, out) + body

    def behave(conn: Connection) -> None:
        conn.send(message)
    return behave


def chunked(
    chunks: Sequence[bytes], *, finish: bool = True,
    content_type: str = "text/html; charset=utf-8",
) -> Behaviour:
    """A chunked body; ``finish=False`` closes without the terminating zero-size chunk."""
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    if finish:
        encoded += b"0\r\n\r\n"
    message = head(headers=[("Content-Type", content_type),
                            ("Transfer-Encoding", "chunked"), ("Connection", "close")])

    def behave(conn: Connection) -> None:
        conn.send(message + encoded)
    return behave


def drip(body: bytes, interval: float = 0.5, *, content_type: str = "text/html") -> Behaviour:
    """Headers at once, then the body one byte every ``interval`` seconds."""
    message = head(headers=[("Content-Type", content_type),
                            ("Content-Length", str(len(body))), ("Connection", "close")])

    def behave(conn: Connection) -> None:
        if conn.send(message):
            conn.drip(body, interval)
    return behave


def streamed(
    total: int, *, piece: bytes = b"<p>filler text</p>\n",
    content_type: str = "text/html; charset=utf-8", declare_length: bool = True,
) -> Behaviour:
    """``total`` bytes made of ``piece`` repeated, sent in 64 KiB writes (never held whole)."""
    block = piece * max(1, 65536 // len(piece))
    headers = [("Content-Type", content_type), ("Connection", "close")]
    if declare_length:
        headers.append(("Content-Length", str(total)))

    def behave(conn: Connection) -> None:
        if not conn.send(head(headers=headers)):
            return
        left = total
        while left > 0:
            data = block[:left]
            if not conn.send(data):
                return
            left -= len(data)
    return behave


def endless_bomb(
    coding: str, *, status: int = 200, reason: str = "OK",
    headers: Sequence[tuple[str, str]] = (), content_type: str = "text/html",
) -> Behaviour:
    """Zeros compressed with ``coding`` ("gzip" or "zstd"), a mebibyte at a time, with no
    length and no end: it stops only when the client hangs up (or the server stops).

    A client cannot read it to the end: only its size cap (or, failing that, its timeout)
    ends the exchange, and the error says which. On the wire it is about a thousandth
    (gzip) or a thirty-thousandth (zstd) of what it decodes to.
    """
    message = head(status, reason, [*headers, ("Content-Type", content_type),
                                    ("Content-Encoding", coding), ("Connection", "close")])

    def behave(conn: Connection) -> None:
        if not conn.send(message):
            return
        for block in _compressed_zeros(coding):
            if not conn.send(block):
                return
    return behave


def _compressed_zeros(coding: str) -> Iterator[bytes]:
    """An endless stream of zeros compressed with ``coding``, a mebibyte per block."""
    zeros = bytes(1 << 20)
    if coding == "gzip":
        gzip = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip framing
        while True:
            yield gzip.compress(zeros) + gzip.flush(zlib.Z_SYNC_FLUSH)
    zstd = zstandard.ZstdCompressor(level=3).compressobj()
    while True:
        yield zstd.compress(zeros) + zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)


def redirect(location: str, status: int = 302) -> Behaviour:
    return respond(b"", status=status, reason="Found", content_type=None,
                   headers=[("Location", location)])


NOT_FOUND = respond(b"not found", status=404, reason="Not Found", content_type="text/plain")


@dataclass
class HostileServer:
    """Listens on 127.0.0.1 (a free port) and serves ``routes`` from a thread."""

    routes: dict[str, Behaviour] = field(default_factory=dict)
    host: str = "127.0.0.1"
    base_url: str = ""
    _hits: dict[str, int] = field(default_factory=dict)
    _endings: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _listener: socket.socket | None = None

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, behaviour: Behaviour) -> str:
        with self._lock:
            self.routes[path] = behaviour
        return self.url(path)

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits.get(path, 0)

    def endings(self, path: str) -> list[str]:
        """How each answer on ``path`` ended so far (SENT, LEFT or STALLED), in order."""
        with self._lock:
            return list(self._endings.get(path, []))

    def wait_endings(self, path: str, count: int = 1, seconds: float = WAIT_SECONDS
                     ) -> list[str]:
        """The endings of the first ``count`` answers on ``path``, once they ended."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._endings.get(path, [])) >= count,
                                       seconds):
                raise AssertionError(
                    f"not within {seconds:g} s: {count} answer(s) on {path} ended "
                    f"(ended so far: {self._endings.get(path, [])}, hits "
                    f"{self._hits.get(path, 0)})")
            return self._endings[path][:count]

    def start(self) -> HostileServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(256)
        listener.settimeout(0.1)  # the accept loop looks at the stop flag this often
        self._listener = listener
        self.base_url = f"http://{self.host}:{listener.getsockname()[1]}"
        self._spawn(self._accept_loop, "hostile-accept")
        return self

    def stop(self) -> None:
        self._stopping.set()
        deadline = time.monotonic() + 10
        while True:
            with self._lock:
                alive = [t for t in self._threads if t.is_alive()]
            if not alive:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"hostile server threads did not stop: {alive}")
            alive[0].join(0.1)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, "hostile-conn", sock)

    def _serve(self, sock: socket.socket) -> None:
        with contextlib.closing(sock):
            sock.settimeout(SOCKET_TIMEOUT)
            request = _read_head(sock)
            if request is None:
                return
            parts = request.split(b" ", 2)
            target = parts[1].decode("latin-1") if len(parts) > 1 else "/"
            path = target.split("?", 1)[0]  # routes ignore the query: ?n=1, ?n=2 share one
            with self._lock:
                self._hits[path] = self._hits.get(path, 0) + 1
                behaviour = self.routes.get(path) or (
                    NOT_FOUND if path == "/robots.txt" else None)
            conn = Connection(sock, path, request, self._stopping)
            try:
                (behaviour or NOT_FOUND)(conn)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
            finally:
                with self._lock:
                    self._endings.setdefault(path, []).append(conn.ending)
                    self._lock.notify_all()


def _read_head(sock: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < MAX_REQUEST_HEAD:
        try:
            piece = sock.recv(4096)
        except OSError:
            return None
        if not piece:
            return None
        data += piece
    return data


@contextlib.contextmanager
def hostile_server(routes: dict[str, Behaviour] | None = None) -> Iterator[HostileServer]:
    server = HostileServer(dict(routes or {}))
    server.start()
    try:
        yield server
    finally:
        server.stop()
