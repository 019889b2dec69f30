"""The Lambda Runtime API, served on loopback for one execution environment.

AWS gives every execution environment its own Runtime API endpoint; so does the lab:
each environment gets a small HTTP/1.1 server on 127.0.0.1 with the documented paths
(``/2018-06-01/runtime/invocation/next``, ``.../{id}/response``, ``.../{id}/error``,
``/2018-06-01/runtime/init/error``). Any runtime client that speaks this API works,
the lab's own and AWS's ``awslambdaric`` alike.

The server reads HTTP by hand rather than with ``http.server``: it sits on the path of
every invocation, and a minimal parser keeps a warm invoke close to a plain API call.
"""

import json
import re
import socketserver
import threading

PREFIX = b"/2018-06-01/runtime"
NEXT_PATH = PREFIX + b"/invocation/next"
INIT_ERROR_PATH = PREFIX + b"/init/error"
INVOCATION_PATH = re.compile(re.escape(PREFIX) + rb"/invocation/([^/]+)/(response|error)$")
REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found",
           410: "Gone", 413: "Payload Too Large"}

__all__ = ["RuntimeApiServer"]


def _json(status, document):
    return status, [("Content-Type", "application/json")], json.dumps(document).encode()


ACCEPTED = _json(202, {"status": "OK"})
NOT_FOUND = _json(404, {"errorMessage": "Not found", "errorType": "NotFound"})
INVALID_ID = _json(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
TOO_LARGE = _json(413, {"errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
                        "errorType": "RequestEntityTooLarge"})
RETIRED = _json(410, {"errorMessage": "Environment retired", "errorType": "Gone"})


class _Handler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True

    def handle(self):
        try:
            while self._one_request():
                pass
        except (ConnectionError, OSError, ValueError):
            pass  # the runtime went away (exit, crash, kill): nothing to answer

    def _one_request(self) -> bool:
        request_line = self.rfile.readline(65537)
        if not request_line.strip():
            return False
        method, path = request_line.split(b" ", 2)[:2]
        headers = {}
        while True:
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._read_body(headers)
        status, reply_headers, reply_body = self._dispatch(method, path, headers, body)
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}"]
        head += [f"{name}: {value}" for name, value in reply_headers]
        head.append(f"Content-Length: {len(reply_body)}")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply_body)
        return headers.get("connection", "").lower() != "close"

    def _read_body(self, headers) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method, path, headers, body):
        environment = self.server.environment
        path = path.split(b"?", 1)[0]
        if method == b"GET" and path == NEXT_PATH:
            invocation = environment.next_invocation()
            if invocation is None:  # the environment is being shut down
                return RETIRED
            return 200, invocation.runtime_headers(), invocation.event
        if method != b"POST":
            return NOT_FOUND
        error_type = headers.get("lambda-runtime-function-error-type")
        if path == INIT_ERROR_PATH:
            environment.init_failed(body, error_type)
            return ACCEPTED
        match = INVOCATION_PATH.match(path)
        if not match:
            return NOT_FOUND
        request_id, kind = (part.decode() for part in match.groups())
        if kind == "response":
            content_type = headers.get("content-type", "application/json")
            status = environment.invocation_succeeded(request_id, body, content_type)
        else:
            status = environment.invocation_failed(request_id, body, error_type)
        return {202: ACCEPTED, 413: TOO_LARGE}.get(status, INVALID_ID)


class RuntimeApiServer(socketserver.ThreadingTCPServer):
    """Serves one environment; ``environment`` answers the calls."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, environment):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.environment = environment
        self.thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="lab-runtime-api",
        )
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def handle_error(self, request, client_address):
        pass  # a runtime that disconnects is the environment's business, not an error

    def close(self):
        self.shutdown()
        self.server_close()
