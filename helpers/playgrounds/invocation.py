"""The invocation playground's logic: invoke a demo function and describe what happens.

A plain class, no widgets: ``helpers.invocation_playground`` draws it, notebooks and
tests drive it directly. It invokes with plain boto3 and reads everything else (the
asynchronous queue, the execution environments, the timeline) from the lab's trace.
Introduced in notebook 01, used in 01-03.
"""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .base import PlaygroundBase, PlaygroundInputError
from .timeline import environment_names

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
BEHAVIOURS = ("succeed", "raise an error", "sleep past the timeout")
MAX_COUNT = 20
MAX_PAYLOAD_CHARS = 1024 * 1024  # what the playground accepts; Lambda's own limits apply too

DEMO_SOURCE = '''
import os
import time


def lambda_handler(event, context):
    behaviour = os.environ["BEHAVIOUR"]
    print(f"Received {event!r}; behaviour: {behaviour}")
    if behaviour == "raise an error":
        raise RuntimeError("The demo function was told to fail")
    if behaviour == "sleep past the timeout":
        time.sleep(context.get_remaining_time_in_millis() / 1000 + 5)
    return {"received": event, "request_id": context.aws_request_id}
'''

__all__ = ["BEHAVIOURS", "INVOCATION_TYPES", "InvokeResult", "PlaygroundError",
           "PlaygroundModel"]


class PlaygroundError(PlaygroundInputError):
    """Bad input in the playground, with a message for the learner."""


@dataclass
class InvokeResult:
    """One invoke as the caller saw it."""

    invocation_type: str
    status: int | None = None
    request_id: str | None = None
    function_error: str | None = None
    executed_version: str | None = None
    payload: str = ""
    log_tail: str | None = None
    api_error: str | None = None  # an error of the Invoke API itself (4xx/5xx)
    seconds: float = 0.0
    headers: dict = field(default_factory=dict)

    @property
    def summary(self) -> str:
        if self.api_error:
            return f"{self.status} {self.api_error}"
        extra = f", FunctionError: {self.function_error}" if self.function_error else ""
        return f"{self.status}{extra} in {self.seconds * 1000:.0f} ms"


class PlaygroundModel(PlaygroundBase):
    """Settings, an ``invoke()`` that uses them, and views of the trace for one function."""

    def __init__(self, lab, function_name: str = "playground-demo", timeout: int = 1):
        super().__init__(lab)
        self.function_name = function_name
        self.timeout = timeout
        self.invocation_type = "RequestResponse"
        self.payload_text = '{"order_id": 1}'
        self.behaviour = "succeed"
        self.tail_logs = True
        self.count = 1
        self.results: list[InvokeResult] = []
        self._deployed_behaviour = None
        # No retries on the client: the playground shows exactly what Lambda answered.
        self._client = boto3.client("lambda", config=Config(
            retries={"total_max_attempts": 1}, read_timeout=timeout + 60,
            max_pool_connections=MAX_COUNT))
        self.function_arn = None
        self.failure_queue_url = None
        self._setup()

    # -- set-up --------------------------------------------------------------------------

    def _resources_exist(self) -> bool:
        try:
            self._client.get_function_configuration(FunctionName=self.function_name)
            boto3.client("sqs").get_queue_url(QueueName=f"{self.function_name}-failures")
        except ClientError:
            return False
        return True

    def function_arns(self) -> list[str]:
        return [self.function_arn]

    def _setup(self):
        sqs = boto3.client("sqs")
        self.failure_queue_url = sqs.create_queue(QueueName=f"{self.function_name}-failures")[
            "QueueUrl"]
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=self.failure_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        config = self.lab.deploy(self.function_name, DEMO_SOURCE, timeout=self.timeout,
                                 environment={"BEHAVIOUR": self.behaviour})
        self._deployed_behaviour = self.behaviour
        self.function_arn = config["FunctionArn"].rsplit(":$LATEST", 1)[0]
        self._client.put_function_event_invoke_config(
            FunctionName=self.function_name,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}},
        )

    # -- input ---------------------------------------------------------------------------

    def validate(self) -> bytes:
        """The payload as bytes, or a PlaygroundError saying what is wrong with the input."""
        if self.invocation_type not in INVOCATION_TYPES:
            raise PlaygroundError(f"Choose an invocation type: {', '.join(INVOCATION_TYPES)}.")
        if self.behaviour not in BEHAVIOURS:
            raise PlaygroundError(f"Choose a behaviour: {', '.join(BEHAVIOURS)}.")
        if not isinstance(self.count, int) or not 1 <= self.count <= MAX_COUNT:
            raise PlaygroundError(f"Invoke between 1 and {MAX_COUNT} times at once.")
        text = (self.payload_text or "").strip()
        if not text:
            raise PlaygroundError("The payload is empty: Lambda needs JSON, for example {}.")
        if len(text) > MAX_PAYLOAD_CHARS:
            raise PlaygroundError("The payload is over 1 MB: the playground stops here.")
        try:
            json.loads(text)
        except ValueError as error:
            raise PlaygroundError(f"The payload is not valid JSON: {error}.") from None
        return text.encode()

    # -- invoking --------------------------------------------------------------------------

    def invoke(self) -> list[InvokeResult]:
        """Invoke ``count`` times at once with the current settings; returns the results."""
        payload = self.validate()
        self.ensure_ready()
        with self._lock:
            if self.behaviour != self._deployed_behaviour:
                self._client.update_function_configuration(
                    FunctionName=self.function_name,
                    Environment={"Variables": {"BEHAVIOUR": self.behaviour}},
                )
                self._deployed_behaviour = self.behaviour
        with ThreadPoolExecutor(max_workers=self.count) as pool:
            results = list(pool.map(lambda _: self._invoke_once(payload), range(self.count)))
        with self._lock:
            self.results = results
        return results

    def _invoke_once(self, payload: bytes) -> InvokeResult:
        result = InvokeResult(self.invocation_type)
        options = {"FunctionName": self.function_name, "Payload": payload,
                   "InvocationType": self.invocation_type}
        if self.tail_logs:
            options["LogType"] = "Tail"
        started = time.perf_counter()
        try:
            response = self._client.invoke(**options)
        except ClientError as error:
            result.status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            result.api_error = (f"{error.response['Error']['Code']}: "
                                f"{error.response['Error'].get('Message', '')}")
            result.request_id = error.response["ResponseMetadata"].get("RequestId")
        else:
            result.status = response["StatusCode"]
            result.request_id = response["ResponseMetadata"]["RequestId"]
            result.function_error = response.get("FunctionError")
            result.executed_version = response.get("ExecutedVersion")
            result.payload = response["Payload"].read().decode("utf-8", "replace")
            if response.get("LogResult"):
                result.log_tail = base64.b64decode(response["LogResult"]).decode(
                    "utf-8", "replace")
            result.headers = {
                name: value for name, value in response["ResponseMetadata"]["HTTPHeaders"].items()
                if name.startswith("x-amz")
            }
        result.seconds = time.perf_counter() - started
        return result

    # -- what happened (from the trace) -------------------------------------------------

    def queue_rows(self) -> list[dict]:
        """Each asynchronous event of the demo function and where it is now."""
        rows, by_id = [], {}
        for event in self.lab.trace.events():
            request_id = event.get("request_id")
            if event.kind == "event.queued" and event.get("function") == self.function_arn:
                by_id[request_id] = {"request_id": request_id, "state": "waiting in the queue",
                                     "attempts": 0, "queued": event.time}
                rows.append(by_id[request_id])
                continue
            row = by_id.get(request_id)
            if row is None:
                continue
            if event.kind == "attempt.start":
                row["state"] = f"running (attempt {event['attempt']})"
                row["attempts"] = event["attempt"]
            elif event.kind == "attempt.end":
                row["state"] = f"attempt {event['attempt']}: {event['outcome']}"
            elif event.kind == "throttle":
                row["state"] = "throttled"
            elif event.kind == "event.retry":
                row["due"] = event["due"]
                row["aws_delay_s"] = event["aws_delay_s"]
                row["retry_reason"] = event["reason"]
                row["state"] = "retry scheduled"
            elif event.kind == "event.completed":
                row.pop("due", None)
                row["state"] = _completed_state(event)
        now = time.time()
        speedup = self.lab.speedup
        for row in rows:
            if "due" in row and row["state"] == "retry scheduled":
                left = max(row["due"] - now, 0.0)
                row["state"] = (f"retry in {left:.1f} s (AWS waits {row['aws_delay_s']} s; "
                                f"{left * speedup:.0f} s left in AWS time)")
        return rows

    def environment_rows(self) -> list[dict]:
        """The demo function's live execution environments: each began with one cold
        start (its Init phase) and served every later invoke warm."""
        names = environment_names(self.lab.trace, self.function_arns())
        rows = []
        for env in self.lab.environments(self.function_name):
            warm = max(env.invocations - 1, 0)
            rows.append({"environment": names.get(env.id, env.id[:8]), "state": env.state,
                         "invocations": env.invocations,
                         "starts": f"1 cold start, {warm} warm" if env.invocations
                         else "cold start (Init) under way"})
        return sorted(rows, key=lambda row: (len(row["environment"]), row["environment"]))

    def timeline_rows(self, limit: int = 20) -> list[dict]:
        """The latest attempts: when they started, how long they took, how they ended."""
        return [{"request_id": span.request_id, "attempt": span.attempt, "cold": span.cold,
                 "environment": span.lane, "started": span.start, "outcome": span.outcome,
                 "seconds": span.seconds}
                for span in self.timeline(limit).attempts()]

    def pending_events(self) -> int:
        return sum(1 for row in self.queue_rows() if not row["state"].startswith(
            ("succeeded", "sent to", "dropped")))


def _completed_state(event) -> str:
    outcome = event["outcome"]
    if outcome == "succeeded":
        return "succeeded"
    if outcome == "delivered":
        names = ", ".join(target.rsplit(":", 1)[-1] for target in event.get("targets", []))
        return f"sent to {names} ({event.get('condition')})"
    return f"dropped: {event.get('reason')}"
