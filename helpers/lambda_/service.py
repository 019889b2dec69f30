"""The lab's Lambda service: what happens between ``invoke`` and the handler.

moto keeps the functions (the control plane); this module runs them (the data plane),
with the behaviour AWS documents for synchronous invocation: 200 with the payload, or
``FunctionError: Unhandled`` with an error object; ``Sandbox.Timedout``;
``Runtime.ExitError``; payload limits; START / END / REPORT lines in CloudWatch Logs;
the 4 KB log tail. Introduced in notebook 01.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field

from ..aws import MAX_SYNC_RESPONSE
from ..errors import LambdaApiError
from ..trace import Trace
from .async_queue import AsyncEvent, AsyncInvoker, ScaledClock
from .environments import EnvironmentContext, ExecutionEnvironment, Invocation
from .logs import iso_now, report_line
from .packages import CodeStore
from .processes import Launcher

UNRESERVED_MINIMUM = 100  # concurrency that reserved concurrency must leave to the rest
INIT_LIMIT_S = 10.0  # the Init phase of an on-demand function
POLL_S = 0.02  # how often a running invocation's memory is checked

__all__ = ["InvokeOutcome", "LambdaService"]


@dataclass
class InvokeOutcome:
    """What a synchronous caller gets back (and what the logs and trace record)."""

    request_id: str
    payload: bytes
    executed_version: str
    function_error: str | None = None
    error_type: str | None = None
    log_text: str = ""
    cold_start: bool = False
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    environment_id: str | None = None
    headers: dict = field(default_factory=dict)


def _qualifier(invoked_arn: str) -> str | None:
    """The version or alias in an invoked ARN (None when unqualified)."""
    parts = invoked_arn.split(":")
    return parts[7] if len(parts) > 7 else None


def _throttled(reason: str) -> LambdaApiError:
    return LambdaApiError(429, "TooManyRequestsException", "Rate Exceeded.", Reason=reason)


class _LogWriter:
    """Writes log events to CloudWatch Logs (moto) off the invoke path, in batches."""

    BATCH_WAIT_S = 0.05

    def __init__(self, write_logs):
        self.write_logs = write_logs  # write_logs(group, stream, [(ms, line)], region)
        self.queue = queue.Queue()
        self.hurry = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="lab-log-writer")
        self.thread.start()

    def write(self, group, stream, events, region):
        self.queue.put((group, stream, events, region))

    def flush(self):
        self.hurry.set()
        self.queue.join()

    def close(self):
        self.queue.put(None)
        self.hurry.set()
        self.thread.join(timeout=5)

    def _run(self):
        while True:
            items = [self.queue.get()]
            self.hurry.wait(self.BATCH_WAIT_S)
            self.hurry.clear()
            while True:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            batches = {}
            for item in items:
                if item is not None:
                    group, stream, events, region = item
                    batches.setdefault((group, stream, region), []).extend(events)
            for (group, stream, region), events in batches.items():
                try:
                    self.write_logs(group, stream, events, region)
                except Exception:  # a failed write must never stop later ones
                    pass
            for _ in items:
                self.queue.task_done()
            if None in items:
                return


class _Pool:
    """The execution environments of one function version."""

    def __init__(self):
        self.environments: list[ExecutionEnvironment] = []
        self.fingerprint = None


class LambdaService:
    """Runs functions: concurrency, execution environments, logs and the async queue.

    ``functions`` reads specs from moto's state (``helpers.cloud.lambda_state``),
    ``settings`` holds what the lab keeps itself (``helpers.lambda_.functions``),
    ``sender`` delivers to destinations (``helpers.send``) and ``write_logs`` appends
    lines to CloudWatch Logs.
    """

    def __init__(self, workdir, base_env: dict, functions, settings, sender, write_logs,
                 trace: Trace | None = None, idle_timeout: float = 300.0,
                 runtime_client: str = "builtin", speedup: float = 1.0,
                 account_concurrency: int = 120, async_workers: int = 8,
                 environments: str = "auto", serve_front=None):
        self.workdir = workdir
        self.base_env = base_env  # credentials, endpoint, config-file shields
        self.launcher = Launcher(workdir, environments)
        self.context = EnvironmentContext(workdir, base_env, self.launcher,
                                          CodeStore(workdir), serve_front, runtime_client)
        self.functions = functions
        self.settings = settings
        self.sender = sender
        self.idle_timeout = idle_timeout
        self.runtime_client = runtime_client
        self.account_concurrency = account_concurrency
        self.trace = trace or Trace()
        self.clock = ScaledClock(speedup)
        self._pools: dict[tuple[str, str], _Pool] = {}
        self._active: dict[str, int] = {}  # function ARN -> environments initializing or busy
        self._reservations: dict[str, int | None] = {}  # function ARN -> reserved concurrency
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._logs = _LogWriter(write_logs)
        self.events = AsyncInvoker(self, self.trace, self.clock, workers=async_workers)
        self._reaper = threading.Thread(target=self._reap, daemon=True, name="lab-reaper")
        self._reaper.start()

    def submit_event(self, spec, payload, invoked_arn, request_id, function_name, qualifier,
                     account_id, region, source="api", lineage=None):
        """Put an event in the asynchronous queue (the 202 path).

        ``lineage``: the recursion lineage of the request that caused the event (an S3
        notification's, see helpers/lambda_/recursion.py), or None when nobody tracks it.
        """
        if source != "api":
            self.trace.record("invoke", request_id=request_id, function=spec.arn,
                              version=spec.version, invocation_type="Event", source=source)
        event = AsyncEvent(request_id, function_name, qualifier, payload, account_id, region,
                           invoked_arn=invoked_arn, lineage=lineage)
        self.events.submit(event, spec.arn)
        return event

    def invoke_from_moto(self, fn, body, request_headers, response_headers):
        """A function invoked by one of moto's own services (moto's ``LambdaFunction.invoke``
        calls this, see helpers/cloud/patches.py): run it, return its payload."""
        spec = self.functions.find(fn.function_name, str(fn.version), fn.account_id, fn.region)
        payload = body.encode() if isinstance(body, str) else (body or b"{}")
        outcome = self.invoke(spec, payload or b"{}", spec.version_arn, source="moto")
        if outcome.function_error:
            response_headers["x-amz-function-error"] = outcome.function_error
        return outcome.payload

    # -- running a function -------------------------------------------------------------

    def invoke(self, spec, payload: bytes, invoked_arn: str, client_context=None,
               request_id=None, source="api", attempt=1, lineage=None) -> InvokeOutcome:
        """Run ``spec``'s handler once, synchronously, on a warm or a new environment.

        Raises TooManyRequestsException (429) when concurrency is exhausted.
        """
        if not spec.runtime.startswith("python"):
            raise LambdaApiError(
                502, "InvalidRuntimeException",
                f"The lab runs Python functions only; this function's runtime is "
                f"{spec.runtime or 'not set'}.",
            )
        request_id = request_id or str(uuid.uuid4())
        try:
            environment, cold = self._acquire(spec)
        except LambdaApiError as error:
            if error.status == 429:
                self.trace.record("throttle", request_id=request_id, function=spec.arn,
                                  qualifier=_qualifier(invoked_arn), version=spec.version,
                                  reason=error.reason, source=source)
            raise
        self.trace.record("attempt.start", request_id=request_id, function=spec.arn,
                          qualifier=_qualifier(invoked_arn), version=spec.version,
                          environment=environment.id, cold=cold, attempt=attempt,
                          source=source)
        invocation = Invocation(request_id, payload, invoked_arn, spec.timeout, client_context,
                                lineage=lineage)
        environment.start(invocation)
        try:
            self._wait(environment, invocation, spec, cold)
        finally:
            if environment.alive and invocation.result[0] in ("response", "error"):
                environment.release()
                state = "idle"
            else:
                if environment.alive:
                    environment.kill(invocation.result[0])
                state = "dead"
            self._finished(spec)
            self.trace.record("environment", environment=environment.id, function=spec.arn,
                              state=state)
        outcome = self._outcome(environment, invocation, spec, cold)
        self.trace.record("attempt.end", request_id=request_id, function=spec.arn,
                          environment=environment.id, attempt=attempt, source=source,
                          outcome=invocation.result[0], error_type=outcome.error_type,
                          duration_ms=round(outcome.duration_ms, 2))
        return outcome

    def _acquire(self, spec):
        """A warm environment of ``spec``, or a new one, booted outside the lock."""
        key = (spec.arn, spec.version)
        retired = []
        with self._lock:
            if self._stopped.is_set():
                raise LambdaApiError(503, "ServiceException", "The lab has stopped.")
            self._reservations[spec.arn] = spec.reserved_concurrency
            self._check_concurrency(spec)
            pool = self._pools.setdefault(key, _Pool())
            if pool.fingerprint != spec.fingerprint:
                pool.fingerprint = spec.fingerprint  # new code or configuration
                retired += [env for env in pool.environments if env.state == "idle"]
            pool.environments = [env for env in pool.environments
                                 if env.alive and env not in retired]
            self._active[spec.arn] = self._active.get(spec.arn, 0) + 1
            for env in pool.environments:
                if env.state == "idle" and env.spec.fingerprint == spec.fingerprint:
                    env.state = "busy"
                    cold = False
                    break
            else:
                retired += self._make_room()
                env = ExecutionEnvironment(spec, self.context)
                pool.environments.append(env)
                cold = True
        for old in retired:
            old.retire()
            self.trace.record("environment", environment=old.id, function=old.spec.arn,
                              state="retired")
        if cold:
            try:
                env.boot()
            except BaseException:
                with self._lock:
                    if env in pool.environments:
                        pool.environments.remove(env)
                self._finished(spec)
                raise
        how = {"mode": env.mode} if cold else {}  # "sandbox", "fork" or "spawn"
        self.trace.record("environment", environment=env.id, function=spec.arn,
                          version=spec.version, state="initializing" if cold else "busy",
                          **how)
        return env, cold

    def _make_room(self) -> list:
        """Idle environments to end so that a new one keeps the total within the account's
        concurrency (the least recently used first): every process is bounded."""
        live = [env for pool in self._pools.values() for env in pool.environments
                if env.alive]
        excess = len(live) + 1 - self.account_concurrency
        if excess <= 0:
            return []
        idle = sorted((env for env in live if env.state == "idle"), key=lambda e: e.last_used)
        chosen = idle[:excess]
        for pool in self._pools.values():
            pool.environments = [env for env in pool.environments if env not in chosen]
        return chosen

    def _check_concurrency(self, spec):
        """Throttle as Lambda does: reserved concurrency, then the account's unreserved pool."""
        active = self._active.get(spec.arn, 0)
        if spec.reserved_concurrency is not None:
            if active >= spec.reserved_concurrency:
                raise _throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
            return
        unreserved_active = sum(
            count for arn, count in self._active.items() if self._reservations.get(arn) is None
        )
        if unreserved_active < UNRESERVED_MINIMUM:
            return  # always available, whatever is reserved elsewhere
        reserved = self.functions.reserved_total(spec.account_id, spec.region)
        if unreserved_active >= self.account_concurrency - reserved:
            raise _throttled("ConcurrentInvocationLimitExceeded")

    def _finished(self, spec):
        with self._lock:
            self._active[spec.arn] = max(self._active.get(spec.arn, 1) - 1, 0)

    def _wait(self, environment, invocation, spec, cold):
        if cold and not environment.wait_ready(INIT_LIMIT_S):
            # Lambda retries a slow Init inside the invoke, with the function's timeout.
            environment.wait_ready(spec.timeout)
        if invocation.started is None:
            invocation.done.wait(0.05)
        limit_mb = spec.memory_size
        while not invocation.done.wait(POLL_S):
            if environment.sample_memory() > limit_mb:
                environment.kill("memory")  # its exit finishes the invocation
                invocation.done.wait(5)
                break
            if invocation.started is None:
                if not environment.alive:
                    break
                if not environment.wait_ready(0):
                    environment.kill("timeout")
                    invocation.begin()
                    invocation.finish("timeout", None, None)
                    break
                continue
            if time.perf_counter() >= invocation.deadline:
                environment.drain_output()
                if invocation.finish("timeout", None, None):
                    environment.kill("timeout")
                break
        invocation.done.wait(5)
        if invocation.result is None:
            invocation.begin() if invocation.started is None else None
            invocation.finish("exit", None, "Runtime exited without providing a reason")

    def _outcome(self, environment, invocation, spec, cold) -> InvokeOutcome:
        kind, body, detail = invocation.result
        request_id = invocation.request_id
        duration_ms = ((invocation.ended or time.perf_counter()) - invocation.started) * 1000
        function_error = "Unhandled"
        status = "error"
        if kind == "response":
            payload, function_error, error_type, status = body, None, None, None
        elif kind in ("error", "init_error"):
            error_type = detail
            if body is None:  # Function.ResponseSizeTooLarge
                body = json.dumps({
                    "errorMessage": "Response payload size exceeded maximum allowed payload "
                                    f"size ({MAX_SYNC_RESPONSE} bytes).",
                    "errorType": detail,
                }).encode()
            payload = body
            try:
                error_type = json.loads(body).get("errorType") or detail
            except (ValueError, AttributeError):
                pass
        elif kind == "timeout":
            error_type, status = "Sandbox.Timedout", "timeout"
            duration_ms = spec.timeout * 1000.0
            message = (
                f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds"
            )
            payload = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
        else:  # the runtime process exited
            error_type = "Runtime.ExitError"
            message = f"RequestId: {request_id} Error: {detail}"
            payload = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
        init_ms = environment.init_duration_ms if cold else None
        lines = []
        if cold:
            lines.append(
                f"INIT_START Runtime Version: {spec.runtime or 'python3.12'}.lab\t"
                f"Runtime Version ARN: arn:aws:lambda:{spec.region}::runtime:lab"
            )
        preamble = invocation.preamble.text()
        if kind == "init_error":
            lines.append(preamble.rstrip("\n")) if preamble else None
            lines.append(
                f"INIT_REPORT Init Duration: {init_ms or 0:.2f} ms\tPhase: init\t"
                f"Status: error\tError Type: {error_type}"
            )
            preamble = ""
        elif preamble:
            lines.append(preamble.rstrip("\n"))
        lines.append(f"START RequestId: {request_id} Version: {spec.version}")
        output = invocation.output.text()
        if output:
            lines.append(output.rstrip("\n"))
        if kind == "exit":
            lines.append(f"RequestId: {request_id} Error: {detail}")
        lines.append(f"END RequestId: {request_id}")
        if environment.alive:
            environment.sample_memory()
        memory_used = environment.peak_rss_mb
        if kind == "exit" and environment.exit_reason == "memory":
            memory_used = max(memory_used, spec.memory_size)
            error_type_logged = "Runtime.OutOfMemory"
        else:
            error_type_logged = error_type
        lines.append(report_line(
            request_id, duration_ms, spec.memory_size, memory_used,
            init_duration_ms=init_ms if kind != "init_error" else None,
            status=status, error_type=error_type_logged if status == "error" else None,
        ))
        if kind == "timeout":
            lines.append(
                f"{iso_now()} {request_id} Task timed out after {spec.timeout:.2f} seconds"
            )
        log_text = "\n".join(lines) + "\n"
        self._write_logs(spec, environment, log_text)
        return InvokeOutcome(
            request_id=request_id,
            payload=payload,
            executed_version=spec.version,
            function_error=function_error,
            error_type=error_type,
            log_text=log_text,
            cold_start=cold,
            duration_ms=duration_ms,
            init_duration_ms=init_ms,
            environment_id=environment.id,
        )

    def _write_logs(self, spec, environment, log_text):
        now = int(time.time() * 1000)
        events = [(now, line) for line in log_text.rstrip("\n").split("\n")]
        self._logs.write(f"/aws/lambda/{spec.name}", environment.log_stream, events, spec.region)

    def flush_logs(self):
        """Wait until every log line written so far is in CloudWatch Logs."""
        self._logs.flush()

    # -- environments -------------------------------------------------------------------

    def environments(self) -> list[ExecutionEnvironment]:
        with self._lock:
            return [env for pool in self._pools.values() for env in pool.environments
                    if env.alive]

    def _reap(self):
        while not self._stopped.wait(1.0):
            now = time.perf_counter()
            with self._lock:
                for pool in self._pools.values():
                    for env in pool.environments:
                        stale = env.spec.fingerprint != pool.fingerprint
                        idle_for = now - env.last_used
                        if env.state == "idle" and (stale or idle_for > self.idle_timeout):
                            env.retire()
                            self.trace.record("environment", environment=env.id,
                                              function=env.spec.arn, state="retired")
                    pool.environments = [env for env in pool.environments if env.alive]

    def retire_function(self, function_arn: str) -> None:
        """The function was deleted: its idle environments end now, busy ones when done."""
        with self._lock:
            pools = [pool for (arn, _), pool in self._pools.items() if arn == function_arn]
            for pool in pools:
                pool.fingerprint = None  # a busy environment retires once it is released
                for env in pool.environments:
                    if env.state == "idle":
                        env.retire()
                        self.trace.record("environment", environment=env.id,
                                          function=function_arn, state="retired")
                pool.environments = [env for env in pool.environments if env.alive]

    def stop(self) -> list:
        """Stop everything; returns the asynchronous events that were still pending."""
        pending = self.events.stop()
        self._stopped.set()
        with self._lock:
            environments = [env for pool in self._pools.values() for env in pool.environments]
            self._pools.clear()
        for env in environments:
            env.kill("lab stopped")
        for env in environments:
            env.wait_closed()
        self.launcher.close()
        self._reaper.join(timeout=2)
        self._logs.close()
        return pending
