"""moto's server application, called in this process for every request the lab passes on.

moto's server is a WSGI application (werkzeug and Flask) with one sub-application per
AWS service. The front calls it directly with a WSGI environ built from the request it
already read: no second HTTP server, no second parse of the connection. moto's own
dispatcher tells the service from the request; the application for each service is
made once and kept.

moto is imported here, and so only once a lab starts (``import helpers`` loads none of
it). The versions the lab was tested with are ``TESTED``; ``check_version`` says clearly
when the installed moto is outside them.
"""

from __future__ import annotations

import io
import sys
import threading
from urllib.parse import unquote

import moto
from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    environ_key_for_header,
    should_preserve_original_header_name,
)
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from ..errors import LabError
from ..server import Response

TESTED = ((5, 2, 5), (5, 3, 0))  # from, up to but not including (pyproject.toml's range)

__all__ = ["TESTED", "MotoApp", "check_version", "reset_state"]


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts + [0] * (3 - len(parts)))


def check_version(version: str | None = None) -> None:
    """Refuse a moto outside the tested range, saying what to do."""
    version = version or moto.__version__
    low, high = TESTED
    if not low <= _version(version) < high:
        raise LabError(
            f"The lab is tested with moto {'.'.join(map(str, low))} up to (not including) "
            f"{'.'.join(map(str, high))}, but moto {version} is installed. Reinstall the "
            "project (python3 tasks.py lab) to get a tested moto, or update the lab for the "
            "new moto (helpers/cloud/patches.py lists what it changes in moto).")


def reset_state() -> None:
    """Forget every resource moto holds (a new lab starts with an empty cloud)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


class MotoApp:
    """moto's WSGI application, called with requests the front has read already."""

    def __init__(self):
        self._dispatcher = DomainDispatcherApplication(create_backend_app)
        self._apps: dict[str, object] = {}
        self._lock = threading.Lock()

    def __call__(self, method: str, target: str, headers: list[tuple[str, str]],
                 body: bytes, client: tuple[str, int], server: tuple[str, int]) -> Response:
        environ = _environ(method, target, headers, body, client, server)
        app = self._application(environ)
        status_and_headers = []

        def start_response(status, response_headers, exc_info=None):
            status_and_headers[:] = [status, response_headers]

        chunks = app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status, response_headers = status_and_headers
        return Response(int(status.split(" ", 1)[0]), list(response_headers), data)

    def _application(self, environ):
        path = environ["PATH_INFO"]
        if path.startswith("/moto-api") or path == "/favicon.ico":
            host = "moto_api"
        else:
            host = self._dispatcher.infer_service_region_host(environ, path)
            host = host or "s3.us-east-1.amazonaws.com"  # moto's own default
        app = self._apps.get(host)
        if app is None:
            with self._lock:
                app = self._apps.get(host)
                if app is None:
                    backend = self._dispatcher.get_backend_for_host(host)
                    app = self._dispatcher.app_instances.get(backend)
                    if app is None:
                        app = self._dispatcher.create_app(backend)
                        self._dispatcher.app_instances[backend] = app
                    self._apps[host] = app
        return app


def _wsgi_text(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def _environ(method, target, headers, body, client, server) -> dict:
    """The WSGI environ werkzeug's server would build (moto's request handler included)."""
    path, _, query = target.partition("?")
    environ = {
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False, "SERVER_SOFTWARE": "lambda-lab", "REQUEST_METHOD": method,
        "SCRIPT_NAME": "", "PATH_INFO": _wsgi_text(unquote(path)),
        "QUERY_STRING": _wsgi_text(query), "REQUEST_URI": _wsgi_text(target),
        "RAW_URI": _wsgi_text(target), "REMOTE_ADDR": client[0], "REMOTE_PORT": client[1],
        "SERVER_NAME": server[0], "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": str(len(body)),
    }
    dashed = set()
    for name, value in headers:
        lowered = name.lower()
        if lowered in ("transfer-encoding", "content-length"):
            continue  # the body is already whole
        value = value.replace("\r\n", "")
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        if key != "CONTENT_TYPE":
            key = "HTTP_" + key
            if key in environ:
                value = f"{environ[key]},{value}"
        environ[key] = value
        dashed.add(environ_key_for_header(name))
    names, values = {}, {}
    for name, value in headers:  # as moto's own request handler: keep "x-amz-meta-a_b"
        if not should_preserve_original_header_name(name):
            continue
        key = environ_key_for_header(name)
        if key in dashed:
            continue
        names.setdefault(key, name)
        values.setdefault(key, []).append(value.replace("\r\n", ""))
    for key, key_values in values.items():
        environ[key] = ",".join(key_values)
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
    return environ
