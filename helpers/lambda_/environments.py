"""Execution environments: one process each, running a handler through the Runtime API.

An environment is created on a cold start: the function's zip is unpacked into its own
task root, a process starts with Lambda's environment variables (and the function's
own, and nothing else from the kernel), imports the handler once, and then asks the
Runtime API for invocations, one at a time, keeping its globals between them (warm
starts). A timed-out or crashed environment is discarded. Introduced in notebook 01.
"""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path

from ..aws import MAX_SYNC_PAYLOAD
from .logs import OutputBuffer, log_stream_name
from .recursion import format_lineage
from .runtime_api import RuntimeApiServer

RUNTIME_CLIENT = Path(__file__).with_name("runtime_client.py")
MAX_RESPONSE_BYTES = MAX_SYNC_PAYLOAD
# awslambdaric imports the handler module from sys.path, which Lambda's own bootstrap
# (and ``python -m`` without ``-I``) starts with the task root; ``-I`` leaves it out.
AWSLAMBDARIC_MAIN = (
    "import os, runpy, sys; sys.path.insert(0, os.environ['LAMBDA_TASK_ROOT']); "
    "runpy.run_module('awslambdaric', run_name='__main__', alter_sys=True)"
)
SIGNAL_NAMES = {  # as Lambda reports a runtime killed by a signal (Go's names)
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
} if hasattr(signal, "SIGKILL") else {}

__all__ = ["ExecutionEnvironment", "Invocation"]


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
    """Reads an environment's stdout+stderr; ``drain()`` takes what is already written."""

    def __init__(self, stream, deliver):
        self.fd = stream.fileno()
        self.deliver = deliver
        self.lock = threading.Lock()
        self.posix = os.name == "posix"
        if self.posix:
            os.set_blocking(self.fd, False)
        self.thread = threading.Thread(target=self._run, daemon=True, name="lab-env-output")
        self.thread.start()

    def _run(self):
        while True:
            if self.posix:
                try:
                    select.select([self.fd], [], [], 1.0)
                except (OSError, ValueError):
                    return
            if not self.drain():
                return

    def drain(self) -> bool:
        """Deliver everything readable now; False once the pipe is closed."""
        with self.lock:
            while True:
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


def _kilobytes(status: bytes, field: bytes) -> int:
    """A ``VmRSS:   1234 kB`` figure of /proc/PID/status (0 if it is not there)."""
    start = status.find(field)
    if start < 0:
        return 0
    return int(status[start + len(field):status.index(b"kB", start)])


class ExecutionEnvironment:
    """A process that runs one function version's handler, one invocation at a time."""

    def __init__(self, spec, workdir: Path, base_env: dict, runtime_client: str = "builtin"):
        self.spec = spec
        self.id = uuid.uuid4().hex
        self.log_stream = log_stream_name(spec.version, self.id)
        self.created = time.perf_counter()
        self.last_used = self.created
        self.init_duration_ms = None
        self.init_error = None  # (error body, error type) when init failed
        self.invocations = 0
        self.state = "initializing"  # -> idle / busy -> retired / dead
        self.exit_reason = None
        self._cond = threading.Condition()
        self._pending = None  # handed to this environment, not yet taken by the runtime
        self._current = None  # taken by the runtime, running
        self._between = OutputBuffer()  # output outside any invocation (init, threads)
        self._ready = threading.Event()  # init finished (or failed)
        self._closed = threading.Event()  # the process has exited and the Runtime API closed
        self.peak_rss_mb = 0
        self._status_fd = None  # /proc/PID/status, opened on first use (Linux)
        self._status_lock = threading.Lock()

        self.task_root = workdir / self.id / "task"
        self.task_root.mkdir(parents=True)
        with zipfile.ZipFile(io.BytesIO(spec.code_zip)) as archive:
            archive.extractall(self.task_root)

        self.server = RuntimeApiServer(self)
        env = dict(spec.environment)
        env.update(base_env)
        env.update(self._lambda_variables())
        if runtime_client == "awslambdaric":
            command = [sys.executable, "-I", "-u", "-c", AWSLAMBDARIC_MAIN, spec.handler]
        else:
            command = [sys.executable, "-I", "-u", str(RUNTIME_CLIENT)]
        self.process = subprocess.Popen(
            command,
            cwd=self.task_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=(os.name == "posix"),
        )
        self._output = _OutputPipe(self.process.stdout, self._deliver_output)
        threading.Thread(target=self._watch_exit, daemon=True, name="lab-env-exit").start()

    def _lambda_variables(self):
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
            "AWS_LAMBDA_RUNTIME_API": self.server.address,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(RUNTIME_CLIENT.parent),
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
        }

    # -- called by the Runtime API server (the runtime's side) ------------------------

    def next_invocation(self):
        output = getattr(self, "_output", None)  # set just after the process starts
        if self.init_duration_ms is None and output is not None:
            output.drain()  # what the Init phase printed belongs before START
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
        """Resident memory now, in MB, remembering the peak (Linux; 0 without /proc).

        The process's status file stays open: reading it again from the start gives
        fresh figures, without opening it on every invoke."""
        rss = peak = 0
        try:
            with self._status_lock:  # the exit watcher closes it
                if self._status_fd is None and self.state != "dead":
                    self._status_fd = os.open(f"/proc/{self.process.pid}/status",
                                              os.O_RDONLY)
                status = os.pread(self._status_fd, 4096, 0) if self._status_fd else b""
            rss = _kilobytes(status, b"VmRSS:")
            peak = _kilobytes(status, b"VmHWM:")
        except (OSError, ValueError, IndexError):
            pass
        rss, peak = (rss + 1023) // 1024, (peak + 1023) // 1024
        self.peak_rss_mb = max(self.peak_rss_mb, peak, rss)
        return rss

    def drain_output(self):
        self._output.drain()

    def kill(self, reason: str) -> None:
        """Discard the environment at once (timeout, memory, lab stop)."""
        with self._cond:
            if self.state == "dead":
                return
            self.state = "dead"
            self.exit_reason = reason
            self._cond.notify_all()
        self._kill_process()

    def retire(self) -> None:
        """End an idle environment (idle reaping, new code, lab stop)."""
        with self._cond:
            if not self.alive:
                return
            self.state = "retired"
            self._cond.notify_all()
        self._kill_process()

    def _kill_process(self):
        try:
            if os.name == "posix":
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
        except (ProcessLookupError, PermissionError, OSError):
            pass

    def _watch_exit(self):
        code = self.process.wait()
        self._kill_process()  # the sandbox goes with its runtime: end what it started
        self._output.thread.join(timeout=2)
        self._output.drain()
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
        self.server.close()
        with self._status_lock:
            if self._status_fd is not None:
                os.close(self._status_fd)
                self._status_fd = None
        self._closed.set()
        try:
            self.process.stdout.close()
        except OSError:
            pass

    def exit_description(self, code: int) -> str:
        if code == 0:
            return "Runtime exited without providing a reason"
        if code < 0:
            name = SIGNAL_NAMES.get(-code, f"signal {-code}")
            return f"Runtime exited with error: signal: {name}"
        return f"Runtime exited with error: exit status {code}"

    def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the process has exited and its Runtime API port is closed."""
        self._closed.wait(timeout)
