"""The S3 notifications demo's logic: upload and delete objects, and follow each request.

A plain class, no widgets: ``helpers.s3_notifications_demo`` draws it, notebooks and
tests drive it directly. It sets up a bucket whose notification configuration invokes a small
function for objects under one prefix, makes the S3 requests with plain boto3, and reads
what followed from the lab's trace: the event each request produced, the event's place
in Lambda's asynchronous queue, and how the invocation ended. Introduced in notebook 04.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from .base import PlaygroundBase, PlaygroundInputError, wait_until

PREFIXES = ("uploads/", "tmp/", "")
BEHAVIOURS = ("succeed", "raise an error")
MAX_SIZE = 5 * 1024 * 1024  # what the demo uploads at most (S3 itself takes far more)
MAX_KEY_BYTES = 1024  # S3's limit for an object key (UTF-8)

DEMO_SOURCE = '''
import os
from urllib.parse import unquote_plus

import boto3

s3 = boto3.client("s3")


def lambda_handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])   # the event's key is URL-encoded
        if record["eventName"].startswith("ObjectRemoved"):
            print(f"{key} was removed ({record['eventName']})")
            continue
        if os.environ["BEHAVIOUR"] == "raise an error":
            raise RuntimeError(f"Could not process {key}")
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        print(f"Processed {key}: {size} bytes")
    return "processed"
'''

__all__ = ["BEHAVIOURS", "PREFIXES", "S3DemoError", "S3DemoModel", "S3Request"]


class S3DemoError(PlaygroundInputError):
    """Bad input in the S3 notifications demo, with a message for the learner."""


@dataclass
class S3Request:
    """One request the demo made, as S3 answered it."""

    operation: str  # "PutObject" or "DeleteObject"
    key: str
    size: int | None
    status: int | None = None
    request_id: str | None = None
    error: str | None = None
    seconds: float = 0.0
    started: float = 0.0


class S3DemoModel(PlaygroundBase):
    """Settings, ``upload()`` and ``delete()`` that use them, and ``rows()`` that follow
    each request through S3's event, Lambda's queue and the invocation."""

    def __init__(self, lab, bucket: str = "s3-demo-inbox",
                 function_name: str = "s3-demo-processor", watched_prefix: str = "uploads/"):
        super().__init__(lab)
        self.bucket = bucket
        self.function_name = function_name
        self.watched_prefix = watched_prefix
        self.prefix = watched_prefix
        self.key = "report 1.txt"
        self.size = 1024
        self.behaviour = "succeed"
        self.requests: list[S3Request] = []
        self._deployed_behaviour = None
        self._s3 = boto3.client("s3")
        self._lambda = boto3.client("lambda")
        self.function_arn = None
        self.failure_queue_url = None
        self._setup()

    # -- set-up ----------------------------------------------------------------------------

    def _setup(self):
        sqs = boto3.client("sqs")
        self.failure_queue_url = sqs.create_queue(
            QueueName=f"{self.function_name}-failures")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=self.failure_queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        config = self.lab.deploy(self.function_name, DEMO_SOURCE, timeout=5,
                                 environment={"BEHAVIOUR": self.behaviour})
        self._deployed_behaviour = self.behaviour
        self.function_arn = config["FunctionArn"].rsplit(":$LATEST", 1)[0]
        self._lambda.put_function_event_invoke_config(
            FunctionName=self.function_name,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
        self._s3.create_bucket(Bucket=self.bucket)
        try:
            self._lambda.add_permission(
                FunctionName=self.function_name, StatementId="s3-demo-bucket",
                Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                SourceArn=f"arn:aws:s3:::{self.bucket}")
        except self._lambda.exceptions.ResourceConflictException:
            pass  # set up before, in this lab
        rules = [{"Name": "prefix", "Value": self.watched_prefix}] if self.watched_prefix else []
        config = {"Id": "demo", "LambdaFunctionArn": self.function_arn,
                  "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
        if rules:
            config["Filter"] = {"Key": {"FilterRules": rules}}
        self._s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={"LambdaFunctionConfigurations": [config]})

    def _resources_exist(self) -> bool:
        try:
            self._s3.head_bucket(Bucket=self.bucket)
            self._lambda.get_function_configuration(FunctionName=self.function_name)
            boto3.client("sqs").get_queue_url(QueueName=f"{self.function_name}-failures")
        except ClientError:
            return False
        return True

    def function_arns(self) -> list[str]:
        return [self.function_arn]

    def timeline_labels(self) -> dict:
        return {notice["request_id"]: notice["key"]
                for notice in self.lab.trace.events("s3.notification")
                if notice.get("request_id") and notice.get("bucket") == self.bucket}

    # -- input -----------------------------------------------------------------------------

    def full_key(self) -> str:
        """The object key from the settings, or an S3DemoError saying what is wrong."""
        if self.prefix not in PREFIXES:
            raise S3DemoError(f"Choose a prefix: {', '.join(repr(p) for p in PREFIXES)}.")
        if self.behaviour not in BEHAVIOURS:
            raise S3DemoError(f"Choose a behaviour: {', '.join(BEHAVIOURS)}.")
        name = (self.key or "").strip()
        if not name:
            raise S3DemoError("The key is empty: type a file name, for example report.txt.")
        key = self.prefix + name
        if len(key.encode()) > MAX_KEY_BYTES:
            raise S3DemoError(f"S3 keys are at most {MAX_KEY_BYTES} bytes (UTF-8).")
        return key

    def _check_size(self) -> int:
        if not isinstance(self.size, int) or not 0 <= self.size <= MAX_SIZE:
            raise S3DemoError(f"The size must be between 0 and {MAX_SIZE} bytes.")
        return self.size

    # -- requests --------------------------------------------------------------------------

    def upload(self) -> S3Request:
        """PutObject with the current key and size."""
        key, size = self.full_key(), self._check_size()
        self.ensure_ready()
        self._apply_behaviour()
        body = (b"The quick brown fox jumps over the lazy dog. " * (size // 45 + 1))[:size]
        return self._request("PutObject", key, size,
                             lambda: self._s3.put_object(Bucket=self.bucket, Key=key, Body=body))

    def delete(self) -> S3Request:
        """DeleteObject with the current key."""
        key = self.full_key()
        self.ensure_ready()
        self._apply_behaviour()
        return self._request("DeleteObject", key, None,
                             lambda: self._s3.delete_object(Bucket=self.bucket, Key=key))

    def _apply_behaviour(self):
        with self._lock:
            if self.behaviour != self._deployed_behaviour:
                self._lambda.update_function_configuration(
                    FunctionName=self.function_name,
                    Environment={"Variables": {"BEHAVIOUR": self.behaviour}})
                self._deployed_behaviour = self.behaviour

    def _request(self, operation, key, size, call) -> S3Request:
        request = S3Request(operation, key, size, started=time.time())
        started = time.perf_counter()
        try:
            response = call()
        except ClientError as error:
            meta = error.response["ResponseMetadata"]
            request.status = meta["HTTPStatusCode"]
            request.request_id = meta.get("RequestId")
            request.error = f"{error.response['Error']['Code']}: " \
                            f"{error.response['Error'].get('Message', '')}"
        else:
            request.status = response["ResponseMetadata"]["HTTPStatusCode"]
            request.request_id = response["ResponseMetadata"]["RequestId"]
        request.seconds = time.perf_counter() - started
        with self._lock:
            self.requests.append(request)
        return request

    # -- what happened (from the trace) ---------------------------------------------------

    def rows(self) -> list[dict]:
        """One row per request: the S3 answer, the event, its queue state and outcome."""
        with self._lock:
            requests = list(self.requests)
        notices = {}
        for notice in self.lab.trace.events("s3.notification"):
            notices.setdefault(notice["s3_request_id"], []).append(notice)
        rows = []
        for request in requests:
            row = {
                "when": request.started,
                "request": f"{request.operation} {request.key}"
                           + (f" ({request.size} bytes)" if request.size is not None else ""),
                "answer": (f"{request.status} {request.error}" if request.error
                           else f"{request.status} in {request.seconds * 1000:.0f} ms"),
                "s3_request_id": request.request_id,
                "event": None, "lambda_request_id": None, "queue": "", "outcome": "",
            }
            found = notices.get(request.request_id, [])
            if not found:
                row["event"] = self._why_no_event(request)
            for notice in found[:1]:  # the demo's bucket has one configuration
                row["event"] = notice["event_name"]
                row["lambda_request_id"] = notice.get("request_id")
                row["queue"], row["outcome"] = self._queue_state(notice)
            rows.append(row)
        return rows

    def _why_no_event(self, request: S3Request) -> str:
        if request.error:
            return "no event: the request failed"
        if not request.key.startswith(self.watched_prefix):
            return f"no event: the configuration watches {self.watched_prefix!r} only"
        if request.operation == "DeleteObject":
            return "no event: there was no such object"
        return "no event yet"

    def _queue_state(self, notice) -> tuple[str, str]:
        if notice.get("outcome") != "queued":
            return "not queued", f"{notice.get('outcome')}: {notice.get('reason', '')}"
        state, outcome = "waiting in the queue", ""
        for event in self.lab.trace.events(request_id=notice["request_id"]):
            if event.kind == "attempt.start":
                state = f"running (attempt {event['attempt']})"
            elif event.kind == "attempt.end":
                state = f"attempt {event['attempt']}: {event['outcome']}"
            elif event.kind == "event.retry":
                state = (f"retry scheduled (AWS waits {event['aws_delay_s']} s, the lab "
                         f"{event['lab_delay_s']:.1f} s)")
            elif event.kind == "event.completed":
                state = "done"
                outcome = _completed(event)
        return state, outcome

    def event_for(self, row: dict) -> dict | None:
        """The event S3 sent for a row (as the function received it), or None."""
        if not row.get("lambda_request_id"):
            return None
        for notice in self.lab.trace.events("s3.notification",
                                            request_id=row["lambda_request_id"]):
            if "event" in notice.fields:
                return notice["event"]
        return None

    def pending(self) -> int:
        return sum(1 for row in self.rows() if row["lambda_request_id"] and not row["outcome"])

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until every event of the demo's requests has an outcome; False if one has
        none after ``timeout`` seconds."""
        try:
            return wait_until(lambda: not self.pending(), timeout,
                              "the events of the demo's S3 requests to end")
        except TimeoutError:
            return False

    def describe(self) -> str:
        """The rows as text (for code cells and logs)."""
        lines = []
        for row in self.rows():
            lines.append(f"{row['request']}: {row['answer'].split(' in ')[0]}")
            lines.append(f"    event:   {row['event']}")
            if row["lambda_request_id"]:
                lines.append(f"    queue:   {row['queue']}")
                lines.append(f"    outcome: {row['outcome']}")
        return "\n".join(lines)

    def event_text(self, row: dict) -> str:
        event = self.event_for(row)
        return json.dumps(event, indent=2) if event else ""


def _completed(event) -> str:
    outcome = event["outcome"]
    if outcome == "succeeded":
        return "succeeded" + (f" after {event['attempts']} attempts" if event.get(
            "attempts", 1) > 1 else "")
    if outcome == "delivered":
        names = ", ".join(target.rsplit(":", 1)[-1] for target in event.get("targets", []))
        return f"sent to {names} ({event.get('condition')})"
    return f"dropped: {event.get('reason')}"
