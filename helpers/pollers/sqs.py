"""The poller of an SQS event source mapping: what Lambda does between a queue and a function.

One receiving thread per enabled mapping reads the queue with the SQS API, as Lambda's
pollers do: ``ReceiveMessage`` with long polling (1 s at a time, so that it stops
promptly), the queue's own visibility timeout, all attributes. It fills a batch until
``BatchSize`` messages, the end of the batching window or 6 MB of event, and hands it
to a batch worker, which invokes the function synchronously through the lab's Lambda
service and then deletes what succeeded (``DeleteMessageBatch``):

- success: the whole batch is deleted;
- function error (exception, timeout, crash): nothing is deleted; the messages reappear
  after the visibility timeout, and the queue's redrive policy moves a message to its
  dead-letter queue after ``maxReceiveCount`` receives;
- with ``ReportBatchItemFailures``: everything but the reported messages is deleted; an
  invalid report fails the whole batch;
- messages that match none of the mapping's filters are deleted without an invoke;
- throttled (429): the invoke is retried with back-off while the visibility timeout
  allows, then the messages are left to reappear.

Concurrency starts at 5 batches and grows by up to 5 a second (AWS: 300 a minute) while
the backlog lasts, up to ``ScalingConfig.MaximumConcurrency`` and the function's reserved
concurrency; errors and empty polls scale it back. Every batch is recorded in the trace:
``batch.start``, ``batch.end`` (per-message outcome, recorded before the deletes),
``batch.filtered``, ``batch.throttled``, ``batch.released``, ``batch.delete_failed``,
``mapping.error``. Introduced in notebook 06.

https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
"""

from __future__ import annotations

import json
import threading
import time
import uuid as uuids
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..aws import MAX_SYNC_PAYLOAD, parse_arn
from ..errors import LambdaApiError
from ..events.sqs import sqs_record
from .base import Poller, Source, batch_item_failures
from .filters import matches_any

RECEIVE_WAIT_S = 1  # long-poll in short steps: a stopping poller never waits longer
BATCH_PAYLOAD_LIMIT = MAX_SYNC_PAYLOAD  # a batch is one synchronous invoke
INITIAL_BATCHES = 5  # concurrent batches when messages arrive
MINIMUM_BATCHES = 2
SCALE_UP_PER_S = 5  # up to 300 more concurrent batches a minute
AWS_MAX_BATCHES = 1000  # per mapping, services-sqs-scaling.html (some AWS pages say 1,250)
LAB_MAX_BATCHES = 20  # the lab's own ceiling: each batch runs in a process on this machine
VISIBILITY_REFRESH_S = 2.0
FIFO_MAX_BATCH = 10
NO_QUEUE = ("Error occurred while ReceiveMessage. SQS Error Code: "
            "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue "
            "does not exist for this wsdl version.")
BODY_PREVIEW = 80

__all__ = ["SqsPoller", "SqsSource", "sqs_client"]


def sqs_client(clients):
    """The SQS client every SQS poller shares: enough connections, few retries."""
    return clients.client("sqs", max_pool_connections=8 * (LAB_MAX_BATCHES + 2),
                          read_timeout=RECEIVE_WAIT_S + 30,
                          retries={"total_max_attempts": 2, "mode": "standard"})


def _invalid(message: str) -> LambdaApiError:
    return LambdaApiError(400, "InvalidParameterValueException", message)


class SqsSource(Source):
    """SQS queues: standard and FIFO. https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"""

    kind = "sqs"
    default_batch_size = 10

    def prepare(self, mapping, body: dict, spec, update: bool) -> None:
        queue_url, visibility_timeout, fifo = self._queue(mapping.source_arn)
        mapping.source.update(queue_url=queue_url, fifo=fifo)
        if fifo:
            if mapping.batch_size > FIFO_MAX_BATCH:
                raise _invalid("Maximum batch size must be between 1 and 10 inclusive")
            if mapping.window:
                raise _invalid("Batching window is not supported for FIFO queues")
        elif mapping.batch_size > 10 and mapping.window < 1:
            raise _invalid("Maximum batch window in seconds must be greater than 0 if maximum "
                           "batch size is greater than 10")
        if spec.timeout > visibility_timeout:
            raise _invalid(f"Queue visibility timeout: {visibility_timeout} seconds is less "
                           f"than Function timeout: {spec.timeout} seconds")

    def _queue(self, source_arn: str) -> tuple[str, int, bool]:
        """(queue URL, visibility timeout, FIFO?) of an SQS queue ARN, read through SQS."""
        arn = parse_arn(source_arn)
        if arn is None or not arn.resource:
            raise _invalid("Unrecognized event source, must be kafka or specify a valid "
                           "EventSourceArn.")
        sqs = sqs_client(self.mappings.clients)
        try:
            url = sqs.get_queue_url(QueueName=arn.resource, QueueOwnerAWSAccountId=arn.account)[
                "QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["VisibilityTimeout", "FifoQueue"])["Attributes"]
        except sqs.exceptions.QueueDoesNotExist:
            raise _invalid(NO_QUEUE) from None
        return (url, int(attributes["VisibilityTimeout"]),
                attributes.get("FifoQueue") == "true")

    def configuration(self, mapping) -> dict:
        config = {}
        if mapping.scaling:
            config["ScalingConfig"] = dict(mapping.scaling)
        return config  # LastProcessingResult: Lambda reports none for SQS sources


@dataclass
class _Received:
    record: dict  # the message as the event carries it
    size: int  # its bytes in the event
    received: float  # time.monotonic() when ReceiveMessage returned it

    @property
    def message_id(self) -> str:
        return self.record["messageId"]


def _filter_view(record: dict) -> dict:
    """What filter patterns see: the record, with a JSON-object body parsed."""
    body = record["body"]
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    return {**record, "body": parsed if isinstance(parsed, dict) else body}


class SqsPoller(Poller):
    """Reads one mapping's queue and invokes its function, until stopped."""

    source_name = "sqs"

    def __init__(self, service, mapping, clients, on_running=None):
        super().__init__(service, mapping, clients, on_running)
        self.queue_url = mapping.source["queue_url"]
        self.fifo = mapping.source["fifo"]
        self._slots = threading.Condition()
        self._in_flight = 0
        self._allowed = INITIAL_BATCHES
        self._last_growth = 0.0
        self._carry: list[_Received] = []
        self._visibility = (0.0, 30)  # (read at, seconds)
        self._sqs = sqs_client(clients)
        self._workers = ThreadPoolExecutor(max_workers=LAB_MAX_BATCHES,
                                           thread_name_prefix=f"lab-esm-{mapping.uuid[:8]}")

    # -- lifecycle ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop receiving; batches already invoking finish on their own."""
        self._stop.set()
        with self._slots:
            self._slots.notify_all()

    def settings_changed(self) -> None:
        """The mapping changed: every next batch reads it; a new concurrency cap applies now."""
        with self._slots:
            self._slots.notify_all()

    def join(self, timeout: float, finish_batches: bool = True) -> bool:
        """Wait for the receiving thread (and, if asked, the batches in flight)."""
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        if finish_batches:
            with self._slots:
                while self._in_flight and time.monotonic() < deadline:
                    self._slots.wait(0.05)
        self._workers.shutdown(wait=False)
        return not self._thread.is_alive() and (not finish_batches or not self._in_flight)

    @property
    def in_flight(self) -> int:
        """Batches being processed right now."""
        return self._in_flight

    @property
    def concurrency_limit(self) -> int:
        """How many batches the poller may process at once right now."""
        return self._limit()

    # -- receiving ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._on_running(self.mapping)
            while not self._stop.is_set():
                if not self._take_slot():
                    break
                try:
                    batch, trigger = self._collect()
                except Exception as error:  # the queue is gone, the lab is stopping, ...
                    self._release_slot()
                    self.record_error("ReceiveMessage", error)
                    self._stop.wait(1.0)
                    continue
                if not batch:
                    self._release_slot()
                    continue
                if not self._stop.is_set():
                    self._grow(len(batch) >= self.mapping.batch_size
                               or trigger == "payload limit")
                    try:
                        self.mapping.batches += 1  # numbered in receive order
                        self._workers.submit(self._process, batch, trigger,
                                             self.mapping.batches)
                        continue
                    except RuntimeError:  # the workers were shut down: the lab is stopping
                        pass
                self._release_slot()
                self._release(batch, "the mapping stopped before the batch was invoked")
                break
        finally:
            carry, self._carry = self._carry, []
            if carry:
                self._release(carry, "the mapping stopped before the batch was invoked")

    def _collect(self) -> tuple[list[_Received], str | None]:
        """One batch: until BatchSize, the batching window, or 6 MB of event."""
        mapping = self.mapping
        batch: list[_Received] = []
        total = [len('{"Records": []}')]

        def add(items: list[_Received]) -> str | None:
            """Add what fits; what does not starts the next batch."""
            for index, item in enumerate(items):
                full = len(batch) >= mapping.batch_size  # read live: updates apply at once
                if full or (batch and total[0] + item.size > BATCH_PAYLOAD_LIMIT):
                    if self.fifo:  # back to SQS, which holds them until their group is free
                        self._release(items[index:], "they did not fit in the batch")
                    else:
                        self._carry = items[index:] + self._carry
                    return "batch size" if full else "payload limit"
                batch.append(item)
                total[0] += item.size
            return None

        carried, self._carry = self._carry, []
        trigger = add(carried)
        if trigger:
            return batch, trigger
        first = batch[0].received if batch else None
        while not self._stop.is_set():
            batch_size, window = mapping.batch_size, mapping.window
            if len(batch) >= batch_size:
                return batch, "batch size"
            wait = RECEIVE_WAIT_S
            if first is not None:
                if window == 0:
                    return batch, "no window"
                left = window - (time.monotonic() - first)
                if left <= 0:
                    return batch, "window"
                wait = RECEIVE_WAIT_S if left >= RECEIVE_WAIT_S else 0
            try:
                messages = self._receive(min(10, batch_size - len(batch)), wait)
            except Exception as error:
                if not batch:
                    raise
                self.record_error("ReceiveMessage", error)
                return batch, "receive error"  # invoke with what was received
            if not messages:
                if first is None:
                    self._shrink()
                    return [], None  # back to the loop: stop, slots
                if wait == 0:
                    self._stop.wait(min(0.05, max(left, 0.0)))
                continue
            now = time.monotonic()
            trigger = add([_Received(record, len(json.dumps(record)) + 2, now) for record in (
                sqs_record(m, mapping.source_arn, mapping.region, self.fifo)
                for m in messages)])
            if trigger:
                return batch, trigger
            if first is None:
                first = now
        return batch, None

    def _receive(self, count: int, wait: int) -> list[dict]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=count, WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _release(self, items: list[_Received], reason: str) -> None:
        """Make received-but-unprocessed messages visible again at once."""
        ids = [item.message_id for item in items]
        try:
            for start in range(0, len(items), 10):
                chunk = items[start:start + 10]
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": item.record["receiptHandle"],
                              "VisibilityTimeout": 0} for i, item in enumerate(chunk)])
            visible = "now"
        except Exception:  # the lab is stopping: they reappear after the visibility timeout
            visible = "after the visibility timeout"
        self.trace.record("batch.released", mapping=self.mapping.uuid, message_ids=ids,
                          reason=reason, visible=visible)

    # -- concurrency ----------------------------------------------------------------------

    def _limit(self) -> int:
        cap = min(LAB_MAX_BATCHES, self.mapping.maximum_concurrency or AWS_MAX_BATCHES)
        reserved = self.reserved_concurrency()
        if reserved is not None:
            cap = min(cap, max(reserved, 1))
        return max(1, min(self._allowed, cap))

    def _take_slot(self) -> bool:
        with self._slots:
            while self._in_flight >= self._limit() and not self._stop.is_set():
                self._slots.wait(0.2)
            if self._stop.is_set():
                return False
            self._in_flight += 1
            return True

    def _release_slot(self) -> None:
        with self._slots:
            self._in_flight -= 1
            self._slots.notify_all()

    def _grow(self, backlog: bool) -> None:
        now = time.monotonic()
        with self._slots:
            if (backlog and self._in_flight >= self._allowed
                    and now - self._last_growth >= 1.0 / SCALE_UP_PER_S
                    and self._allowed < AWS_MAX_BATCHES):
                self._allowed += 1
                self._last_growth = now

    def _shrink(self) -> None:
        with self._slots:
            self._allowed = max(INITIAL_BATCHES, self._allowed - 1)

    def _back_off(self) -> None:
        with self._slots:
            self._allowed = max(MINIMUM_BATCHES, self._allowed - 1)

    # -- one batch ------------------------------------------------------------------------

    def _process(self, batch: list[_Received], trigger: str | None, number: int) -> None:
        batch_id = uuids.uuid4().hex[:12]
        try:
            self._process_batch(batch, trigger, number, batch_id)
        except Exception as error:  # never lose a batch to a bug: say what became of it
            self._end(batch_id, None, "lab error", [], [item.message_id for item in batch],
                      error_type=repr(error))
        finally:
            self._release_slot()

    def _process_batch(self, batch: list[_Received], trigger: str | None, number: int,
                       batch_id: str) -> None:
        mapping = self.mapping
        if mapping.filters:
            dropped = [item for item in batch
                       if not matches_any(mapping.filters, _filter_view(item.record))]
            if dropped:  # recorded first: whoever sees the queue empty finds the record
                self.trace.record("batch.filtered", mapping=mapping.uuid, number=number,
                                  message_ids=[item.message_id for item in dropped],
                                  bodies=[item.record["body"][:BODY_PREVIEW]
                                          for item in dropped])
                self._delete(dropped, batch_id)
                batch = [item for item in batch if item not in dropped]
            if not batch:
                return
        ids = [item.message_id for item in batch]
        payload = json.dumps({"Records": [item.record for item in batch]}).encode()
        self.trace.record(
            "batch.start", mapping=mapping.uuid, batch=batch_id, number=number,
            function=mapping.function_arn, queue=mapping.source_arn, message_ids=ids,
            trigger=trigger, bytes=len(payload),
            receive_counts=[int(item.record["attributes"].get("ApproximateReceiveCount", 0))
                            for item in batch],
            received_at=[round(time.time() - (time.monotonic() - item.received), 3)
                         for item in batch],
            bodies=[item.record["body"][:BODY_PREVIEW] for item in batch],
        )
        try:
            spec = self.function()
        except Exception as error:  # the function is gone: the batch fails
            return self._end(batch_id, None, "error", [], ids,
                             error_type=getattr(error, "code", type(error).__name__))
        deadline = min(item.received for item in batch) + self._visibility_timeout()
        outcome, request_id, failure, error_type = self.invoke(
            spec, payload, batch_id, deadline, on_throttle=self._back_off)
        if outcome is None:
            if failure == "error":
                self._back_off()
            return self._end(batch_id, request_id, failure, [], ids, error_type=error_type)
        failed, outcome_name = self._failures(outcome, ids)
        if failed:
            self._back_off()
        succeeded = [item for item in batch if item.message_id not in set(failed)]
        self._end(batch_id, request_id, outcome_name,  # recorded first, as for filters
                  [item.message_id for item in succeeded], failed,
                  error_type=outcome.error_type, duration_ms=round(outcome.duration_ms, 2))
        self._delete(succeeded, batch_id)

    def _failures(self, outcome, ids: list[str]) -> tuple[list[str], str]:
        """The messages to leave in the queue, and the batch's outcome."""
        if outcome.function_error:
            return list(ids), "error"
        if not self.mapping.reports_batch_item_failures:
            return [], "success"
        reported, outcome_name = batch_item_failures(outcome.payload, ids)
        return (list(ids) if reported is None else reported), outcome_name

    def _delete(self, items: list[_Received], batch_id: str) -> list[str]:
        """DeleteMessageBatch, 10 at a time; what could not be deleted is recorded."""
        failed = []
        for start in range(0, len(items), 10):
            chunk = items[start:start + 10]
            try:
                response = self._sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": item.record["receiptHandle"]}
                             for i, item in enumerate(chunk)])
                failed += [chunk[int(entry["Id"])].message_id
                           for entry in response.get("Failed", [])]
            except Exception:
                failed += [item.message_id for item in chunk]
        if failed:  # they stay in the queue and come back after the visibility timeout
            self.trace.record("batch.delete_failed", mapping=self.mapping.uuid, batch=batch_id,
                              message_ids=failed)
        return failed

    def _end(self, batch_id, request_id, outcome, deleted, retried, **details) -> None:
        self.trace.record("batch.end", mapping=self.mapping.uuid, batch=batch_id,
                          request_id=request_id, outcome=outcome, deleted=deleted,
                          retried=retried, **details)

    def _visibility_timeout(self) -> int:
        read_at, seconds = self._visibility
        if time.monotonic() - read_at > VISIBILITY_REFRESH_S:
            try:
                attributes = self._sqs.get_queue_attributes(
                    QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])
                seconds = int(attributes["Attributes"]["VisibilityTimeout"])
            except Exception:
                pass
            self._visibility = (time.monotonic(), seconds)
        return seconds


SqsSource.poller = SqsPoller
