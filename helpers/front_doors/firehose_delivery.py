"""Amazon Data Firehose's destination buffers, and the S3 objects they become.

What a batch's records became goes into destination buffers, one per evaluated prefix:
``Ok`` records (their new data) under the stream's ``Prefix`` (with dynamic
partitioning, each under the prefix its partition keys give); failed records, as
Firehose's error JSON, under the error prefix for their error output type
(``processing-failed``, or ``partitioning-failed`` for a record whose keys do not fill
the prefix). ``Dropped`` records end with their invocation. A buffer becomes one
object when it reaches the destination's ``SizeInMBs`` (counted before compression) or
its ``IntervalInSeconds``, whichever comes first
(https://docs.aws.amazon.com/firehose/latest/dev/buffering-hints.html), and is written
with the lab's own S3 client, so it lands in moto like any object. When S3 refuses (no
such bucket), the lab tries again every 5 s for up to 24 hours (AWS's time: shorter
with ``lab.speedup``), as Firehose does
(https://docs.aws.amazon.com/firehose/latest/dev/basic-deliver.html). Introduced in
notebook 11.
"""

from __future__ import annotations

import gzip
import time

from ..send import DeliveryError
from . import firehose_naming as naming
from .firehose_buffers import Buffer
from .firehose_responses import error_document

RETRY_S = 5.0
KEEP_TRYING_S = 24 * 3600  # AWS's time
LAB_DESTINATION_LIMIT = 256 * 1024 * 1024  # bytes waiting for S3 in all streams: past
# it, the oldest buffer goes early, and new records wait (ServiceUnavailableException)
PARTITION_CODE = "DynamicPartitioning.MetadataExtractionFailed"
PARTITION_MESSAGE = "The record's partition keys do not give every key the prefix uses."

__all__ = ["Deliveries"]


class Deliveries:
    """``owner``: the FirehoseDelivery (its lock, trace, jobs); ``sender``: the lab's
    ``helpers.send.Sender``. ``add*`` are called with the owner's lock held."""

    def __init__(self, owner, sender):
        self.owner = owner
        self.sender = sender
        self._open: dict[tuple, tuple] = {}  # (stream, group, error type) -> (settings, Buffer)
        self._retrying: list[tuple] = []  # (settings, Buffer) S3 refused
        self._bytes = 0

    # -- into the buffers (the owner's lock held) ----------------------------------------

    def add(self, settings, record_id: str, data: bytes, arrival_ms: int,
            partition_keys: dict | None = None) -> None:
        """A record for the destination, with the partition keys the function gave it."""
        try:
            group = naming.evaluate(settings.prefix, naming.moment_of(arrival_ms),
                                    partition_keys=partition_keys, times=False)
        except KeyError:
            return self.add_failure(settings, record_id, data, arrival_ms, 1,
                                    PARTITION_CODE, PARTITION_MESSAGE, "partitioning-failed")
        self._put(settings, group, None, record_id,
                  data + b"\n" if settings.append_delimiter else data, arrival_ms)

    def add_failure(self, settings, record_id: str, raw: bytes, arrival_ms: int,
                    attempts: int, code: str, message: str | None,
                    error_type: str = "processing-failed", ended_ms: int | None = None):
        document = error_document(attempts=attempts, arrival_ms=arrival_ms, error_code=code,
                                  message=message, ended_ms=ended_ms or int(time.time() * 1000),
                                  raw=raw, lambda_arn=settings.lambda_arn)
        group = naming.evaluate(settings.error_prefix, naming.moment_of(arrival_ms),
                                error_type=error_type, times=False)
        self._put(settings, group, error_type, record_id, document, arrival_ms)

    def add_outcome(self, batch, outcome) -> None:
        """Where each record of a transformed batch goes."""
        settings = batch.settings
        for record in batch.records:
            result = outcome.results.get(record.record_id)
            if outcome.error_code is not None or result is None:
                self.add_failure(settings, record.record_id, record.data, record.arrival_ms,
                                 outcome.attempts, outcome.error_code or "Lambda.MissingRecordId",
                                 outcome.error_message, ended_ms=outcome.ended_ms)
            elif result.result == "Ok":
                self.add(settings, record.record_id, result.data, record.arrival_ms,
                         result.partition_keys if settings.dynamic_partitioning else None)
            elif result.result == "ProcessingFailed":
                self.add_failure(settings, record.record_id, record.data, record.arrival_ms,
                                 outcome.attempts, "Lambda.ProcessingFailedStatus", None,
                                 ended_ms=outcome.ended_ms)

    def _put(self, settings, group: str, error_type, record_id, data: bytes, arrival_ms):
        key = (settings.name, group, error_type)
        if key not in self._open:
            buffer = Buffer(settings.buffer_bytes, settings.buffer_interval_s,
                            error_type=error_type, template=group)
            self._open[key] = (settings, buffer)
        buffer = self._open[key][1]
        buffer.add_output(record_id, data, arrival_ms)
        self._bytes += len(data)

    def room(self) -> int:
        """Bytes the lab may still take in before S3 catches up."""
        return LAB_DESTINATION_LIMIT - self._bytes

    # -- when ------------------------------------------------------------------------------

    def next_deadline(self, now: float) -> float:
        buffers = [b for _, b in list(self._open.values()) + self._retrying]
        return min((b.deadline for b in buffers), default=now + 60)

    def any_due(self, now: float) -> bool:
        return any(self._is_due(b, now) for _, b in list(self._open.values()) + self._retrying)

    def _is_due(self, buffer: Buffer, now: float) -> bool:
        return buffer.full or buffer.interval_s == 0 or buffer.due(now)

    def _take_due(self) -> list[tuple]:
        """(settings, buffer) to write now, with the owner's lock held."""
        now, taken = time.monotonic(), []
        for key, (_, buffer) in list(self._open.items()):
            if self._is_due(buffer, now):
                taken.append(self._open.pop(key))
        for item in list(self._retrying):
            if item[1].due(now):
                self._retrying.remove(item)
                taken.append(item)
        waiting = sorted(self._open.items(), key=lambda item: item[1][1].opened)
        over = self._bytes - sum(b.size for _, b in taken) - LAB_DESTINATION_LIMIT
        while over > 0 and waiting:  # too much waiting in the lab: the oldest goes early
            key, item = waiting.pop(0)
            taken.append(self._open.pop(key))
            over -= item[1].size
        return taken

    def send_due(self) -> None:
        """Hand every buffer that is due to a worker (call without the owner's lock)."""
        with self.owner.lock:
            taken = self._take_due()
        for settings, buffer in taken:
            self.owner.submit(self._write, settings, buffer)

    # -- to S3 -----------------------------------------------------------------------------

    def _write(self, settings, buffer: Buffer, last_try: bool = False) -> None:
        moment = naming.moment_of(buffer.oldest_ms, settings.time_zone)
        prefix = naming.evaluate(buffer.template, moment, error_type=buffer.error_type)
        key = naming.object_key(prefix, settings.name, settings.version, moment,
                                settings.extension)
        body = b"".join(data for _, data, _ in buffer.items)
        if settings.compression == "GZIP":
            body = gzip.compress(body)
        details = {"stream": settings.name, "bucket": settings.bucket, "key": key}
        try:
            self.sender.send(f"arn:aws:s3:::{settings.bucket}", body, key=key)
        except DeliveryError as error:
            self._refused(settings, buffer, details, str(error), last_try)
            return
        with self.owner.lock:
            self._bytes -= buffer.size
        self.owner.trace.record("firehose.delivered", output="error" if buffer.error_type
                                else "data", error_type=buffer.error_type,
                                record_ids=buffer.record_ids(), bytes=len(body), **details)

    def _refused(self, settings, buffer, details, error: str, last_try: bool) -> None:
        clock = self.owner.service.clock
        gave_up = (last_try or self.owner.stopping or
                   time.monotonic() - buffer.opened > clock.lab_seconds(KEEP_TRYING_S))
        if buffer.failures == 0 or gave_up:
            self.owner.trace.record("firehose.delivery_error", error=error, **details)
        buffer.failures += 1
        with self.owner.lock:
            if gave_up:
                self._bytes -= buffer.size
                self.owner.lost(settings.name, buffer.record_ids(),
                                f"S3 refused the object: {error}")
                return
            buffer.retry_at = time.monotonic() + RETRY_S
            self._retrying.append((settings, buffer))

    # -- the end ---------------------------------------------------------------------------

    def close(self, stream_name: str, reason: str) -> None:
        """The stream was deleted: what waited for S3 is lost."""
        with self.owner.lock:
            buffers = [self._open.pop(key)[1] for key in list(self._open)
                       if key[0] == stream_name]
            buffers += [buffer for settings, buffer in self._retrying
                        if settings.name == stream_name]
            self._retrying = [item for item in self._retrying if item[1] not in buffers]
            for buffer in buffers:
                self._bytes -= buffer.size
                self.owner.lost(stream_name, buffer.record_ids(), reason)

    def flush_all(self) -> None:
        """The lab stops: write every buffer now, once (in this thread)."""
        with self.owner.lock:
            items = list(self._open.values()) + self._retrying
            self._open.clear()
            self._retrying = []
        for settings, buffer in items:
            self._write(settings, buffer, last_try=True)
