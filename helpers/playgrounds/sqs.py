"""The SQS playground's logic: an order queue, a function that reads it, and what happened.

A plain class, no widgets: ``helpers.sqs_playground`` draws it, notebooks and tests
drive it directly. It sets up, with plain boto3, an order queue with a dead-letter queue
(``maxReceiveCount`` 3), a function that fails a fixed share of the orders, and an event
source mapping between them; it sends orders and reads the queue's counters with the SQS
API and the batches from the lab's trace. Introduced in notebook 06.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from .base import PlaygroundBase, PlaygroundInputError, wait_until

MAX_RECEIVE = 3  # the order queue's redrive policy
FUNCTION_TIMEOUT_S = 1
MAX_SEND = 100
ITEMS = ("keyboard", "mouse", "monitor", "cable", "laptop stand", "headset", "webcam")

# Whether an order fails depends only on its body, so a failing order fails every time
# (a "poison message") and the same orders fail on every run.
DEMO_SOURCE = '''
import hashlib
import json
import os


def fails(record):
    rate = float(os.environ["FAILURE_RATE"])
    digest = int(hashlib.sha256(record["body"].encode()).hexdigest(), 16)
    return digest % 100 < rate * 100


def lambda_handler(event, context):
    failed = [record for record in event["Records"] if fails(record)]
    orders = [json.loads(record["body"])["order_id"] for record in event["Records"]]
    print(f"Batch of {len(orders)}: orders {orders}")
    if os.environ["REPORT_FAILURES"] == "yes":
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in failed]}
    if failed:
        numbers = [json.loads(record["body"])["order_id"] for record in failed]
        raise ValueError(f"Cannot process order(s) {numbers}")
    return {"processed": len(orders)}
'''

__all__ = ["DEMO_SOURCE", "MAX_RECEIVE", "SqsPlaygroundError", "SqsPlaygroundModel",
           "mapping_batches"]


def _label(body):
    """An order's id when the body is an order, else the body itself."""
    try:
        return json.loads(body)["order_id"]
    except (TypeError, ValueError, KeyError):
        return body


def mapping_batches(lab, mapping_uuid: str, labels: dict | None = None) -> list[dict]:
    """The batches an event source mapping has made so far, from the lab's trace.

    Each row, in the order the batches were received: ``batch`` (1, 2, ...),
    ``messages`` (each message's order id, or its body), ``receive_counts``,
    ``trigger`` (why the batch was invoked then), ``outcome``
    (``success``, ``partial``, ``error``, ...; ``None`` while invoking), ``deleted`` and
    ``retried`` (the messages Lambda deleted, and those it left in the queue). Messages
    that matched no filter appear as rows with the outcome ``filtered out``.
    ``labels`` maps message ids to labels of your own. Introduced in notebook 06.
    """
    labels = dict(labels or {})
    rows, by_batch = [], {}
    for event in lab.trace.events("batch", mapping=mapping_uuid):
        ids = event.get("message_ids") or []
        bodies = event.get("bodies") or [None] * len(ids)
        for message_id, body in zip(ids, bodies, strict=True):
            labels.setdefault(message_id, _label(body) if body is not None
                              else message_id[:8])
        if event.kind == "batch.start":
            row = {"batch": event.get("number"), "messages": [labels[i] for i in ids],
                   "receive_counts": list(event.get("receive_counts") or []),
                   "trigger": event.get("trigger"), "outcome": None,
                   "deleted": [], "retried": [], "time": event.time}
            by_batch[event["batch"]] = row
            rows.append(row)
        elif event.kind == "batch.end" and event.get("batch") in by_batch:
            row = by_batch[event["batch"]]
            row["outcome"] = event["outcome"]
            row["deleted"] = [labels.get(i, i[:8]) for i in event["deleted"]]
            row["retried"] = [labels.get(i, i[:8]) for i in event["retried"]]
        elif event.kind == "batch.filtered":
            rows.append({"batch": None, "number": event.get("number"),
                         "messages": [labels.get(i, i[:8]) for i in ids],
                         "receive_counts": [], "trigger": None, "outcome": "filtered out",
                         "deleted": [labels.get(i, i[:8]) for i in ids], "retried": [],
                         "time": event.time})
    # workers record batches as they start, concurrently: list them in receive order
    rows.sort(key=lambda row: (row["batch"] or row["number"] or 0, row["batch"] is not None))
    for row in rows:
        row.pop("number", None)
    return rows


class SqsPlaygroundError(PlaygroundInputError):
    """Bad input in the SQS playground, with a message for the learner."""


@dataclass
class Settings:
    batch_size: int = 10
    window: int = 0
    visibility_timeout: int = 2
    failure_rate: float = 0.0
    report_failures: bool = False


class SqsPlaygroundModel(PlaygroundBase):
    """Settings, ``send()`` and views of the queue and of the batches, for one order queue."""

    def __init__(self, lab, name: str = "orders-demo"):
        super().__init__(lab)
        self.queue_name = name
        self.dlq_name = f"{name}-dlq"
        self.function_name = f"{name}-processor"
        self.settings = Settings()
        self.count = 10
        self.orders: dict[str, int] = {}  # message id -> order id, for everything sent
        self.next_order = 1
        self._applied: Settings | None = None
        self._sqs = boto3.client("sqs")
        self._lambda = boto3.client("lambda")
        self.queue_url = self.dlq_url = self.queue_arn = self.mapping_uuid = None
        self.function_arn = None
        self._setup()

    # -- set-up --------------------------------------------------------------------------

    def _queue(self, name: str, attributes: dict) -> tuple[str, str]:
        try:  # reuse it when it exists (a notebook cell run twice)
            url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
            if attributes:
                self._sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        except self._sqs.exceptions.QueueDoesNotExist:
            url = self._sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        return url, arn

    def _setup(self) -> None:
        self.dlq_url, dlq_arn = self._queue(self.dlq_name, {})
        self.queue_url, self.queue_arn = self._queue(self.queue_name, {
            "VisibilityTimeout": str(self.settings.visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                         "maxReceiveCount": MAX_RECEIVE}),
        })
        self._applied = None
        config = self.lab.deploy(self.function_name, DEMO_SOURCE, timeout=FUNCTION_TIMEOUT_S,
                                 environment=self._environment(self.settings))
        self.function_arn = config["FunctionArn"].rsplit(":$LATEST", 1)[0]
        existing = self._mappings_once_deleted()
        if existing:
            self.mapping_uuid = existing[0]["UUID"]
            self._wait_enabled()
            self._lambda.update_event_source_mapping(UUID=self.mapping_uuid,
                                                     **self._mapping_settings(self.settings))
        else:
            self.mapping_uuid = self._lambda.create_event_source_mapping(
                EventSourceArn=self.queue_arn, FunctionName=self.function_name,
                **self._mapping_settings(self.settings))["UUID"]
        self._wait_enabled()
        self._applied = Settings(**vars(self.settings))

    def _mappings_once_deleted(self, timeout_s: float = 15.0) -> list[dict]:
        """This queue's mappings to the function, once any being deleted is gone (Lambda
        refuses a second mapping of the same queue and function while one is deleting)."""
        deadline = time.monotonic() + timeout_s
        while True:
            mappings = self._lambda.list_event_source_mappings(
                EventSourceArn=self.queue_arn, FunctionName=self.function_name)[
                "EventSourceMappings"]
            if not any(m["State"] == "Deleting" for m in mappings) or \
                    time.monotonic() > deadline:
                return [m for m in mappings if m["State"] != "Deleting"]
            time.sleep(0.1)

    def _resources_exist(self) -> bool:
        try:
            for name in (self.queue_name, self.dlq_name):
                self._sqs.get_queue_url(QueueName=name)
            self._lambda.get_function_configuration(FunctionName=self.function_name)
            state = self._lambda.get_event_source_mapping(UUID=self.mapping_uuid)["State"]
        except ClientError:
            return False
        return state not in ("Deleting", "Disabled", "Disabling")

    def function_arns(self) -> list[str]:
        return [self.function_arn]

    def timeline_labels(self) -> dict:
        labels, numbers = {}, {}
        for event in self.lab.trace.events("batch", mapping=self.mapping_uuid):
            if event.kind == "batch.start":
                numbers[event["batch"]] = (event.get("number"), len(event["message_ids"]))
            elif event.kind == "batch.end" and event.get("request_id"):
                number, size = numbers.get(event["batch"], (None, 0))
                labels[event["request_id"]] = f"batch {number} ({size})"
        return labels

    @staticmethod
    def _environment(settings: Settings) -> dict:
        return {"FAILURE_RATE": str(settings.failure_rate),
                "REPORT_FAILURES": "yes" if settings.report_failures else "no"}

    @staticmethod
    def _mapping_settings(settings: Settings) -> dict:
        return {
            "BatchSize": settings.batch_size,
            "MaximumBatchingWindowInSeconds": settings.window,
            "FunctionResponseTypes": ["ReportBatchItemFailures"]
            if settings.report_failures else [],
        }

    # -- input ---------------------------------------------------------------------------

    def validate(self) -> None:
        """A SqsPlaygroundError saying what is wrong with the settings (Lambda checks more)."""
        s = self.settings
        if not isinstance(self.count, int) or not 1 <= self.count <= MAX_SEND:
            raise SqsPlaygroundError(f"Send between 1 and {MAX_SEND} orders at once.")
        if not 0 <= s.failure_rate <= 1:
            raise SqsPlaygroundError("The failure rate is a share between 0 and 1.")
        if not 1 <= s.visibility_timeout <= 43200:
            raise SqsPlaygroundError("SQS accepts visibility timeouts of 1 s to 12 hours "
                                     "(and this function's timeout is 1 s).")

    def apply(self) -> list[str]:
        """Apply changed settings with boto3; returns what changed. Lambda's errors propagate."""
        self.validate()
        new, old = self.settings, self._applied
        changes = []
        with self._lock:
            if new.visibility_timeout != old.visibility_timeout:
                self._sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={
                    "VisibilityTimeout": str(new.visibility_timeout)})
                changes.append(f"visibility timeout {new.visibility_timeout} s")
            if self._mapping_settings(new) != self._mapping_settings(old):
                self._lambda.update_event_source_mapping(UUID=self.mapping_uuid,
                                                         **self._mapping_settings(new))
                self._wait_enabled()  # "Updating" until the poller uses the new settings
                changes.append(f"batch size {new.batch_size}, window {new.window} s, "
                               f"ReportBatchItemFailures {'on' if new.report_failures else 'off'}")
            if self._environment(new) != self._environment(old):
                self._lambda.update_function_configuration(
                    FunctionName=self.function_name,
                    Environment={"Variables": self._environment(new)})
                changes.append(f"failure rate {new.failure_rate:.0%}")
            self._applied = Settings(**vars(new))
        return changes

    def _wait_enabled(self, timeout: float = 10.0) -> None:
        """Until Lambda reports the mapping Enabled: new settings apply from then on."""
        wait_until(lambda: self._lambda.get_event_source_mapping(
            UUID=self.mapping_uuid)["State"] == "Enabled", timeout,
            f"the event source mapping of {self.queue_name} to be Enabled")

    # -- sending ---------------------------------------------------------------------------

    def send(self) -> list[int]:
        """Apply the settings, then send ``count`` orders; returns their order ids."""
        self.validate()
        self.ensure_ready()
        self.apply()
        with self._lock:
            first = self.next_order
            self.next_order += self.count
        numbers = list(range(first, first + self.count))
        for start in range(0, len(numbers), 10):
            chunk = numbers[start:start + 10]
            entries = [{"Id": str(n), "MessageBody": json.dumps({
                "order_id": n, "item": ITEMS[n % len(ITEMS)], "quantity": 1 + n % 3})}
                for n in chunk]
            response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            with self._lock:
                for entry in response.get("Successful", []):
                    self.orders[entry["MessageId"]] = int(entry["Id"])
        return numbers

    # -- what happened -----------------------------------------------------------------------

    def queue_counts(self) -> dict:
        """Messages waiting, in flight (received, not yet deleted) and in the DLQ."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        source = self._sqs.get_queue_attributes(QueueUrl=self.queue_url,
                                                AttributeNames=names)["Attributes"]
        dead = self._sqs.get_queue_attributes(QueueUrl=self.dlq_url,
                                              AttributeNames=names)["Attributes"]
        return {"visible": int(source["ApproximateNumberOfMessages"]),
                "in_flight": int(source["ApproximateNumberOfMessagesNotVisible"]),
                "dead_letter": int(dead["ApproximateNumberOfMessages"])
                + int(dead["ApproximateNumberOfMessagesNotVisible"])}

    def batch_rows(self, limit: int = 20) -> list[dict]:
        """The latest batches the function received, and how each ended."""
        with self._lock:
            labels = dict(self.orders)
        rows = mapping_batches(self.lab, self.mapping_uuid, labels)
        for row in rows:
            row["outcome"] = row["outcome"] or "invoking…"
            row["batch"] = row["batch"] or "-"
        return rows[-limit:]

    def order_rows(self) -> list[dict]:
        """Each order sent from the playground: how often it was delivered, where it is."""
        deliveries: dict[str, int] = {}
        state: dict[str, str] = {}
        for event in self.lab.trace.events("batch", mapping=self.mapping_uuid):
            if event.kind == "batch.start":
                for message_id in event["message_ids"]:
                    deliveries[message_id] = deliveries.get(message_id, 0) + 1
                    state[message_id] = "being processed"
            elif event.kind == "batch.end":
                for message_id in event["deleted"]:
                    state[message_id] = "processed, deleted"
                for message_id in event["retried"]:
                    count = deliveries.get(message_id, 0)
                    state[message_id] = (
                        f"failed; goes to the DLQ at its next receive (maxReceiveCount "
                        f"{MAX_RECEIVE})" if count >= MAX_RECEIVE else
                        "failed; back in the queue after the visibility timeout")
        with self._lock:
            orders = sorted(self.orders.items(), key=lambda item: item[1])
        if self.settled():  # the failed orders have moved
            state = {i: ("in the dead-letter queue" if text.startswith("failed") else text)
                     for i, text in state.items()}
        return [{"order": order, "deliveries": deliveries.get(message_id, 0),
                 "state": state.get(message_id, "waiting in the queue")}
                for message_id, order in orders]

    def mapping_summary(self) -> dict:
        config = self._lambda.get_event_source_mapping(UUID=self.mapping_uuid)
        return {key: config.get(key) for key in (
            "State", "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes")}

    def settled(self) -> bool:
        counts = self.queue_counts()
        return counts["visible"] == 0 and counts["in_flight"] == 0

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until the order queue is empty (processed or dead-lettered); False if it
        is not empty after ``timeout`` seconds."""
        try:
            return wait_until(self.settled, timeout, "the order queue to empty", 0.1)
        except TimeoutError:
            return False
