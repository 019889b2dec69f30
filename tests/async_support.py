"""Small boto3 helpers shared by the asynchronous-invocation tests (not a test module)."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timezone

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def make_queue(prefix: str = "q") -> tuple[str, str]:
    """A new SQS standard queue: (url, arn)."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"{prefix}-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, arn["Attributes"]["QueueArn"]


def make_topic_to_queue(prefix: str = "t") -> tuple[str, str]:
    """A new SNS topic with an SQS queue subscribed to it: (topic arn, queue url)."""
    sns = boto3.client("sns")
    topic = sns.create_topic(Name=f"{prefix}-{uuid.uuid4().hex[:10]}")["TopicArn"]
    url, arn = make_queue(prefix)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url


def drain(url: str, expect: int | None = None, timeout: float = 5.0) -> list[dict]:
    """Every message in the queue (with attributes); waits up to ``timeout`` for ``expect``."""
    sqs = boto3.client("sqs")
    messages: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=300,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        messages.extend(batch)
        if batch:
            continue
        if expect is None or len(messages) >= expect or time.monotonic() > deadline:
            return messages
        time.sleep(0.05)


def check_timestamp(timestamp: str) -> None:
    """ISO 8601 with milliseconds and Z, and about now."""
    assert TIMESTAMP.fullmatch(timestamp), timestamp
    when = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 60


def check_record(record: dict, *, request_id: str, name: str, condition: str, count: int,
                 payload, response=None, function_error: str | None = None) -> None:
    """The invocation record Lambda sends to a destination (version 1.0), exactly.

    ``response`` is the function's result; for a failed function, pass the expected
    error object without ``stackTrace`` (checked separately: a list of frames).
    """
    record = json.loads(json.dumps(record))  # a copy
    check_timestamp(record.pop("timestamp"))
    context = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        context["functionError"] = function_error
        frames = record["responsePayload"].pop("stackTrace")
        assert frames and all(isinstance(frame, str) for frame in frames)
        assert "lambda_handler" in frames[-1]
    assert record == {
        "version": "1.0",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn(name)}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": count,
        },
        "requestPayload": payload,
        "responseContext": context,
        "responsePayload": response,
    }


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
    """Poll until ``predicate()`` is truthy; returns its value (or the last falsy one)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
