"""A small Lambda runtime client for Python handlers (introduced in 00-welcome).

Each execution environment runs this file as its own process. It talks to the lab's
Runtime API exactly as a runtime talks to Lambda's: it asks for the next invocation
(``GET /2018-06-01/runtime/invocation/next``), calls the handler, and posts the result
(``.../response``) or an error object (``.../error``, ``/runtime/init/error``).

It is run as a script, never imported by the lab, and uses only the standard library,
so it starts quickly and works on Linux, macOS and Windows.
"""

import importlib
import json
import logging
import os
import socket
import sys
import threading
import time
import traceback

API_PREFIX = "/2018-06-01/runtime"
THIS_FILE = os.path.abspath(__file__)
# What the Python runtime logs before an error in the Init phase (awslambdaric's wording).
UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function "
    "code. However, in rare cases, a Lambda runtime update can cause unexpected function "
    "behavior. For functions using managed runtimes, runtime updates can be triggered by a "
    "function change, or can be applied automatically. To determine if the runtime has been "
    "updated, check the runtime version in the INIT_START log entry. If this error "
    "correlates with a change in the runtime version, you may be able to mitigate this "
    "error by temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


class Fault(Exception):
    """An error the runtime itself reports, with Lambda's ``Runtime.*`` error type."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def error_object(message, error_type, stack_trace, request_id=""):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    }


def error_from_exception(exc, request_id=""):
    """The error object of an exception raised by user code, without this file's frames."""
    frames = traceback.extract_tb(exc.__traceback__)
    while frames and os.path.abspath(frames[0].filename) == THIS_FILE:
        frames = frames[1:]
    # Plain (file, line, function, code) tuples, as awslambdaric formats them: without the
    # column markers (^^^^) that Python 3.11+ would add.
    frames = [(frame.filename, frame.lineno, frame.name, frame.line) for frame in frames]
    return error_object(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def log_error(error):
    """Write an error the way the Python runtime does: one log line, lines joined by \\r."""
    first = "[ERROR]"
    if error["errorType"]:
        first += " " + error["errorType"]
    if error["errorMessage"]:
        first += (": " if error["errorType"] else " ") + error["errorMessage"]
    # As awslambdaric: the Traceback line is there even when the trace is empty.
    lines = [first, "Traceback (most recent call last):"]
    for frame in error["stackTrace"]:
        for line in frame.rstrip("\n").split("\n"):
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\r".join(lines) + "\n")
    sys.stdout.flush()


def load_handler(handler):
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from None
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise Fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise Fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace
        ) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise Fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        ) from None


class Client:
    """``context.client_context.client``: the calling app, as the mobile SDKs describe it."""

    FIELDS = ("installation_id", "app_title", "app_version_name", "app_version_code",
              "app_package_name")

    def __init__(self, data):
        for name in self.FIELDS:
            setattr(self, name, data.get(name))


class ClientContext:
    """``context.client_context``: what the caller passed as ``ClientContext``."""

    def __init__(self, data):
        data.pop("w3c", None)  # trace context, not part of the client context
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else None


class CognitoIdentity:
    def __init__(self, data):
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")


def parse_context_header(headers, name, label):
    """A JSON header of the invocation as a dict (None if absent); a Fault if unreadable."""
    text = headers.get(name)
    if not text:
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise Fault("Runtime.LambdaContextUnmarshalError",
                    f"Unable to parse {label} JSON: {exc}") from None
    return data


class LambdaContext:
    """The ``context`` object a Python handler receives."""

    def __init__(self, headers):
        self.aws_request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.tenant_id = headers.get("Lambda-Runtime-Aws-Tenant-Id")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))
        client_context = parse_context_header(headers, "Lambda-Runtime-Client-Context",
                                              "Client Context")
        cognito = parse_context_header(headers, "Lambda-Runtime-Cognito-Identity",
                                       "Cognito Identity")
        self.client_context = None if client_context is None else ClientContext(client_context)
        self.identity = CognitoIdentity(cognito or {})

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message):
        sys.stdout.write(str(message))
        sys.stdout.flush()


class RequestIdFilter(logging.Filter):
    request_id = None

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id or ""  # "" outside an invocation
        return True


def setup_logging():
    """The root logger as awslambdaric sets it up: one record, one line; level WARNING
    unless the function's log level is configured (so ``logger.info`` needs setLevel)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.terminator = ""  # the format ends with its own newline
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG"}.get(level, level)
    if isinstance(logging.getLevelName(level), int):
        root.setLevel(level)


class RuntimeApi:
    """One keep-alive HTTP/1.1 connection to the Runtime API, with Nagle's algorithm off."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host = address
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def call(self, method, path, body=b"", headers=None):
        lines = [f"{method} {API_PREFIX}{path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        status_line = self.reader.readline()
        if not status_line:
            end_sandbox()  # the lab closed the Runtime API: this environment is done
        status = int(status_line.split()[1])
        reply_headers = {}
        while True:
            line = self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            reply_headers[name.strip()] = value.strip()
        length = int(reply_headers.get("Content-Length", 0))
        return status, reply_headers, self.reader.read(length) if length else b""

    def next_invocation(self):
        status, headers, body = self.call("GET", "/invocation/next")
        if status != 200:
            end_sandbox()  # retired
        return headers, body

    def post_response(self, request_id, body, content_type):
        self.call(
            "POST", f"/invocation/{request_id}/response", body, {"Content-Type": content_type}
        )

    def post_error(self, path, error):
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Function-Error-Type": error["errorType"] or "Unhandled",
        }
        self.call("POST", path, json.dumps(error).encode(), headers)


def handle(api, handler, headers, body):
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    RequestIdFilter.request_id = request_id
    if "Lambda-Runtime-Trace-Id" in headers:
        os.environ["_X_AMZN_TRACE_ID"] = headers["Lambda-Runtime-Trace-Id"]
    try:
        context = LambdaContext(headers)
        try:
            event = json.loads(body) if body else None
        except ValueError as exc:
            raise Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None
        result = handler(event, context)
        if isinstance(result, bytes):
            payload, content_type = result, "application/unknown"
        else:
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                raise Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None
            content_type = "application/json"
    except Fault as fault:
        error = error_object(fault.message, fault.error_type, fault.trace, request_id)
    except Exception as exc:  # the handler's own error: reported, never fatal
        error = error_from_exception(exc, request_id)
    else:
        sys.stdout.flush()
        sys.stderr.flush()
        api.post_response(request_id, payload, content_type)
        return
    log_error(error)
    sys.stderr.flush()
    api.post_error(f"/invocation/{request_id}/error", error)


def end_sandbox():
    """End this environment and every process it started, as Lambda ends a sandbox."""
    sys.stdout.flush()
    if hasattr(os, "killpg"):
        os.killpg(0, 9)
    os._exit(0)


def exit_with_parent():
    """End the environment if the lab's process goes away (even killed with SIGKILL)."""
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            end_sandbox()


def main():
    if not sys.platform.startswith("linux"):  # on Linux the kernel ends it with its parent
        threading.Thread(target=exit_with_parent, daemon=True).start()
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, task_root)
    try:
        api = RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])
    except OSError:
        end_sandbox()
    setup_logging()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except Fault as fault:
        error = error_object(fault.message, fault.error_type, fault.trace)
    except Exception as exc:  # an error while the module loads
        error = error_from_exception(exc)
    else:
        error = None
    if error is not None:
        logging.warning(UNHANDLED_WARNING)
        log_error(error)
        try:
            api.post_error("/init/error", error)
        except OSError:
            end_sandbox()
        sys.exit(1)
    while True:
        try:
            headers, body = api.next_invocation()
            handle(api, handler, headers, body)
        except OSError:  # the Runtime API went away
            end_sandbox()


if __name__ == "__main__":
    main()
