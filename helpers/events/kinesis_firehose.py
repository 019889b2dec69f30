"""The event Amazon Data Firehose sends a transformation function (Powertools'
``KinesisFirehoseModel``).

Firehose invokes the function synchronously with each buffered batch: ``invocationId``,
``deliveryStreamArn``, ``region`` and ``records``, each with its ``recordId`` (which the
function must answer with), ``approximateArrivalTimestamp`` (epoch milliseconds) and
``data`` (the record's bytes, base64-encoded). When the source is a Kinesis data stream
the event also names ``sourceKinesisStreamArn`` and each record carries
``kinesisRecordMetadata``. Introduced in notebook 11.

https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html
"""

from __future__ import annotations

import base64
import itertools
import threading
import time

POWERTOOLS_MODEL = "KinesisFirehoseModel"  # aws_lambda_powertools.utilities.parser.models

__all__ = ["POWERTOOLS_MODEL", "kinesis_metadata", "new_record_id", "record",
           "transformation_event"]

_counter = itertools.count(1)
_lock = threading.Lock()


def new_record_id(arrival_ms: int | None = None) -> str:
    """A record id of 56 digits, as Firehose's look: unique and increasing in this process."""
    with _lock:
        number = next(_counter)
    arrival_ms = int(time.time() * 1000) if arrival_ms is None else arrival_ms
    return f"4965{arrival_ms % 10**13:013d}{number:039d}"


def kinesis_metadata(shard_id: str, partition_key: str, arrival_ms: int,
                     sequence_number: str, subsequence_number: int = 0) -> dict:
    """``kinesisRecordMetadata``: where a record read from a Kinesis data stream came from."""
    return {"shardId": shard_id, "partitionKey": partition_key,
            "approximateArrivalTimestamp": arrival_ms, "sequenceNumber": sequence_number,
            "subsequenceNumber": subsequence_number}


def record(record_id: str, data: bytes, arrival_ms: int, kinesis: dict | None = None) -> dict:
    """One record of the event's ``records``."""
    entry = {"recordId": record_id, "approximateArrivalTimestamp": arrival_ms,
             "data": base64.b64encode(data).decode()}
    if kinesis is not None:
        entry["kinesisRecordMetadata"] = kinesis
    return entry


def transformation_event(invocation_id: str, stream_arn: str, region: str, records: list[dict],
                         source_stream_arn: str | None = None) -> dict:
    """The event of one invocation: a batch of records from the processor's buffer."""
    event = {"invocationId": invocation_id, "deliveryStreamArn": stream_arn, "region": region}
    if source_stream_arn:
        event["sourceKinesisStreamArn"] = source_stream_arn
    event["records"] = records
    return event
