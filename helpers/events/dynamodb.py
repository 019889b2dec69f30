"""The event Lambda's DynamoDB Streams poller sends (Powertools' ``DynamoDBStreamModel``).

``dynamodb_record`` turns one ``GetRecords`` stream record (as boto3 returns it) into one
record of the event's ``Records``: ``eventID``, ``eventName`` (INSERT, MODIFY, REMOVE),
``eventVersion``, ``eventSource``, ``awsRegion``, ``eventSourceARN`` (the stream's ARN,
with its label) and ``dynamodb``: ``Keys`` and the images the stream's view type keeps,
in DynamoDB JSON (``{"N": "1"}``, binary values base64), ``ApproximateCreationDateTime``
in epoch seconds, ``SequenceNumber``, ``SizeBytes`` and ``StreamViewType``.
``batch_info`` is what an on-failure destination learns of a batch
(``DDBStreamBatchInfo``). Introduced in notebook 05.

https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

POWERTOOLS_MODEL = "DynamoDBStreamModel"  # aws_lambda_powertools.utilities.parser.models
EVENT_VERSION = "1.1"
BATCH_INFO = "DDBStreamBatchInfo"

__all__ = ["BATCH_INFO", "POWERTOOLS_MODEL", "batch_info", "dynamodb_record", "typed_json"]


def typed_json(value):
    """A DynamoDB JSON value as the event carries it: binary values base64-encoded."""
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            if key == "B" and isinstance(item, (bytes, bytearray)):
                converted[key] = base64.b64encode(item).decode()
            elif key == "BS":
                converted[key] = [base64.b64encode(v).decode()
                                  if isinstance(v, (bytes, bytearray)) else v for v in item]
            else:
                converted[key] = typed_json(item)
        return converted
    if isinstance(value, list):
        return [typed_json(item) for item in value]
    return value


def _epoch_seconds(moment) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return int(moment.timestamp())
    return int(float(moment))


def dynamodb_record(record: dict, stream_arn: str, region: str) -> dict:
    """One GetRecords record as a record of Lambda's DynamoDB Streams event."""
    change = record["dynamodb"]
    dynamodb = {}
    if "ApproximateCreationDateTime" in change:
        dynamodb["ApproximateCreationDateTime"] = _epoch_seconds(
            change["ApproximateCreationDateTime"])
    dynamodb["Keys"] = typed_json(change["Keys"])
    for image in ("NewImage", "OldImage"):
        if image in change:
            dynamodb[image] = typed_json(change[image])
    dynamodb.update(SequenceNumber=change["SequenceNumber"], SizeBytes=change["SizeBytes"],
                    StreamViewType=change["StreamViewType"])
    event = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if record.get("userIdentity"):  # a TTL delete
        event["userIdentity"] = dict(record["userIdentity"])
    return event


def batch_info(shard_id: str, records: list[dict], stream_arn: str) -> dict:
    """``DDBStreamBatchInfo``: which records an on-failure destination's message is about."""
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    return {
        "shardId": shard_id,
        "startSequenceNumber": first["SequenceNumber"],
        "endSequenceNumber": last["SequenceNumber"],
        "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
        "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }


def _iso(seconds) -> str:
    moment = datetime.fromtimestamp(float(seconds or 0), timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
