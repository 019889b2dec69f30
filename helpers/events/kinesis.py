"""The event Lambda's Kinesis poller sends a function (Powertools' ``KinesisDataStreamModel``).

``kinesis_record`` turns one ``GetRecords`` record (as boto3 returns it) into one record
of the event's ``Records``: ``kinesis`` (``kinesisSchemaVersion``, ``partitionKey``,
``sequenceNumber``, ``data`` base64-encoded, ``approximateArrivalTimestamp`` in epoch
seconds with milliseconds), ``eventSource``, ``eventVersion``, ``eventID``
(``shardId-…:sequenceNumber``), ``eventName``, ``invokeIdentityArn`` (the function's
execution role), ``awsRegion`` and ``eventSourceARN``. ``batch_info`` is what an
on-failure destination learns of a batch (``KinesisBatchInfo``). Introduced in notebook 13.

https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

POWERTOOLS_MODEL = "KinesisDataStreamModel"  # aws_lambda_powertools.utilities.parser.models
BATCH_INFO = "KinesisBatchInfo"

__all__ = ["BATCH_INFO", "POWERTOOLS_MODEL", "arrival_seconds", "batch_info", "kinesis_record"]


def arrival_seconds(moment) -> float:
    """Epoch seconds, with milliseconds, of a datetime or a number."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return round(moment.timestamp(), 3)
    return round(float(moment), 3)


def kinesis_record(record: dict, shard_id: str, stream_arn: str, region: str,
                   role_arn: str) -> dict:
    """One GetRecords record as a record of Lambda's Kinesis event."""
    data = record["Data"]
    if isinstance(data, str):
        data = data.encode()
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": arrival_seconds(record["ApproximateArrivalTimestamp"]),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def batch_info(shard_id: str, records: list[dict], stream_arn: str) -> dict:
    """``KinesisBatchInfo``: which records an on-failure destination's message is about."""
    first, last = records[0]["kinesis"], records[-1]["kinesis"]
    return {
        "shardId": shard_id,
        "startSequenceNumber": first["sequenceNumber"],
        "endSequenceNumber": last["sequenceNumber"],
        "approximateArrivalOfFirstRecord": _iso(first["approximateArrivalTimestamp"]),
        "approximateArrivalOfLastRecord": _iso(last["approximateArrivalTimestamp"]),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
