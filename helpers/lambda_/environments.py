"""Execution environments: one process each, running a handler through the Runtime API.

An environment is created on a cold start: the function's code is unpacked once (and
shared, read-only, by the environments of the same code, ``helpers.lambda_.packages``),
a process starts (in a sandbox, from the fork server, or as a new interpreter:
``helpers.lambda_.processes``) with Lambda's environment variables, the function's own
and nothing else of the kernel's, and its own empty ``/tmp``. It imports the handler
once (the Init phase), then asks the Runtime API for invocations, one at a time,
keeping its globals between them (warm starts). A timed-out or crashed environment is
discarded; when an environment ends, its ``/tmp`` and its Runtime API go with it.
Introduced in notebook 01.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..aws import MAX_SYNC_PAYLOAD
from ..errors import LambdaApiError
from .logs import OutputBuffer, log_stream_name
from .processes import HERE as RUNTIME_DIR
from .processes import MemoryWatch
from .recursion import format_lineage
from .runtime_api import RuntimeApiServer
from .sandbox import RUNTIME_API as SANDBOX_RUNTIME_API
from .sandbox import RUNTIME_DIR as SANDBOX_RUNTIME_DIR
from .sandbox import TASK_ROOT as SANDBOX_TASK_ROOT

MAX_RESPONSE_BYTES = MAX_SYNC_PAYLOAD
HANDOFF_TIMEOUT_S = 10.0  # a sandbox's endpoints arrive within this, or it failed
# What a function's configuration may change of the lab's defaults (AWS: "unreserved").
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-runtime.html
UNRESERVED = ("PATH", "LANG", "TZ", "LD_LIBRARY_PATH", "PYTHONPATH", "TMPDIR")
SIGNAL_NAMES = {  # as Lambda reports a runtime killed by a signal (Go's names)
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
} if hasattr(signal, "SIGKILL") else {}

__all__ = ["EnvironmentContext", "ExecutionEnvironment", "Invocation", "environment_variables"]


@dataclass
class EnvironmentContext:
    """What every environment of one lab shares."""

    workdir: Path
    base_env: dict  # the lab's variables: endpoint, credentials, config-file shields
    launcher: object  # helpers.lambda_.processes.Launcher
    code: object  # helpers.lambda_.packages.CodeStore
    serve_front: object = None  # serve_front(listening socket) -> server (sandboxes)
    runtime_client: str = "builtin"


class Invocation:
    """One request to a function, and (once ``done``) what came of it."""

    def __init__(self, request_id, event, invoked_arn, timeout_s, client_context=None,
                 lineage=None):
        self.request_id = request_id
        self.event = event
        self.invoked_arn = invoked_arn
        self.timeout_s = timeout_s
        self.client_context = client_context
        self.trace_id = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
        if lineage:  # recursive loop detection follows this (helpers/lambda_/recursion.py)
            self.trace_id += f";Lineage={format_lineage(lineage)}"
        self.preamble = OutputBuffer()  # output before START: init, or stray threads
        self.output = OutputBuffer()
        self.started = None  # perf_counter() when the runtime took it
        self.deadline = None
        self.done = threading.Event()
        self.result = None  # ("response", body, content_type) or ("error", body, error_type)
        self.ended = None
        self._lock = threading.Lock()

    def runtime_headers(self):
        headers = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", self.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(int(self.deadline_epoch_ms))),
            ("Lambda-Runtime-Invoked-Function-Arn", self.invoked_arn),
            ("Lambda-Runtime-Trace-Id", self.trace_id),
        ]
        if self.client_context:
            headers.append(("Lambda-Runtime-Client-Context", self.client_context))
        return headers

    def begin(self):
        self.started = time.perf_counter()
        self.deadline = self.started + self.timeout_s
        self.deadline_epoch_ms = (time.time() + self.timeout_s) * 1000

    def finish(self, kind, body, detail) -> bool:
        """Record the outcome once; later outcomes (a late response) are ignored."""
        with self._lock:
            if self.result is not None:
                return False
            self.result = (kind, body, detail)
            self.ended = time.perf_counter()
        self.done.set()
        return True


class _OutputPipe:
    """Reads an environment's stdout+stderr; ``drain()`` takes what is already written.

    Its thread ends (and closes the pipe) at the end of the output, or soon after
    ``stop()``: a process the handler left holding the pipe cannot keep it alive."""

    def __init__(self, fd: int, deliver):
        self.fd = fd
        self.deliver = deliver
        self.lock = threading.Lock()
        self.posix = os.name == "posix"
        self.stopped = threading.Event()
        if self.posix:
            os.set_blocking(self.fd, False)
        self.thread = threading.Thread(target=self._run, daemon=True, name="lab-env-output")
        self.thread.start()

    def _run(self):
        while not self.stopped.is_set():
            if self.posix:
                try:
                    select.select([self.fd], [], [], 0.5)
                except (OSError, ValueError):
                    break
            if not self.drain():
                break
        with self.lock:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1

    def drain(self) -> bool:
        """Deliver everything readable now; False once the pipe is closed."""
        with self.lock:
            while self.fd >= 0:
                try:
                    data = os.read(self.fd, 65536)
                except BlockingIOError:
                    return True
                except (OSError, ValueError):
                    return False
                if not data:
                    return False
                self.deliver(data)
                if not self.posix:
                    return True
            return False

    def stop(self):
        self.stopped.set()


def environment_variables(spec, base_env: dict, lambda_variables: dict,
                          tmpdir: str | None = None) -> dict:
    """A function's variables: the lab's defaults, then the function's own (which win
    for the unreserved ones: ``TZ``, ``LANG``, ``PATH``, ...), then what the lab and
    Lambda set and a function cannot change (its endpoint and credentials, ``AWS_REGION``,
    ``_HANDLER``, ...)."""
    env = {"LANG": "en_US.UTF-8", "TZ": ":UTC", **({"TMPDIR": tmpdir} if tmpdir else {})}
    env.update({k: v for k, v in base_env.items() if k in UNRESERVED})
    env.update({k: v for k, v in spec.environment.items()
                if not k.startswith("AWS_ENDPOINT_URL")})  # the lab's endpoint, always
    env.update({k: v for k, v in base_env.items() if k not in UNRESERVED})
    env.update(lambda_variables)
    return env


class ExecutionEnvironment:
    """A process that runs one function version's handler, one invocation at a time.

    Creating one is cheap (the service does it under its lock); ``boot()`` does the
    work, outside it, so a slow cold start delays nobody else."""

    def __init__(self, spec, context: EnvironmentContext):
        self.spec = spec
        self.context = context
        self.id = uuid.uuid4().hex
        self.log_stream = log_stream_name(spec.version, self.id)
        self.created = time.perf_counter()
        self.last_used = self.created
        self.init_duration_ms = None
        self.init_error = None  # (error body, error type) when init failed
        self.invocations = 0
        self.state = "initializing"  # -> idle / busy -> retired / dead
        self.exit_reason = None
        self.mode = None  # how its process runs: "sandbox", "fork" or "spawn"
        self.process = None
        self.server = None
        self.task_root = None
        self._cond = threading.Condition()
        self._pending = None  # handed to this environment, not yet taken by the runtime
        self._current = None  # taken by the runtime, running
        self._between = OutputBuffer()  # output outside any invocation (init, threads)
        self._ready = threading.Event()  # init finished (or failed)
        self._closed = threading.Event()  # the process has exited and everything is freed
        self._output = None
        self._memory = None
        self._front = None
        self._tmp = None
        self._code_held = False

    @property
    def peak_rss_mb(self) -> int:
        return (self._memory.peak_kb + 1023) // 1024 if self._memory else 0

    # -- starting -------------------------------------------------------------------------

    def boot(self) -> None:
        """Unpack (or share) the code and start the runtime; raises if it cannot start."""
        try:
            self._boot()
        except BaseException:
            with self._cond:
                self.state = "dead"
                self._ready.set()
            if self.process is None:
                self._release_resources()
                self._closed.set()
            else:
                self.process.kill()
            raise

    def _boot(self) -> None:
        context, spec = self.context, self.spec
        if not self.alive:
            raise LambdaApiError(503, "ServiceException", "The lab has stopped.")
        try:
            self.task_root = context.code.acquire(spec.code_sha256, spec.code_zip)
        except LambdaApiError as error:
            raise LambdaApiError(502, "InvalidZipFileException",
                                 f"Lambda could not unzip the deployment package: "
                                 f"{error.message}") from None
        self._code_held = True
        sandboxed = context.launcher.sandboxed
        channel = theirs = None
        variables = self._lambda_variables(sandboxed)
        if sandboxed:
            channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        else:
            self._tmp = context.workdir / "tmp" / self.id
            self._tmp.mkdir(parents=True)
            self.server = RuntimeApiServer(self)
            variables["AWS_LAMBDA_RUNTIME_API"] = self.server.address
        env = environment_variables(spec, context.base_env, variables,
                                    tmpdir=None if sandboxed else str(self._tmp))
        read_fd, write_fd = os.pipe()
        try:
            self.process = context.launcher.start(
                self.id, env, self.task_root, write_fd, context.runtime_client,
                tmp_mb=spec.ephemeral_storage,
                handoff_fd=theirs.fileno() if theirs is not None else None)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
            if theirs is not None:
                theirs.close()
        self.mode = self.process.mode
        self._output = _OutputPipe(read_fd, self._deliver_output)
        self._memory = MemoryWatch(self.process.pid)
        self.process.on_exit(self._exited)
        if sandboxed:
            self._receive_endpoints(channel)
        if not self.alive:  # ended (the lab stopping) while it started
            self.process.kill()

    def _receive_endpoints(self, channel) -> None:
        """A sandbox's two listening sockets: its Runtime API, and the AWS endpoint."""
        channel.settimeout(HANDOFF_TIMEOUT_S)
        try:
            _, fds, _, _ = socket.recv_fds(channel, 64, 2)
        except OSError:
            fds = []
        finally:
            channel.close()
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return  # the runtime did not start: its exit reports why
        runtime_api, front = (socket.socket(fileno=fd) for fd in fds)
        self.server = RuntimeApiServer(self, sock=runtime_api)
        if self.context.serve_front is not None:
            self._front = self.context.serve_front(front)
        else:
            front.close()
        if self.state in ("retired", "dead"):  # ended while the endpoints were on their way
            self._close_endpoints()

    def _lambda_variables(self, sandboxed: bool) -> dict:
        spec = self.spec
        runtime = spec.runtime or "python3.12"
        return {
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_RUNTIME_API": SANDBOX_RUNTIME_API if sandboxed else "",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "LAMBDA_TASK_ROOT": SANDBOX_TASK_ROOT if sandboxed else str(self.task_root),
            "LAMBDA_RUNTIME_DIR": SANDBOX_RUNTIME_DIR if sandboxed else str(RUNTIME_DIR),
        }

    # -- called by the Runtime API server (the runtime's side) ------------------------

    def next_invocation(self):
        if self.init_duration_ms is None and self._output is not None:
            self._output.drain()  # what the Init phase printed belongs before START
        with self._cond:
            if self.init_duration_ms is None:
                self.init_duration_ms = (time.perf_counter() - self.created) * 1000
                self._ready.set()
            while self._pending is None and self.state not in ("retired", "dead"):
                self._cond.wait()
            if self._pending is None:
                return None
            invocation, self._pending = self._pending, None
            invocation.preamble, self._between = self._between, OutputBuffer()
            invocation.begin()
            self._current = invocation
            return invocation

    def invocation_succeeded(self, request_id, body, content_type):
        self._output.drain()
        invocation = self._take_current(request_id)
        if invocation is None:
            return 400
        if body is None or len(body) > MAX_RESPONSE_BYTES:  # None: over the limit, unread
            invocation.finish("error", None, "Function.ResponseSizeTooLarge")
            return 413
        invocation.finish("response", body, content_type)
        return 202

    def invocation_failed(self, request_id, body, error_type):
        self._output.drain()
        invocation = self._take_current(request_id)
        if invocation is None:
            return 400
        invocation.finish("error", body, error_type or "Unhandled")
        return 202

    def init_failed(self, body, error_type):
        self._output.drain()
        with self._cond:
            self.init_error = (body, error_type or "Runtime.Unknown")
            if self.init_duration_ms is None:
                self.init_duration_ms = (time.perf_counter() - self.created) * 1000
            invocation, self._pending = self._pending, None
            self._ready.set()
        if invocation is not None:
            invocation.preamble, self._between = self._between, OutputBuffer()
            invocation.begin()
            invocation.finish("init_error", body, error_type)

    def _take_current(self, request_id):
        with self._cond:
            invocation = self._current
            if invocation is None or invocation.request_id != request_id:
                return None
            self._current = None
            return invocation

    def _deliver_output(self, data: bytes):
        with self._cond:
            target = self._current.output if self._current else self._between
            target.write(data)

    # -- called by the Lambda service ---------------------------------------------------

    def start(self, invocation: Invocation) -> None:
        with self._cond:
            self.state = "busy"
            self.invocations += 1
            self._pending = invocation
            self._cond.notify_all()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def release(self) -> None:
        with self._cond:
            if self.state == "busy":
                self.state = "idle"
            self.last_used = time.perf_counter()

    @property
    def alive(self) -> bool:
        return self.state not in ("retired", "dead")

    def sample_memory(self) -> int:
        """Resident memory of the environment's processes now, in MB (0 without /proc)."""
        return (self._memory.sample() + 1023) // 1024 if self._memory else 0

    def drain_output(self):
        if self._output is not None:
            self._output.drain()

    def kill(self, reason: str) -> None:
        """Discard the environment at once (timeout, memory, lab stop)."""
        with self._cond:
            if self.state == "dead":
                return
            self.state = "dead"
            self.exit_reason = reason
            self._cond.notify_all()
        self._end()

    def retire(self) -> None:
        """End an idle environment (idle reaping, new code, lab stop)."""
        with self._cond:
            if not self.alive:
                return
            self.state = "retired"
            self._cond.notify_all()
        self._end()

    def _end(self):
        if self.process is not None:
            self.process.kill()
        # else: still booting; boot() sees the state and ends it

    def _exited(self, code: int) -> None:
        """The runtime's process ended (the supervisor, or a waiting thread, says so)."""
        if self._output is not None:
            self._output.drain()  # what the process wrote before it ended
        with self._cond:
            if self.state != "retired":
                self.state = "dead"
            self._ready.set()
            invocation = self._current or self._pending
            self._current = self._pending = None
            self._cond.notify_all()
        if invocation is not None:
            if invocation.started is None:
                invocation.preamble = self._between
                invocation.begin()
            else:
                invocation.output.extend(self._between)
            invocation.finish("exit", None, self.exit_description(code))
        self._release_resources()
        self._closed.set()

    def _close_endpoints(self) -> None:
        for server in (self.server, self._front):
            if server is not None:
                server.close()

    def _release_resources(self) -> None:
        self._close_endpoints()
        if self._memory is not None:
            self._memory.close()
        if self._output is not None:
            self._output.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if self._code_held:
            self._code_held = False
            self.context.code.release(self.spec.code_sha256)

    def exit_description(self, code: int) -> str:
        if code == 0:
            return "Runtime exited without providing a reason"
        if code < 0:
            name = SIGNAL_NAMES.get(-code, f"signal {-code}")
            return f"Runtime exited with error: signal: {name}"
        return f"Runtime exited with error: exit status {code}"

    def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the process has exited and its resources are freed."""
        self._closed.wait(timeout)

