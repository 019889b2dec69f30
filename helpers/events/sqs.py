"""The event Lambda's SQS poller sends a function (Powertools' ``SqsModel``).

``sqs_record`` turns one ``ReceiveMessage`` message into one record of the event's
``Records``: ``messageId``, ``receiptHandle``, ``body``, the attributes Lambda passes on
(FIFO queues add ``SequenceNumber``, ``MessageGroupId`` and
``MessageDeduplicationId``), message attributes with lower-case keys and base64 binary
values, ``md5OfBody``, ``eventSource``, ``eventSourceARN`` and ``awsRegion``.
https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
Introduced in notebook 06.
"""

from __future__ import annotations

import base64

POWERTOOLS_MODEL = "SqsModel"  # aws_lambda_powertools.utilities.parser.models
FIFO_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SequenceNumber",
                   "MessageGroupId", "SenderId", "MessageDeduplicationId",
                   "ApproximateFirstReceiveTimestamp", "AWSTraceHeader")
STANDARD_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId",
                       "ApproximateFirstReceiveTimestamp", "AWSTraceHeader")

__all__ = ["FIFO_ATTRIBUTES", "POWERTOOLS_MODEL", "STANDARD_ATTRIBUTES", "sqs_record"]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def sqs_record(message: dict, queue_arn: str, region: str, fifo: bool) -> dict:
    """One ReceiveMessage message as a record of Lambda's SQS event."""
    received = message.get("Attributes", {})
    names = FIFO_ATTRIBUTES if fifo else STANDARD_ATTRIBUTES
    attributes = {name: received[name] for name in names if name in received}
    message_attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        entry = {}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = _b64(value["BinaryValue"])
        entry["stringListValues"] = list(value.get("StringListValues", []))
        entry["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues", [])]
        entry["dataType"] = value["DataType"]
        message_attributes[name] = entry
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
    }
    if message_attributes and message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    })
    return record
