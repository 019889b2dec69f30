"""A Kinesis data stream as the source of an Amazon Data Firehose delivery stream.

Firehose reads the stream itself with the Kinesis API: every shard, with ``GetRecords``
once a second per shard, from where the delivery stream started
(https://docs.aws.amazon.com/firehose/latest/dev/writing-with-kinesis-streams.html).
The lab starts each shard at the delivery stream's ``DeliveryStartTimestamp`` (its
creation), so records written after ``CreateDeliveryStream`` answered are all read; a
shard found later (after resharding) is read from its start. While the delivery
stream's buffers are full, a shard's records wait and the shard is not read further.
Introduced in notebook 11.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from ..events import kinesis_firehose as events
from .firehose_buffers import FirehoseRecord

READ_EVERY_S = 1.0  # GetRecords once a second per shard
SHARDS_EVERY_S = 5.0  # how often new shards are looked for
READ_LIMIT = 10000

__all__ = ["KinesisSourceReader"]


def _ms(moment) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return int(moment.timestamp() * 1000)
    return int(float(moment) * 1000)


class KinesisSourceReader:
    """Reads ``stream_arn`` for the delivery stream ``name``. ``accept(records)`` takes a
    shard's records whole, or returns False when the buffers are full (try again)."""

    def __init__(self, name: str, stream_arn: str, started: float, kinesis, accept, trace):
        self.name = name
        self.stream_arn = stream_arn
        self.started = started  # epoch seconds: the DeliveryStartTimestamp
        self.kinesis = kinesis
        self.accept = accept
        self.trace = trace
        self._stop = threading.Event()
        self._iterators: dict[str, str | None] = {}
        self._waiting: dict[str, list] = {}
        self._last_error = ""
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"lab-firehose-kinesis-{name[:20]}")

    def start(self) -> KinesisSourceReader:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def waiting(self) -> list:
        """Records read from the stream but not yet taken by the delivery stream."""
        return [record for records in self._waiting.values() for record in records]

    def _run(self) -> None:
        shards_read = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - shards_read > SHARDS_EVERY_S:
                    self._find_shards(first=shards_read == 0.0)
                    shards_read = time.monotonic()
                for shard_id in list(self._iterators):
                    if self._stop.is_set():
                        return
                    self._read(shard_id)
            except Exception as error:  # the stream is gone, or the lab is stopping
                self._note(repr(error))
            self._stop.wait(READ_EVERY_S)

    def _find_shards(self, first: bool) -> None:
        shards = self.kinesis.list_shards(StreamARN=self.stream_arn)["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._iterators:
                continue
            if first:
                options = {"ShardIteratorType": "AT_TIMESTAMP",
                           "Timestamp": datetime.fromtimestamp(self.started, timezone.utc)}
            else:
                options = {"ShardIteratorType": "TRIM_HORIZON"}
            self._iterators[shard_id] = self.kinesis.get_shard_iterator(
                StreamARN=self.stream_arn, ShardId=shard_id, **options)["ShardIterator"]

    def _read(self, shard_id: str) -> None:
        if self._waiting.get(shard_id):
            if not self.accept(self._waiting[shard_id]):
                return
            self._waiting[shard_id] = []
        iterator = self._iterators.get(shard_id)
        if iterator is None:
            return  # a closed shard, read to its end
        answer = self.kinesis.get_records(ShardIterator=iterator, Limit=READ_LIMIT,
                                          StreamARN=self.stream_arn)
        self._iterators[shard_id] = answer.get("NextShardIterator")
        records = []
        for found in answer.get("Records", []):
            arrival = _ms(found["ApproximateArrivalTimestamp"])
            metadata = events.kinesis_metadata(shard_id, found["PartitionKey"], arrival,
                                               found["SequenceNumber"])
            records.append(FirehoseRecord(events.new_record_id(arrival), bytes(found["Data"]),
                                          arrival, metadata))
        if records and not self.accept(records):
            self._waiting[shard_id] = records

    def _note(self, error: str) -> None:
        if error != self._last_error:
            self._last_error = error
            self.trace.record("firehose.source_error", stream=self.name,
                              source=self.stream_arn, error=error)
