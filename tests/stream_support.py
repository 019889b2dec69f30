"""Small boto3 helpers shared by the DynamoDB Streams and Kinesis tests (not a test module)."""

from __future__ import annotations

import json
import uuid

import boto3
from async_support import wait_for

# Prints the event, then fails when a record holds "bad" (MODE=raise), reports those
# records (MODE=report), or answers with a tumbling window's state (MODE=window).
RECORDER = """
import base64, json, os

def text(record):
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]).decode()
    return json.dumps(record["dynamodb"])

def sequence(record):
    return record["kinesis"]["sequenceNumber"] if "kinesis" in record else \\
        record["dynamodb"]["SequenceNumber"]

def lambda_handler(event, context):
    print("EVENT " + json.dumps(event))
    mode = os.environ.get("MODE", "raise")
    bad = [sequence(r) for r in event["Records"] if "bad" in text(r)]
    if mode == "window":
        state = dict(event.get("state") or {})
        state["count"] = state.get("count", 0) + len(event["Records"])
        return {"state": state}
    if mode == "report":
        return {"batchItemFailures": [{"itemIdentifier": s} for s in bad]}
    if bad:
        raise ValueError(f"{len(bad)} bad record(s)")
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def function_events(name: str) -> list[dict]:
    """Every event the function printed (``EVENT {...}``), from CloudWatch Logs."""
    logs = boto3.client("logs")
    found = []
    for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{name}"):
        found += [json.loads(line["message"][6:]) for line in page["events"]
                  if line["message"].startswith("EVENT ")]
    return found


def make_queue() -> tuple[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=unique("failures"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return url, arn


def receive(url: str, expect: int, timeout: float = 10.0) -> list[dict]:
    sqs, found = boto3.client("sqs"), {}

    def more():
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=60).get("Messages", []):
            found[message["MessageId"]] = json.loads(message["Body"])
        return len(found) >= expect

    wait_for(more, timeout=timeout, interval=0.1)
    return list(found.values())


def ended(lab, uuid_: str) -> dict[str, str]:
    """Each sequence number's end so far: "processed", "filtered" or the discard condition."""
    ends = {}
    for event in lab.trace.events("batch", mapping=uuid_):
        if event.kind == "batch.end":
            ends.update({s: "processed" for s in event["processed"]})
        elif event.kind == "batch.filtered":
            ends.update({s: "filtered" for s in event["sequence_numbers"]})
        elif event.kind == "batch.discarded":
            ends.update({s: event["condition"] for s in event["sequence_numbers"]})
    return ends


def wait_ended(lab, uuid_: str, count: int, timeout: float = 20.0) -> dict[str, str]:
    wait_for(lambda: len(ended(lab, uuid_)) >= count, timeout=timeout, interval=0.05)
    return ended(lab, uuid_)


def wait_state(client, uuid_: str, state: str, timeout: float = 10.0) -> bool:
    return wait_for(lambda: client.get_event_source_mapping(UUID=uuid_)["State"] == state,
                    timeout=timeout, interval=0.05)
