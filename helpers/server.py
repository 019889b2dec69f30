"""The small HTTP/1.1 server behind every endpoint the lab opens, always on 127.0.0.1.

The front (every AWS API call), each execution environment's Runtime API and the front
doors (API Gateway, ...) are all one of these: a thread per connection, keep-alive,
Nagle's algorithm off, and bounded reads. A request line or header block over its cap
is answered 431 and the connection closed; a body is read only up to the endpoint's
``max_body``. A larger one is not kept: the handler still answers (with the service's
own "too large" error) and the rest of the body is read and dropped, 64 KB at a time,
for at most ``DRAIN_LIMIT`` bytes and a few seconds, so the client sees the answer.

    server = HttpServer(handler, name="lab-front", max_body=80 * 1024 * 1024)
    server.url                      # "http://127.0.0.1:PORT"
    server.close()

``sock``: a listening socket to serve instead of a new one (a sandbox's endpoint,
opened inside the sandbox's own network; see ``helpers.lambda_.sandbox``).

``handler(Request) -> Response`` runs on the connection's thread. An exception in it is
answered 500 without a traceback anywhere a learner would see it.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

MAX_LINE = 16 * 1024  # request line
MAX_HEADER_BYTES = 64 * 1024  # all header lines together
MAX_HEADERS = 200
DRAIN_LIMIT = 64 * 1024 * 1024  # bytes of an oversized body read and dropped
DRAIN_IDLE_S = 2.0
CHUNK = 64 * 1024
REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    206: "Partial Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}

__all__ = ["HttpServer", "Request", "Response"]


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    """One HTTP request as it arrived: ``target`` is the path and query, undecoded."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    client: tuple[str, int]
    too_large: bool = False  # the body was over the endpoint's max_body: not kept
    _lookup: dict | None = field(default=None, repr=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header's value (the first, if sent twice); names are case-insensitive."""
        if self._lookup is None:
            lookup = {}
            for key, value in self.headers:
                lookup.setdefault(key.lower(), value)
            self._lookup = lookup
        return self._lookup.get(name.lower(), default)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    def query_params(self) -> dict[str, str]:
        """The query string's parameters, decoded (the last value of a repeated one)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass
class Response:
    """What the server writes back. A ``Content-Length`` header is added unless present
    (a HEAD answer keeps the length of what a GET would send)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    close: bool = False  # close the connection after this response

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        lowered = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lowered]
        self.headers.append((name, value))


class HttpServer:
    """A threaded HTTP/1.1 server on loopback; ``handler(Request) -> Response``."""

    def __init__(self, handler, *, name: str, max_body: int, host: str = "127.0.0.1",
                 port: int = 0, idle_timeout: float = 300.0, sock: socket.socket | None = None):
        self.handler = handler
        self.name = name
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.connections_accepted = 0
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._socket = sock or socket.create_server((host, port), backlog=128)
        self.host, self.port = self._socket.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept, daemon=True, name=name)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        """Stop accepting and end every open connection (their threads then exit)."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._socket.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=2)

    # -- connections ------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, client = self._socket.accept()
            except OSError:
                return
            with self._lock:
                self.connections_accepted += 1
                self._connections.add(connection)
            threading.Thread(target=self._serve, args=(connection, client), daemon=True,
                             name=f"{self.name}-connection").start()

    def _serve(self, connection: socket.socket, client) -> None:
        try:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.settimeout(self.idle_timeout)
            reader = connection.makefile("rb", buffering=CHUNK)
            while not self._closed.is_set():
                if not self._one(connection, reader, client):
                    break
        except (OSError, ValueError):
            pass  # the client went away, or the server is closing
        finally:
            with self._lock:
                self._connections.discard(connection)
            try:
                connection.close()
            except OSError:
                pass

    def _one(self, connection, reader, client) -> bool:
        """Read one request and answer it; False when the connection is done."""
        try:
            head = _read_head(reader)
            if head is None:
                return False
            method, target, version, headers = head
            request = Request(method, target, headers, b"", tuple(client[:2]))
            keep_alive = _keep_alive(version, request.header("connection"))
            length, chunked = _body_framing(request)
            if request.header("expect", "").lower() == "100-continue" and (
                    length is None or length <= self.max_body):
                connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            leftover = 0
            if chunked:
                request.body, request.too_large = _read_chunked(reader, self.max_body)
            elif length:
                if length > self.max_body:
                    request.too_large, leftover = True, length
                else:
                    request.body = _read_exact(reader, length)
        except _BadRequest as error:
            body = f"{error}\n".encode()
            connection.sendall(_head(error.status, [("Content-Type", "text/plain")],
                                     len(body), close=True) + body)
            return False
        response = self._answer(request)
        close = response.close or not keep_alive or request.too_large
        headers, body = response.headers, response.body
        if response.status in (204, 304):
            length, body = None, b""
        elif method == "HEAD":
            length = None if response.header("content-length") is not None else len(body)
            body = b""
        else:
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            length = len(body)
        head = _head(response.status, headers, length, close)
        connection.sendall(head + body if len(body) < CHUNK else head)
        if len(body) >= CHUNK:
            connection.sendall(body)
        if leftover:
            _drain(connection, reader, leftover)
        return not close

    def _answer(self, request: Request) -> Response:
        try:
            return self.handler(request)
        except Exception as error:  # never a traceback in a notebook: the client is told
            body = f"Internal error in the lab's {self.name}: {error!r}\n".encode()
            return Response(500, [("Content-Type", "text/plain")], body)


# -- reading ------------------------------------------------------------------------------


def _read_head(reader):
    """(method, target, version, headers), or None at the end of the connection."""
    line = reader.readline(MAX_LINE + 1)
    while line in (b"\r\n", b"\n"):  # tolerated between keep-alive requests
        line = reader.readline(MAX_LINE + 1)
    if not line:
        return None
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        raise _BadRequest(414, "Request line too long")
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _BadRequest(400, "Malformed request line")
    headers, total = [], 0
    while True:
        line = reader.readline(MAX_LINE + 1)
        total += len(line)
        if total > MAX_HEADER_BYTES or len(headers) > MAX_HEADERS or len(line) > MAX_LINE:
            raise _BadRequest(431, "Request header fields too large")
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise _BadRequest(400, "Incomplete request")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name.strip():
            raise _BadRequest(400, "Malformed header line")
        headers.append((name.strip(), value.strip()))
    return parts[0], parts[1], parts[2], headers


def _keep_alive(version: str, connection: str | None) -> bool:
    connection = (connection or "").lower()
    if version == "HTTP/1.0":
        return connection == "keep-alive"
    return connection != "close"


def _body_framing(request: Request) -> tuple[int | None, bool]:
    if "chunked" in (request.header("transfer-encoding") or "").lower():
        return None, True
    raw = request.header("content-length")
    if raw is None:
        return 0, False
    try:
        length = int(raw)
    except ValueError:
        raise _BadRequest(400, "Invalid Content-Length") from None
    if length < 0:
        raise _BadRequest(400, "Invalid Content-Length")
    return length, False


def _read_exact(reader, length: int) -> bytes:
    data = reader.read(length)
    if len(data) != length:
        raise OSError("the client closed the connection mid-body")
    return data


def _read_chunked(reader, limit: int) -> tuple[bytes, bool]:
    """The de-chunked body, and whether it went over ``limit`` (then it is not kept)."""
    chunks, size, too_large = [], 0, False
    while True:
        line = reader.readline(MAX_LINE + 1)
        try:
            length = int(line.split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            raise _BadRequest(400, "Malformed chunked body") from None
        if length == 0:
            while reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            break
        size += length
        if size > DRAIN_LIMIT:
            raise _BadRequest(413, "Request body too large")
        if size > limit:
            too_large = True
            chunks.clear()
            while length:
                length -= len(reader.read(min(length, CHUNK)) or b"")  # dropped
        else:
            chunks.append(_read_exact(reader, length))
        reader.readline(MAX_LINE + 1)
    return (b"", True) if too_large else (b"".join(chunks), False)


def _drain(connection, reader, length: int) -> None:
    """Read and drop an unkept body, so the client can read the answer already sent."""
    connection.settimeout(DRAIN_IDLE_S)
    left = min(length, DRAIN_LIMIT)
    try:
        while left > 0:
            data = reader.read1(min(left, CHUNK))
            if not data:
                break
            left -= len(data)
    except OSError:
        pass


def _head(status: int, headers, length: int | None, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    for name, value in headers:
        lowered = name.lower()
        if lowered in ("connection", "transfer-encoding", "keep-alive"):
            continue
        lines.append(f"{name}: {value}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close" if close else "Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
