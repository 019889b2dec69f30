"""Amazon Data Firehose: records buffered, transformed by a Lambda function, delivered to S3.

moto keeps the delivery streams (``helpers.front_doors.firehose_control`` checks them);
the lab answers ``PutRecord`` and ``PutRecordBatch`` itself (moto would write the raw
records straight to S3) and reads a Kinesis data stream source with the Kinesis API
(``helpers.front_doors.firehose_kinesis``). As Firehose does
(https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html):

- the answer comes at once, with a record id per record; records over 1,000 KiB, more
  than 500 records or 4 MiB in a batch are refused as AWS refuses them;
- records collect in the processor buffer until its size or interval; the function gets
  the batch synchronously (``helpers.events.kinesis_firehose``); up to 5 invocations of a
  stream run at once; a failed invocation (a function error, a timeout, a throttle) is
  tried again ``NumberOfRetries`` times (3 by default); Firehose waits at most 5 minutes
  for an answer (a wait ``lab.speedup`` shortens);
- the answer is checked (``helpers.front_doors.firehose_responses``): ``Ok`` records go
  to the destination buffers, ``Dropped`` ones end there, ``ProcessingFailed`` ones, and
  every record of a batch whose invocation failed or whose answer was invalid, go to the
  error prefix as Firehose's error JSON;
- each destination buffer becomes one S3 object, named as Firehose names them
  (``helpers.front_doors.firehose_naming``), written with the lab's own S3 client.

Configured intervals are never scaled. Introduced in notebook 11.

Trace records (``stream`` is the delivery stream's name):

- ``firehose.received``: record_ids, bytes, source ("DirectPut" or the Kinesis stream)
- ``firehose.throttled``: count (records refused with ``ServiceUnavailableException``)
- ``firehose.batch``: batch, record_ids, bytes, trigger ("size", "interval", "event size")
- ``firehose.invocation``: batch, attempt, invocation_id, request_id, function, outcome
  ("ok", "invalid response", "function error", "timed out", "throttled", "not invoked"),
  error_code, detail, results (record ids by result), event (when under 64 KB)
- ``firehose.delivered``: bucket, key, output ("data" or "error"), error_type, record_ids,
  bytes (the object's)
- ``firehose.delivery_error``: bucket, key, error (S3 refused; the lab tries again)
- ``firehose.lost``: record_ids, reason (why records ended without reaching S3)
- ``firehose.source_error``: source, error (reading the Kinesis data stream failed)
- ``firehose.abandoned``: request_id, seconds_after (a function answered after Firehose
  stopped waiting); ``firehose.error``: error (a bug in the lab's Firehose)
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from ..aws import ACCOUNT_ID
from ..cloud.firehose_state import FirehoseState
from ..errors import AwsError
from ..events.kinesis_firehose import new_record_id
from ..server import Response
from .firehose_buffers import Batch, Buffer, FirehoseRecord
from .firehose_control import DeliveryControl, request_body, settings_of
from .firehose_delivery import Deliveries
from .firehose_kinesis import KinesisSourceReader
from .firehose_transform import Transformer
from .http import FrontDoor

MAX_RECORD = 1_024_000  # bytes of one record, before base64
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_OUTSTANDING = 5  # invocations of one stream at once
PROCESSING_LIMIT = 32 * 1024 * 1024  # bytes a stream holds before its function
LAB_PROCESSING_LIMIT = 128 * 1024 * 1024  # ... and all streams together
TICK_S = 1.0  # the timer looks at the buffers at least this often

__all__ = ["FirehoseDelivery"]


class _Stream:
    """What the lab holds for one delivery stream."""

    def __init__(self, settings):
        self.settings = settings
        self.processor: Buffer | None = None
        self.ready: deque[Batch] = deque()
        self.in_flight: set[Batch] = set()
        self.processing_bytes = 0
        self.reader: KinesisSourceReader | None = None


def _json(document: dict, request) -> Response:
    return Response(200, [("Content-Type", "application/x-amz-json-1.1"),
                          ("x-amzn-RequestId", request.request_id)],
                    json.dumps(document).encode())


def _validation(problems: list[str]) -> AwsError:
    count = len(problems)
    return AwsError(400, "ValidationException",
                    f"{count} validation error{'s' if count > 1 else ''} detected: "
                    + "; ".join(problems))


def _too_long(where: str, size: int) -> str:
    return (f"Value 'java.nio.HeapByteBuffer[pos=0 lim={size} cap={size}]' at '{where}' "
            f"failed to satisfy constraint: Member must have length less than or equal "
            f"to {MAX_RECORD}")


def _data(record) -> bytes:
    if not isinstance(record, dict) or not isinstance(record.get("Data"), str):
        raise _validation(["Value null at 'record.data' failed to satisfy constraint: "
                           "Member must not be null"])
    try:
        return base64.b64decode(record["Data"], validate=True)
    except (binascii.Error, ValueError):
        raise AwsError(400, "SerializationException",
                       "Data must be base64-encoded.") from None


class FirehoseDelivery:
    """The lab's Firehose data plane. ``register(front)`` answers the record API;
    ``stop()`` ends its threads and says where every buffered record went."""

    name = "firehose"
    invoke_with_timeout = FrontDoor.invoke_with_timeout  # uses service, name, _executor

    def __init__(self, service, functions, sender, clients, account_id: str = ACCOUNT_ID):
        self.service = service
        self.functions = functions
        self.trace = service.trace
        self.clients = clients
        self.account_id = account_id
        self.state = FirehoseState()
        self._streams: dict[tuple[str, str], _Stream] = {}
        self.lock = threading.RLock()
        self._wake = threading.Condition(self.lock)
        self._stopping = threading.Event()
        self._processing_bytes = 0
        self._executor = self._jobs = self._timer = None
        self.deliveries = Deliveries(self, sender)
        self.transformer = Transformer(self)

    def register(self, front) -> FirehoseDelivery:
        DeliveryControl(self.state, self._kinesis_stream_exists).register(front)
        front.answer("firehose", "PutRecord", self._put_record)
        front.answer("firehose", "PutRecordBatch", self._put_record_batch)
        front.after("firehose", "CreateDeliveryStream", self._created)
        front.after("firehose", "DeleteDeliveryStream", self._deleted)
        return self

    # -- threads, started on first use ---------------------------------------------------

    def _start(self) -> None:
        if self._timer is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=64,
                                            thread_name_prefix="lab-firehose-invoke")
        self._jobs = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lab-firehose-work")
        self._timer = threading.Thread(target=self._tick, daemon=True, name="lab-firehose-timer")
        self._timer.start()

    def submit(self, job, *args) -> None:
        if not self._stopping.is_set():
            self._jobs.submit(self._guarded, job, *args)

    def _guarded(self, job, *args) -> None:
        try:
            job(*args)
        except Exception as error:  # a bug in the lab's Firehose: say so in the trace
            self.trace.record("firehose.error", error=repr(error), job=job.__name__)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or until the lab stops."""
        self._stopping.wait(seconds)

    # -- the record API ------------------------------------------------------------------

    def _stream_for(self, request, name) -> tuple[tuple, _Stream]:
        info = self.state.stream(name or "", request.account_id, request.region)
        if info is None:
            raise AwsError(400, "ResourceNotFoundException",
                           f"Firehose {name} under account {request.account_id} not found.")
        if info.stream_type == "KinesisStreamAsSource":
            raise AwsError(400, "InvalidArgumentException",
                           "This operation is not permitted on KinesisStreamAsSource "
                           "delivery stream type.")
        key = (request.region, info.name)
        with self.lock:
            self._start()
            stream = self._streams.get(key)
            if stream is None:
                stream = self._streams[key] = _Stream(settings_of(info))
            elif stream.settings.version != info.version_id:
                stream.settings = settings_of(info)
        return key, stream

    def _put_record(self, request) -> Response:
        body = request_body(request)
        data = _data(body.get("Record"))
        if len(data) > MAX_RECORD:
            raise _validation([_too_long("record.data", len(data))])
        _, stream = self._stream_for(request, body.get("DeliveryStreamName"))
        record = FirehoseRecord(new_record_id(), data, int(time.time() * 1000))
        if not self.accept(stream, [record], "DirectPut")[0]:
            raise AwsError(503, "ServiceUnavailableException", "Slow down.", sender=False)
        return _json({"RecordId": record.record_id, "Encrypted": False}, request)

    def _put_record_batch(self, request) -> Response:
        body = request_body(request)
        entries = body.get("Records")
        if not isinstance(entries, list) or not entries:
            raise _validation(["Value null at 'records' failed to satisfy constraint: Member "
                               "must not be null"])
        if len(entries) > MAX_BATCH_RECORDS:
            raise _validation([f"Value at 'records' failed to satisfy constraint: Member must "
                               f"have length less than or equal to {MAX_BATCH_RECORDS}"])
        datas = [_data(entry) for entry in entries]
        problems = [_too_long(f"records.{n}.member.data", len(d))
                    for n, d in enumerate(datas, 1) if len(d) > MAX_RECORD]
        if problems:
            raise _validation(problems)
        if sum(map(len, datas)) > MAX_BATCH_BYTES:
            raise AwsError(400, "InvalidArgumentException", "Records size exceeds 4 MB limit")
        _, stream = self._stream_for(request, body.get("DeliveryStreamName"))
        now = int(time.time() * 1000)
        records = [FirehoseRecord(new_record_id(now), data, now) for data in datas]
        taken = self.accept(stream, records, "DirectPut")
        answers = [{"RecordId": r.record_id} if ok else
                   {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
                   for r, ok in zip(records, taken, strict=True)]
        return _json({"FailedPutCount": taken.count(False), "Encrypted": False,
                      "RequestResponses": answers}, request)

    # -- into the buffers ----------------------------------------------------------------

    def accept(self, stream: _Stream, records: list, source: str,
               whole: bool = False) -> list[bool]:
        """Buffer what there is room for; which records were taken. ``whole``: all or
        none (a Kinesis shard's records)."""
        settings = stream.settings
        with self.lock:
            if self._stopping.is_set():
                return [False] * len(records)
            room = min(PROCESSING_LIMIT - stream.processing_bytes,
                       LAB_PROCESSING_LIMIT - self._processing_bytes,
                       self.deliveries.room())
            taken, empty = [], stream.processing_bytes == 0
            for record in records:  # an empty stream takes at least one record
                fits = len(record.data) <= room or (empty and not any(taken))
                room -= len(record.data) if fits else 0
                taken.append(fits)
            if whole and not all(taken):
                taken = [False] * len(records)
            kept = [r for r, ok in zip(records, taken, strict=True) if ok]
            if kept:
                self.trace.record("firehose.received", stream=settings.name,
                                  record_ids=[r.record_id for r in kept],
                                  bytes=sum(len(r.data) for r in kept), source=source)
            if len(kept) < len(records) and not whole:
                self.trace.record("firehose.throttled", stream=settings.name,
                                  count=len(records) - len(kept))
            if settings.lambda_arn is None:
                for record in kept:
                    self.deliveries.add(settings, record.record_id, record.data,
                                        record.arrival_ms)
            else:
                for record in kept:
                    self._buffer(stream, record)
                if stream.processor is not None and settings.processor_interval_s == 0:
                    self._flush(stream, "interval")
                self._pump(stream)
            self._wake.notify_all()
        self.deliveries.send_due()
        return taken

    def _buffer(self, stream: _Stream, record: FirehoseRecord) -> None:
        settings = stream.settings
        if stream.processor is not None and stream.processor.would_overflow_event(record):
            self._flush(stream, "event size")
        if stream.processor is None:
            stream.processor = Buffer(settings.processor_bytes, settings.processor_interval_s)
        stream.processor.add_record(record)
        stream.processing_bytes += len(record.data)
        self._processing_bytes += len(record.data)
        if stream.processor.full:
            self._flush(stream, "size")

    def _flush(self, stream: _Stream, trigger: str) -> None:
        buffer, stream.processor = stream.processor, None
        batch = Batch(stream.settings.name, buffer.items, trigger, stream.settings)
        stream.ready.append(batch)
        self.trace.record("firehose.batch", stream=batch.stream, batch=batch.number,
                          record_ids=batch.record_ids, bytes=buffer.size, trigger=trigger)

    def _pump(self, stream: _Stream) -> None:
        while stream.ready and len(stream.in_flight) < MAX_OUTSTANDING:
            batch = stream.ready.popleft()
            stream.in_flight.add(batch)
            self.submit(self._run_batch, stream, batch)

    def _run_batch(self, stream: _Stream, batch: Batch) -> None:
        try:
            outcome = self.transformer.run(batch)
        except Exception as error:  # never lose a batch to a bug: say why it ended
            outcome = None
            reason = f"lab error: {error!r}"
        else:
            reason = "the lab stopped while the function ran"
        with self.lock:
            stream.in_flight.discard(batch)
            if not batch.ended:
                batch.ended = True
                self._release(stream, batch.size)
                if outcome is None:
                    self.lost(batch.stream, batch.record_ids, reason)
                else:
                    self.deliveries.add_outcome(batch, outcome)
            if not self._stopping.is_set():
                self._pump(stream)
            self._wake.notify_all()
        self.deliveries.send_due()

    def _release(self, stream: _Stream, size: int) -> None:
        stream.processing_bytes -= size
        self._processing_bytes -= size

    def lost(self, stream_name: str, record_ids: list[str], reason: str) -> None:
        if record_ids:
            self.trace.record("firehose.lost", stream=stream_name, record_ids=list(record_ids),
                              reason=reason)

    # -- time ------------------------------------------------------------------------------

    def _tick(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick_once()
            except Exception as error:  # the timer never dies: say what went wrong
                self.trace.record("firehose.error", error=repr(error))
                self._stopping.wait(TICK_S)

    def _tick_once(self) -> None:
        with self.lock:
            now = time.monotonic()
            deadlines = [now + TICK_S, self.deliveries.next_deadline(now)]
            for stream in self._streams.values():
                buffer = stream.processor
                if buffer is not None and buffer.due(now):
                    self._flush(stream, "interval")
                    self._pump(stream)
                elif buffer is not None:
                    deadlines.append(buffer.deadline)
            if not self.deliveries.any_due(now):
                self._wake.wait(max(min(deadlines) - now, 0.005))
        self.deliveries.send_due()

    # -- the stream's life -----------------------------------------------------------------

    def _created(self, request, response) -> None:
        body = json.loads(request.body or b"{}")
        if response.status != 200 or body.get("DeliveryStreamType") != "KinesisStreamAsSource":
            return
        info = self.state.stream(body.get("DeliveryStreamName", ""), request.account_id,
                                 request.region)
        if info is None or not info.kinesis_stream_arn:
            return
        key = (request.region, info.name)
        with self.lock:
            self._start()
            stream = self._streams[key] = _Stream(settings_of(info))
            kinesis = self.clients.client("kinesis", max_pool_connections=20,
                                          retries={"total_max_attempts": 2, "mode": "standard"})
            stream.reader = KinesisSourceReader(
                info.name, info.kinesis_stream_arn, info.created, kinesis,
                lambda records: all(self._from_kinesis(key, records)), self.trace).start()

    def _from_kinesis(self, key, records) -> list[bool]:
        stream = self._streams.get(key)
        info = self.state.stream(key[1], self.account_id, key[0])
        if stream is None or info is None:
            return [False] * len(records)
        if stream.settings.version != info.version_id:
            stream.settings = settings_of(info)
        return self.accept(stream, records, info.kinesis_stream_arn, whole=True)

    def _deleted(self, request, response) -> None:
        if response.status != 200:
            return
        name = json.loads(request.body or b"{}").get("DeliveryStreamName", "")
        with self.lock:
            stream = self._streams.pop((request.region, name), None)
        if stream is not None:
            reason = "the delivery stream was deleted"
            self._close(stream, reason, reason)
            self.deliveries.close(stream.settings.name, reason)

    def _close(self, stream: _Stream, before: str, during: str) -> None:
        """Records of ``stream`` not yet past its function end here: ``before`` says why
        for those still buffered, ``during`` for those in an invocation."""
        if stream.reader is not None:
            stream.reader.stop()
        with self.lock:
            if stream.processor is not None:
                self._flush(stream, "closed")
            for batch in list(stream.ready) + list(stream.in_flight):
                if not batch.ended:
                    batch.ended = True
                    self._release(stream, batch.size)
                    self.lost(batch.stream, batch.record_ids,
                              during if batch in stream.in_flight else before)
            stream.ready.clear()

    def _kinesis_stream_exists(self, arn: str) -> bool:
        try:
            self.clients.client("kinesis").describe_stream_summary(StreamARN=arn)
        except Exception:
            return False
        return True

    def stop(self) -> None:
        """Stop reading and timing; records still buffered before the function end as
        lost (recorded), those waiting for S3 are delivered now."""
        self._stopping.set()
        with self.lock:
            streams = list(self._streams.values())
            self._wake.notify_all()
        for stream in streams:
            if stream.reader is not None:
                stream.reader.stop(timeout=1)
        deadline = time.monotonic() + 1  # an invocation under way ends with the Lambda
        while time.monotonic() < deadline and any(s.in_flight for s in streams):
            time.sleep(0.02)  # service, which the lab stops next
        for stream in streams:
            self._close(stream, "the lab stopped before the function was invoked for them",
                        "the lab stopped while the function ran")
        self.deliveries.flush_all()
        if self._timer is not None:
            self._timer.join(timeout=2)
            self._jobs.shutdown(wait=False, cancel_futures=True)
            self._executor.shutdown(wait=False)


