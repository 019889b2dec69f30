"""Amazon Data Firehose's two buffers of a delivery stream, as plain data.

Records first collect in the **processor buffer** until its size (``BufferSizeInMBs``,
0.2 to 3) or interval (``BufferIntervalInSeconds``, 0 to 900) is reached, whichever
comes first; then the buffer becomes one batch, one invocation of the function
(https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html). What the
function returns collects in **destination buffers** (S3's ``BufferingHints``: 1 to 128
MiB, 0 to 900 s), one per evaluated prefix (with dynamic partitioning, one per
partition), and each becomes one S3 object
(https://docs.aws.amazon.com/firehose/latest/dev/buffering-hints.html). Without a
Lambda processor, records go straight to the destination buffer.

The lab also ends a batch before its event would pass Lambda's 6 MB synchronous
payload limit (records are base64-encoded in the event). Introduced in notebook 11.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from ..aws import MAX_SYNC_PAYLOAD

EVENT_ENVELOPE = 400  # bytes of an event besides its records
RECORD_ENVELOPE = 120  # bytes of one record's JSON besides its data

__all__ = ["Batch", "Buffer", "FirehoseRecord", "encoded_size"]

_batch_numbers = itertools.count(1)


@dataclass
class FirehoseRecord:
    record_id: str
    data: bytes
    arrival_ms: int
    kinesis: dict | None = None  # kinesisRecordMetadata, for a Kinesis data stream source


def encoded_size(record: FirehoseRecord) -> int:
    """Bytes the record takes in an event: its data in base64, and its fields."""
    return 4 * ((len(record.data) + 2) // 3) + RECORD_ENVELOPE


@dataclass
class Buffer:
    """Records (or what they became) waiting until ``size`` bytes or ``deadline``."""

    limit: int  # bytes that make it full
    interval_s: float
    opened: float = field(default_factory=time.monotonic)
    items: list = field(default_factory=list)  # FirehoseRecord, or (record id, bytes, ms)
    size: int = 0
    encoded: int = EVENT_ENVELOPE  # what a processor buffer's event would take
    oldest_ms: int | None = None  # the arrival of its oldest record
    error_type: str | None = None  # for a destination buffer of failed records
    template: str = ""  # the prefix, its timestamps not yet evaluated
    failures: int = 0  # deliveries to S3 that failed so far
    retry_at: float = 0.0

    @property
    def deadline(self) -> float:
        return max(self.opened + self.interval_s, self.retry_at)

    def would_overflow_event(self, record: FirehoseRecord) -> bool:
        """Adding ``record`` would make the batch's event pass Lambda's 6 MB."""
        return bool(self.items) and self.encoded + encoded_size(record) > MAX_SYNC_PAYLOAD

    def add_record(self, record: FirehoseRecord) -> None:
        self.items.append(record)
        self.size += len(record.data)
        self.encoded += encoded_size(record)
        self._arrived(record.arrival_ms)

    def add_output(self, record_id: str, data: bytes, arrival_ms: int) -> None:
        self.items.append((record_id, data, arrival_ms))
        self.size += len(data)
        self._arrived(arrival_ms)

    def _arrived(self, arrival_ms: int) -> None:
        if self.oldest_ms is None or arrival_ms < self.oldest_ms:
            self.oldest_ms = arrival_ms

    @property
    def full(self) -> bool:
        return self.size >= self.limit

    def due(self, now: float) -> bool:
        return bool(self.items) and now >= self.deadline

    def record_ids(self) -> list[str]:
        return [item.record_id if isinstance(item, FirehoseRecord) else item[0]
                for item in self.items]


@dataclass(eq=False)
class Batch:
    """One processor buffer on its way through the function."""

    stream: str
    records: list  # FirehoseRecord
    trigger: str  # "size", "interval", "event size"
    settings: object  # the StreamSettings it was made with
    number: int = field(default_factory=lambda: next(_batch_numbers))
    ended: bool = False  # its records have ended (delivered, dropped, failed or lost)

    @property
    def size(self) -> int:
        return sum(len(record.data) for record in self.records)

    @property
    def record_ids(self) -> list[str]:
        return [record.record_id for record in self.records]
