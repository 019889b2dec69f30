"""SQS event source mappings through plain boto3 (spec §6, event shapes §4): the mapping
API and its validation and states, the poller's batches, windows, errors, partial batch
responses, filters, dead-letter queues, FIFO order, scaling and throttling, and the event
every function receives (checked against Powertools' SqsModel)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid

import boto3
import hypothesis
import pytest
from async_support import wait_for
from aws_lambda_powertools.utilities.parser.models import SqsModel
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import helpers

ACCOUNT = "123456789012"
VISIBILITY_S = 2

# Prints the event (the tests read it back from CloudWatch Logs) and fails the messages
# whose body contains "bad": by raising (MODE=raise) or by reporting them (MODE=report).
RECORDER = """
import json, os, time

def lambda_handler(event, context):
    print("EVENT " + json.dumps(event))
    time.sleep(float(os.environ.get("SLEEP", "0")))
    mode = os.environ.get("MODE", "succeed")
    bad = [r["messageId"] for r in event["Records"] if "bad" in r["body"]]
    if mode == "raise" and bad:
        raise ValueError(f"{len(bad)} bad order(s)")
    if mode == "report":
        return {"batchItemFailures": [{"itemIdentifier": i} for i in bad]}
    return None
"""

# Answers with one of the responses Lambda judges when ReportBatchItemFailures is on.
RESPONDER = """
import os

def lambda_handler(event, context):
    ids = [r["messageId"] for r in event["Records"]]
    return {
        "null": None,
        "empty object": {},
        "empty list": {"batchItemFailures": []},
        "null list": {"batchItemFailures": None},
        "empty identifier": {"batchItemFailures": [{"itemIdentifier": ""}]},
        "null identifier": {"batchItemFailures": [{"itemIdentifier": None}]},
        "bad key name": {"batchItemFailures": [{"itemId": ids[0]}]},
        "unknown identifier": {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
        "a string": "done",
        "not a list": {"batchItemFailures": "all fine"},
    }[os.environ["RESPONSE"]]
"""


@pytest.fixture
def lambda_client(lab):
    return boto3.client("lambda")


@pytest.fixture
def sqs(lab):
    return boto3.client("sqs")


@pytest.fixture
def queue(sqs):
    """Make a queue: queue(visibility=2, fifo=False, max_receive=None) -> Queue."""

    def make(visibility=VISIBILITY_S, fifo=False, max_receive=None):
        name = f"q-{uuid.uuid4().hex[:10]}"
        attributes = {"VisibilityTimeout": str(visibility)}
        if fifo:
            name += ".fifo"
            attributes.update(FifoQueue="true", ContentBasedDeduplication="true")
        dlq = None
        if max_receive:
            dlq = make_plain(sqs, f"dlq-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else ""),
                             {"FifoQueue": "true"} if fifo else {})
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": max_receive})
        made = make_plain(sqs, name, attributes)
        made.dlq = dlq
        return made

    return make


class Queue:
    def __init__(self, url, arn):
        self.url, self.arn, self.dlq = url, arn, None


def make_plain(sqs, name, attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return Queue(url, arn)


@pytest.fixture
def mapping(lab, lambda_client):
    """Create event source mappings; each is deleted after the test."""
    made = []

    def create(**kwargs):
        response = lambda_client.create_event_source_mapping(**kwargs)
        made.append(response["UUID"])
        return response

    yield create
    for uuid_ in made if lab.running else ():
        try:
            lambda_client.delete_event_source_mapping(UUID=uuid_)
        except ClientError:
            pass


def counts(sqs, url) -> tuple[int, int]:
    """(visible, in flight) messages of a queue, as GetQueueAttributes reports them."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return (int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]))


def wait_empty(sqs, url, timeout=10.0) -> bool:
    return wait_for(lambda: counts(sqs, url) == (0, 0), timeout=timeout, interval=0.05)


def wait_state(client, uuid_, state, timeout=5.0) -> bool:
    return wait_for(lambda: client.get_event_source_mapping(UUID=uuid_)["State"] == state,
                    timeout=timeout, interval=0.05)


def send(sqs, url, bodies, per_request=10) -> list[str]:
    """SendMessageBatch, 10 at a time; returns the message ids in order."""
    ids = []
    for start in range(0, len(bodies), per_request):
        entries = [{"Id": str(i), "MessageBody": body}
                   for i, body in enumerate(bodies[start:start + per_request])]
        response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not response.get("Failed")
        by_id = {entry["Id"]: entry["MessageId"] for entry in response["Successful"]}
        ids += [by_id[str(i)] for i in range(len(entries))]
    return ids


def batches(lab, uuid_, kind="batch.end"):
    return lab.trace.events(kind, mapping=uuid_)


def function_events(name) -> list[dict]:
    """Every event the function printed (``EVENT {...}``), from CloudWatch Logs."""
    logs = boto3.client("logs")
    events = []
    for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{name}"):
        for line in page["events"]:
            if line["message"].startswith("EVENT "):
                events.append(json.loads(line["message"][6:]))
    return events


def drain_dlq(sqs, url, expect, timeout=5.0) -> list[dict]:
    found = {}

    def more():
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=60).get("Messages", []):
            found[message["MessageId"]] = message
        return len(found) >= expect

    wait_for(more, timeout=timeout, interval=0.1)
    return list(found.values())


# -- the mapping API ----------------------------------------------------------------------


def test_create_answers_202_creating_then_enabled(lab, lambda_client, queue, deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    response = mapping(EventSourceArn=q.arn, FunctionName=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert response["State"] == "Creating"
    uuid_ = response["UUID"]
    config = {k: v for k, v in response.items() if k not in ("ResponseMetadata", "LastModified")}
    assert config == {
        "UUID": uuid_,
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "EventSourceArn": q.arn,
        "FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": [],
        "EventSourceMappingArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{uuid_}",
    }
    assert abs(response["LastModified"].timestamp() - time.time()) < 60
    assert wait_state(lambda_client, uuid_, "Enabled")
    states = [e["state"] for e in lab.trace.events("mapping.state", mapping=uuid_)]
    assert states == ["Creating", "Enabled"]
    listed = lambda_client.list_event_source_mappings(EventSourceArn=q.arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid_]
    assert [m["UUID"] for m in lambda_client.list_event_source_mappings(
        FunctionName=name)["EventSourceMappings"]] == [uuid_]


def test_settings_are_kept_and_returned(lambda_client, queue, deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    criteria = {"Filters": [{"Pattern": json.dumps({"body": {"type": ["order"]}})}]}
    response = mapping(EventSourceArn=q.arn, FunctionName=name, BatchSize=50,
                       MaximumBatchingWindowInSeconds=2,
                       FunctionResponseTypes=["ReportBatchItemFailures"],
                       ScalingConfig={"MaximumConcurrency": 3}, FilterCriteria=criteria,
                       Enabled=False)
    got = lambda_client.get_event_source_mapping(UUID=response["UUID"])
    assert got["BatchSize"] == 50 and got["MaximumBatchingWindowInSeconds"] == 2
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert got["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert got["FilterCriteria"] == criteria
    assert got["State"] == "Disabled"


def error_of(call):
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], \
        error["Error"]["Message"]


@pytest.mark.parametrize("settings, expected", [
    ({"BatchSize": 10001}, (400, "ValidationException", "1 validation error detected: Value "
                            "'10001' at 'batchSize' failed to satisfy constraint: Member must "
                            "have value less than or equal to 10000")),
    ({"MaximumBatchingWindowInSeconds": 301},
     (400, "ValidationException", "1 validation error detected: Value '301' at "
      "'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value "
      "less than or equal to 300")),
    ({"ScalingConfig": {"MaximumConcurrency": 1001}},
     (400, "ValidationException", "1 validation error detected: Value '1001' at "
      "'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have "
      "value less than or equal to 1000")),
    ({"ScalingConfig": {"MaximumConcurrency": 1}},
     (400, "ValidationException", "1 validation error detected: Value '1' at "
      "'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have "
      "value greater than or equal to 2")),
    ({"FunctionResponseTypes": ["ReportEverything"]},
     (400, "ValidationException", "1 validation error detected: Value '[ReportEverything]' at "
      "'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: "
      "[Member must satisfy enum value set: [ReportBatchItemFailures]]")),
    ({"BatchSize": 11},
     (400, "InvalidParameterValueException", "Maximum batch window in seconds must be "
      "greater than 0 if maximum batch size is greater than 10")),
    ({"FilterCriteria": {"Filters": [{"Pattern": "{not json"}]}},
     (400, "InvalidParameterValueException", "Invalid filter pattern definition.")),
    ({"FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"n": [{"numeric": [
        "~", 1]}]}})}]}},
     (400, "InvalidParameterValueException", "Invalid filter pattern definition.")),
])
def test_invalid_settings_are_rejected_as_aws_rejects_them(lab, queue, deploy, settings,
                                                           expected):
    # parameter_validation=False: the lab's server checks what botocore would check first
    client = boto3.client("lambda", config=Config(parameter_validation=False))
    q = queue()
    name = deploy(RECORDER, timeout=1)
    assert error_of(lambda: client.create_event_source_mapping(
        EventSourceArn=q.arn, FunctionName=name, **settings)) == expected
    assert client.list_event_source_mappings(EventSourceArn=q.arn)["EventSourceMappings"] == []


def test_accepted_limits(lambda_client, queue, deploy, mapping):
    q = queue(visibility=3)
    name = deploy(RECORDER, timeout=3)  # function timeout == visibility timeout: allowed
    response = mapping(EventSourceArn=q.arn, FunctionName=name, BatchSize=10000,
                       MaximumBatchingWindowInSeconds=300,
                       ScalingConfig={"MaximumConcurrency": 1000})
    assert response["BatchSize"] == 10000


@pytest.mark.parametrize("settings, message", [
    ({"BatchSize": 11}, "Maximum batch size must be between 1 and 10 inclusive"),
    ({"MaximumBatchingWindowInSeconds": 1}, "Batching window is not supported for FIFO queues"),
])
def test_fifo_limits(lambda_client, queue, deploy, settings, message):
    q = queue(fifo=True)
    name = deploy(RECORDER, timeout=1)
    assert error_of(lambda: lambda_client.create_event_source_mapping(
        EventSourceArn=q.arn, FunctionName=name, **settings)) == (
        400, "InvalidParameterValueException", message)


def test_function_timeout_longer_than_visibility_timeout_is_rejected(lambda_client, queue,
                                                                    deploy, mapping):
    q = queue(visibility=2)
    name = deploy(RECORDER, timeout=5)
    assert error_of(lambda: lambda_client.create_event_source_mapping(
        EventSourceArn=q.arn, FunctionName=name)) == (
        400, "InvalidParameterValueException",
        "Queue visibility timeout: 2 seconds is less than Function timeout: 5 seconds")
    short = deploy(RECORDER, timeout=1)
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=short)["UUID"]
    assert error_of(lambda: lambda_client.update_event_source_mapping(
        UUID=uuid_, FunctionName=name))[2].startswith("Queue visibility timeout: 2 seconds")


def test_unknown_function_queue_or_mapping(lambda_client, queue, deploy, mapping):
    q = queue()
    status, code, _ = error_of(lambda: lambda_client.create_event_source_mapping(
        EventSourceArn=q.arn, FunctionName="no-such-function"))
    assert (status, code) == (404, "ResourceNotFoundException")
    name = deploy(RECORDER, timeout=1)
    status, code, message = error_of(lambda: lambda_client.create_event_source_mapping(
        EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:no-such-queue", FunctionName=name))
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "NonExistentQueue" in message
    for call in (lambda_client.get_event_source_mapping,
                 lambda_client.delete_event_source_mapping):
        assert error_of(lambda call=call: call(UUID=str(uuid.uuid4())))[:2] == (
            404, "ResourceNotFoundException")


def test_a_second_mapping_for_the_same_queue_and_function_conflicts(lambda_client, queue,
                                                                    deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    first = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    status, code, message = error_of(lambda: lambda_client.create_event_source_mapping(
        EventSourceArn=q.arn, FunctionName=name))
    assert (status, code) == (409, "ResourceConflictException")
    assert message == (f'An event source mapping with SQS arn (" {q.arn} ") and function '
                       f'(" {name} ") already exists. Please update or delete the existing '
                       f"mapping with UUID {first}")


def test_disable_enable_update_and_delete_move_through_aws_states(lab, lambda_client, sqs, queue,
                                                                  deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    assert wait_state(lambda_client, uuid_, "Enabled")

    response = lambda_client.update_event_source_mapping(UUID=uuid_, Enabled=False)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert response["State"] == "Disabling"
    assert wait_state(lambda_client, uuid_, "Disabled")
    assert wait_for(lambda: lab.event_source_mappings.poller(uuid_) is None)
    send(sqs, q.url, ["while disabled"])
    time.sleep(1.2)
    assert counts(sqs, q.url) == (1, 0)  # nobody polls a disabled mapping
    assert not batches(lab, uuid_, "batch.start")

    assert lambda_client.update_event_source_mapping(UUID=uuid_, Enabled=True)["State"] == \
        "Enabling"
    assert wait_state(lambda_client, uuid_, "Enabled")
    assert wait_empty(sqs, q.url)

    assert error_of(lambda: lambda_client.update_event_source_mapping(UUID=uuid_, BatchSize=20))[
        1:] == ("InvalidParameterValueException", "Maximum batch window in seconds must be "
                "greater than 0 if maximum batch size is greater than 10")
    updated = lambda_client.update_event_source_mapping(
        UUID=uuid_, BatchSize=20, MaximumBatchingWindowInSeconds=1)
    assert (updated["State"], updated["BatchSize"]) == ("Updating", 20)
    assert wait_state(lambda_client, uuid_, "Enabled")

    deleted = lambda_client.delete_event_source_mapping(UUID=uuid_)
    assert (deleted["ResponseMetadata"]["HTTPStatusCode"], deleted["State"]) == (202, "Deleting")

    def gone():
        try:
            lambda_client.get_event_source_mapping(UUID=uuid_)
        except ClientError as error:
            return error.response["Error"]["Code"] == "ResourceNotFoundException"
        return False

    assert wait_for(gone, timeout=5)
    states = [e["state"] for e in lab.trace.events("mapping.state", mapping=uuid_)]
    assert states == ["Creating", "Enabled", "Disabling", "Disabled", "Enabling", "Enabled",
                      "Updating", "Enabled", "Deleting", "Deleted"]


def test_moto_never_invokes_inside_send_message(lab, lambda_client, sqs, queue, deploy,
                                                mapping):
    q = queue(visibility=10)
    name = deploy(RECORDER, timeout=5, environment={"SLEEP": "2"})
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    assert wait_state(lambda_client, uuid_, "Enabled")
    started = time.monotonic()
    ids = send(sqs, q.url, ["one", "two"])
    assert time.monotonic() - started < 1.5  # SendMessage did not wait for the function
    assert wait_empty(sqs, q.url)
    starts = lab.trace.events("attempt.start", function=f"arn:aws:lambda:us-east-1:{ACCOUNT}:"
                                                        f"function:{name}")
    assert starts and {e["source"] for e in starts} == {"sqs"}  # only the poller invoked
    assert sorted(i for e in batches(lab, uuid_, "batch.start") for i in e["message_ids"]) == \
        sorted(ids)


# -- events -------------------------------------------------------------------------------


def test_every_record_is_lambdas_sqs_event_and_passes_sqsmodel(lab, sqs, queue, deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    sent = sqs.send_message(QueueUrl=q.url, MessageBody='{"order_id": 1}', MessageAttributes={
        "customer": {"DataType": "String", "StringValue": "ana"},
        "priority": {"DataType": "Number", "StringValue": "2"},
        "signature": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    })
    plain = sqs.send_message(QueueUrl=q.url, MessageBody="plain text")
    before = int(time.time() * 1000)
    mapping(EventSourceArn=q.arn, FunctionName=name)
    assert wait_empty(sqs, q.url)
    events = function_events(name)
    assert len(events) == 1
    SqsModel.model_validate(events[0])
    records = {r["messageId"]: r for r in events[0]["Records"]}
    assert set(records) == {sent["MessageId"], plain["MessageId"]}
    record = records[sent["MessageId"]]
    assert list(record) == ["messageId", "receiptHandle", "body", "attributes",
                            "messageAttributes", "md5OfMessageAttributes", "md5OfBody",
                            "eventSource", "eventSourceARN", "awsRegion"]
    assert record["body"] == '{"order_id": 1}'
    assert record["md5OfBody"] == hashlib.md5(b'{"order_id": 1}').hexdigest()
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs", q.arn, "us-east-1")
    attributes = record["attributes"]
    assert list(attributes) == ["ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                "ApproximateFirstReceiveTimestamp"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert all(isinstance(value, str) for value in attributes.values())
    assert abs(int(attributes["SentTimestamp"]) - before) < 60_000
    assert int(attributes["ApproximateFirstReceiveTimestamp"]) >= int(attributes["SentTimestamp"])
    assert record["messageAttributes"] == {
        "customer": {"stringValue": "ana", "stringListValues": [], "binaryListValues": [],
                     "dataType": "String"},
        "priority": {"stringValue": "2", "stringListValues": [], "binaryListValues": [],
                     "dataType": "Number"},
        "signature": {"binaryValue": base64.b64encode(b"\x00\x01").decode(),
                      "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    assert "md5OfMessageAttributes" not in records[plain["MessageId"]]
    assert records[plain["MessageId"]]["messageAttributes"] == {}


def test_fifo_records_carry_group_deduplication_and_sequence(sqs, queue, deploy, mapping):
    q = queue(fifo=True)
    name = deploy(RECORDER, timeout=1)
    sent = [sqs.send_message(QueueUrl=q.url, MessageBody=f"m{i}", MessageGroupId="g")
            for i in range(3)]
    mapping(EventSourceArn=q.arn, FunctionName=name)
    assert wait_empty(sqs, q.url)
    records = [r for event in function_events(name) for r in event["Records"]]
    for event in function_events(name):
        SqsModel.model_validate(event)
    assert [r["body"] for r in records] == ["m0", "m1", "m2"]
    assert list(records[0]["attributes"]) == [
        "ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId",
        "SenderId", "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp"]
    sequence = [r["attributes"]["SequenceNumber"] for r in records]
    assert sequence == [s["SequenceNumber"] for s in sent]
    assert all(len(s) == 20 for s in sequence) and sequence == sorted(sequence, key=int)
    assert {r["attributes"]["MessageGroupId"] for r in records} == {"g"}
    assert records[0]["attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"m0").hexdigest()


# -- batching -----------------------------------------------------------------------------


def test_batch_size_without_window(lab, sqs, queue, deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    ids = send(sqs, q.url, [f"order {i}" for i in range(25)])
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name, BatchSize=4)["UUID"]
    assert wait_empty(sqs, q.url)
    starts = batches(lab, uuid_, "batch.start")
    assert all(len(e["message_ids"]) <= 4 for e in starts)
    assert sorted(i for e in starts for i in e["message_ids"]) == sorted(ids)
    assert sum(len(e["Records"]) for e in function_events(name)) == 25


def test_a_smaller_batch_size_applies_to_the_next_batch_at_once(lab, lambda_client, sqs, queue,
                                                                deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    assert wait_state(lambda_client, uuid_, "Enabled")
    time.sleep(0.3)  # the poller is waiting in a long poll asked for 10 messages
    assert lambda_client.update_event_source_mapping(UUID=uuid_, BatchSize=3)["BatchSize"] == 3
    assert wait_state(lambda_client, uuid_, "Enabled")
    ids = send(sqs, q.url, [f"order {i}" for i in range(7)])
    assert wait_empty(sqs, q.url)
    starts = batches(lab, uuid_, "batch.start")  # recorded by concurrent workers
    assert sorted(len(e["message_ids"]) for e in starts) == [1, 3, 3]
    assert sorted(i for e in starts for i in e["message_ids"]) == sorted(ids)


def test_batching_window_gathers_up_to_batch_size(lab, sqs, queue, deploy, mapping):
    q = queue(visibility=5)
    name = deploy(RECORDER, timeout=1)
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name, BatchSize=100,
                    MaximumBatchingWindowInSeconds=1)["UUID"]
    assert wait_state(boto3.client("lambda"), uuid_, "Enabled")
    started = time.monotonic()
    send(sqs, q.url, [f"order {i}" for i in range(25)])
    assert wait_for(lambda: batches(lab, uuid_, "batch.start"), timeout=5)
    waited = time.monotonic() - started
    start = batches(lab, uuid_, "batch.start")[0]
    assert len(start["message_ids"]) == 25, "one batch: the window gathered every message"
    assert start["trigger"] == "window"
    assert 0.8 < waited < 3.0
    assert wait_empty(sqs, q.url)


def test_full_batch_does_not_wait_for_the_window(lab, sqs, queue, deploy, mapping):
    q = queue(visibility=30)
    name = deploy(RECORDER, timeout=1)
    send(sqs, q.url, [f"order {i}" for i in range(20)])
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name, BatchSize=20,
                    MaximumBatchingWindowInSeconds=20)["UUID"]
    assert wait_empty(sqs, q.url, timeout=5)  # far sooner than the 20 s window
    assert [e["trigger"] for e in batches(lab, uuid_, "batch.start")] == ["batch size"]


def test_a_batch_stays_under_6_mb(lab, sqs, queue, deploy, mapping):
    q = queue(visibility=30)
    name = deploy("def lambda_handler(event, context):\n    return len(event['Records'])\n",
                  timeout=3)
    body = "x" * 250_000
    ids = send(sqs, q.url, [body] * 30, per_request=4)  # 7.5 MB of messages
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name, BatchSize=100,
                    MaximumBatchingWindowInSeconds=1)["UUID"]
    assert wait_empty(sqs, q.url, timeout=20)
    starts = batches(lab, uuid_, "batch.start")
    assert len(starts) >= 2 and "payload limit" in [e["trigger"] for e in starts]
    assert all(e["bytes"] <= 6 * 1024 * 1024 for e in starts)
    assert sorted(i for e in starts for i in e["message_ids"]) == sorted(ids)
    assert {e["outcome"] for e in batches(lab, uuid_)} == {"success"}


# -- errors, partial batch responses, dead-letter queues ----------------------------------


def test_a_function_error_returns_the_whole_batch_after_the_visibility_timeout(
        lab, sqs, queue, deploy, mapping):
    q = queue(visibility=2, max_receive=2)
    name = deploy(RECORDER, timeout=1, environment={"MODE": "raise"})
    ids = send(sqs, q.url, ["good 1", "bad 2", "good 3"])
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    assert wait_for(lambda: batches(lab, uuid_), timeout=5)
    first = batches(lab, uuid_)[0]
    assert (first["outcome"], first["deleted"], sorted(first["retried"])) == (
        "error", [], sorted(ids))
    assert first["error_type"] == "ValueError"
    time.sleep(0.8)
    assert counts(sqs, q.url) == (0, 3)  # hidden until the visibility timeout ends
    assert wait_for(lambda: len(batches(lab, uuid_)) >= 2, timeout=5)
    second = batches(lab, uuid_, "batch.start")[1]
    assert second["receive_counts"] == [2, 2, 2]
    # the good messages fail with the bad one: all three end in the dead-letter queue
    moved = drain_dlq(sqs, q.dlq.url, expect=3, timeout=8)
    assert sorted(m["MessageId"] for m in moved) == sorted(ids)
    assert counts(sqs, q.url) == (0, 0)


def test_report_batch_item_failures_deletes_all_but_the_reported(lab, sqs, queue, deploy,
                                                                 mapping):
    q = queue(visibility=2, max_receive=2)
    name = deploy(RECORDER, timeout=1, environment={"MODE": "report"})
    good1, bad, good2 = send(sqs, q.url, ["good 1", "bad 2", "good 3"])
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name,
                    FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    assert wait_for(lambda: batches(lab, uuid_), timeout=5)
    first = batches(lab, uuid_)[0]
    assert first["outcome"] == "partial"
    assert (sorted(first["deleted"]), first["retried"]) == (sorted([good1, good2]), [bad])
    assert wait_for(lambda: counts(sqs, q.url) == (0, 1), timeout=1)
    moved = drain_dlq(sqs, q.dlq.url, expect=1, timeout=8)
    assert [m["MessageId"] for m in moved] == [bad]
    assert [m["Body"] for m in moved] == ["bad 2"]
    processed = [r["body"] for e in function_events(name) for r in e["Records"]]
    assert sorted(processed) == ["bad 2", "bad 2", "good 1", "good 3"]


@pytest.mark.parametrize("response, outcome", [
    ("null", "success"), ("empty object", "success"), ("empty list", "success"),
    ("null list", "success"),
    ("empty identifier", "invalid response"), ("null identifier", "invalid response"),
    ("bad key name", "invalid response"), ("unknown identifier", "invalid response"),
    ("a string", "invalid response"), ("not a list", "invalid response"),
])
def test_partial_batch_responses_are_judged_as_lambda_judges_them(lab, sqs, queue, deploy,
                                                                  mapping, response, outcome):
    q = queue(visibility=30)
    name = deploy(RESPONDER, timeout=1, environment={"RESPONSE": response})
    ids = send(sqs, q.url, ["a", "b"])
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name,
                    FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    assert wait_for(lambda: batches(lab, uuid_), timeout=5)
    end = batches(lab, uuid_)[0]
    assert end["outcome"] == outcome
    if outcome == "success":
        assert (sorted(end["deleted"]), end["retried"]) == (sorted(ids), [])
        assert wait_empty(sqs, q.url, timeout=2)
    else:  # the whole batch counts as failed
        assert (end["deleted"], sorted(end["retried"])) == ([], sorted(ids))
        assert counts(sqs, q.url) == (0, 2)


def test_without_the_response_type_a_report_is_ignored(lab, sqs, queue, deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1, environment={"MODE": "report"})
    ids = send(sqs, q.url, ["good", "bad"])
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    assert wait_empty(sqs, q.url)  # Lambda did not read the report: everything deleted
    assert sorted(batches(lab, uuid_)[0]["deleted"]) == sorted(ids)


def test_a_timeout_fails_the_batch(lab, sqs, queue, deploy, mapping):
    q = queue(visibility=2)
    name = deploy(RECORDER, timeout=1, environment={"SLEEP": "3"})
    ids = send(sqs, q.url, ["slow"])
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    assert wait_for(lambda: batches(lab, uuid_), timeout=5)
    end = batches(lab, uuid_)[0]
    assert (end["outcome"], end["error_type"], end["retried"]) == (
        "error", "Sandbox.Timedout", ids)


# -- filters ------------------------------------------------------------------------------


def test_filtered_out_messages_are_deleted_without_an_invoke(lab, sqs, queue, deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    patterns = [{"body": {"type": ["order"], "total": [{"numeric": [">", 100]}]}},
                {"body": [{"prefix": "URGENT"}]}]
    bodies = [json.dumps({"type": "order", "total": 150}),  # first pattern
              json.dumps({"type": "order", "total": 50}),  # too small
              json.dumps({"type": "refund", "total": 500}),  # not an order
              "URGENT: call the customer",  # second pattern (plain text)
              "routine note"]
    ids = send(sqs, q.url, bodies)
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name, FilterCriteria={
        "Filters": [{"Pattern": json.dumps(p)} for p in patterns]})["UUID"]
    assert wait_empty(sqs, q.url)
    delivered = sorted(r["body"] for e in function_events(name) for r in e["Records"])
    assert delivered == sorted([bodies[0], bodies[3]])
    filtered = [i for e in batches(lab, uuid_, "batch.filtered") for i in e["message_ids"]]
    assert sorted(filtered) == sorted([ids[1], ids[2], ids[4]])


def test_only_filtered_messages_means_no_invoke(lab, sqs, queue, deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    send(sqs, q.url, ["ignore me"] * 3)
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name, FilterCriteria={
        "Filters": [{"Pattern": json.dumps({"body": ["wanted"]})}]})["UUID"]
    assert wait_empty(sqs, q.url)
    deadline = time.monotonic() + 5  # give the poller a moment to record the batch
    while not batches(lab, uuid_, "batch.filtered") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert batches(lab, uuid_, "batch.filtered")
    assert not batches(lab, uuid_, "batch.start")


# -- FIFO -----------------------------------------------------------------------------------

# Fails the first delivery of "A2"; like a good FIFO handler it then reports the failed
# message and every later message of the batch, so that order is kept.
FIFO_HANDLER = """
import json

def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        if failures or (record["body"] == "A2" and
                        record["attributes"]["ApproximateReceiveCount"] == "1"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        print("PROCESSED " + record["body"])
    return {"batchItemFailures": failures}
"""


def test_fifo_keeps_order_per_group_even_after_a_failure(sqs, queue, deploy, mapping):
    q = queue(fifo=True, visibility=3)
    name = deploy(FIFO_HANDLER, timeout=1)
    for i in range(4):
        for group in "AB":
            sqs.send_message(QueueUrl=q.url, MessageBody=f"{group}{i}", MessageGroupId=group)
    mapping(EventSourceArn=q.arn, FunctionName=name, BatchSize=3,
            FunctionResponseTypes=["ReportBatchItemFailures"])
    assert wait_empty(sqs, q.url, timeout=10)
    logs = boto3.client("logs")
    lines = [e for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{name}") for e in page["events"]
        if e["message"].startswith("PROCESSED ")]
    processed = [line["message"].split()[1] for line in sorted(
        lines, key=lambda e: (e["timestamp"], e["eventId"]))]
    for group in "AB":
        assert [p for p in processed if p[0] == group] == [f"{group}{i}" for i in range(4)]


def test_fifo_batches_over_6_mb_keep_the_groups_order(lab, sqs, queue, deploy, mapping):
    q = queue(fifo=True, visibility=10)
    name = deploy("def lambda_handler(event, context):\n"
                  "    print('ORDER ' + ' '.join(r['body'][:2] for r in event['Records']))\n",
                  timeout=5)
    for i in range(10):  # 9 MB in one message group
        sqs.send_message(QueueUrl=q.url, MessageBody=f"{i:02d}" + "x" * 900_000,
                         MessageGroupId="g")
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    assert wait_empty(sqs, q.url, timeout=20)
    starts = batches(lab, uuid_, "batch.start")
    assert len(starts) >= 2 and all(e["bytes"] <= 6 * 1024 * 1024 for e in starts)
    assert batches(lab, uuid_, "batch.released")  # what did not fit went back to SQS
    lines = [line for page in boto3.client("logs").get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{name}") for line in page["events"]
        if line["message"].startswith("ORDER ")]
    processed = [n for line in sorted(lines, key=lambda e: (e["timestamp"], e["eventId"]))
                 for n in line["message"].split()[1:]]
    assert processed == [f"{i:02d}" for i in range(10)]


# -- scaling and throttling -----------------------------------------------------------------


def max_overlap(lab, uuid_) -> int:
    """The most batches of a mapping that were being processed at the same moment."""
    changes = sorted([(e.seq, 1) for e in batches(lab, uuid_, "batch.start")]
                     + [(e.seq, -1) for e in batches(lab, uuid_, "batch.end")])
    running = peak = 0
    for _, change in changes:
        running += change
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize("maximum, reserved, expected", [
    (None, None, range(3, 21)), (2, None, [2]), (None, 1, [1]),
])
def test_concurrency_is_capped_by_maximum_concurrency_and_reserved_concurrency(
        lab, lambda_client, sqs, queue, deploy, mapping, maximum, reserved, expected):
    q = queue(visibility=5)
    name = deploy(RECORDER, timeout=1, environment={"SLEEP": "0.4"})
    if reserved:
        lambda_client.put_function_concurrency(FunctionName=name,
                                               ReservedConcurrentExecutions=reserved)
    send(sqs, q.url, [f"order {i}" for i in range(20)])
    extra = {"ScalingConfig": {"MaximumConcurrency": maximum}} if maximum else {}
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name, BatchSize=2, **extra)["UUID"]
    assert wait_empty(sqs, q.url, timeout=20)
    assert max_overlap(lab, uuid_) in expected
    assert {e["outcome"] for e in batches(lab, uuid_)} == {"success"}
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert not lab.trace.events("throttle", function=arn)


def test_throttled_batches_back_off_then_return_to_the_queue(lab, lambda_client, sqs, queue,
                                                             deploy, mapping):
    q = queue(visibility=2)
    name = deploy(RECORDER, timeout=1)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    ids = send(sqs, q.url, ["waiting"])
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    assert wait_for(lambda: batches(lab, uuid_), timeout=6)
    assert batches(lab, uuid_, "batch.throttled")
    end = batches(lab, uuid_)[0]
    assert (end["outcome"], end["retried"], end["deleted"]) == ("throttled", ids, [])
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert wait_empty(sqs, q.url, timeout=6)  # visible again, then processed
    assert batches(lab, uuid_)[-1]["outcome"] == "success"


# -- qualifiers, stopping -------------------------------------------------------------------


def test_an_alias_mapping_invokes_the_alias(lab, lambda_client, sqs, queue, deploy, mapping):
    q = queue()
    name = deploy("def lambda_handler(e, c):\n    print('EVENT {\"Records\": [], \"v\": 1}')\n",
                  timeout=1, publish=True)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lab.deploy(name, "def lambda_handler(e, c):\n    raise ValueError('not this one')\n",
               timeout=1)
    response = mapping(EventSourceArn=q.arn, FunctionName=f"{name}:live")
    assert response["FunctionArn"].endswith(f":function:{name}:live")
    send(sqs, q.url, ["x"])
    assert wait_empty(sqs, q.url)
    assert batches(lab, response["UUID"])[0]["outcome"] == "success"


def test_lab_stop_stops_every_poller(lab, queue, deploy, mapping):
    q = queue()
    name = deploy(RECORDER, timeout=1)
    uuid_ = mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"]
    poller_threads = lambda: [t for t in threading.enumerate()  # noqa: E731
                              if t.name == f"lab-esm-{uuid_[:8]}"]
    assert wait_for(poller_threads)
    started = time.monotonic()
    lab.stop()
    assert time.monotonic() - started < 5
    assert wait_for(lambda: not poller_threads(), timeout=3)
    helpers.start_lab()  # the next tests get a running lab


# -- the property: every message is processed or dead-lettered, none is lost ---------------

# Fails a message as its body says: "poison" always, "transient" on its first receive.
PATTERNED = """
import json, os

def lambda_handler(event, context):
    print("EVENT " + json.dumps(event))
    failed = [r["messageId"] for r in event["Records"]
              if json.loads(r["body"])["pattern"] == "poison"
              or (json.loads(r["body"])["pattern"] == "transient"
                  and r["attributes"]["ApproximateReceiveCount"] == "1")]
    if os.environ["MODE"] == "report":
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
    if failed:
        raise RuntimeError(f"{len(failed)} message(s) failed")
"""
MAX_RECEIVE = 2


@st.composite
def workloads(draw):
    patterns = draw(st.lists(st.sampled_from(("ok", "ok", "transient", "poison")),
                             min_size=2, max_size=10))
    batch_size = draw(st.integers(1, 12))
    window = 1 if batch_size > 10 else draw(st.sampled_from((0, 0, 1)))
    return patterns, batch_size, window, draw(st.booleans())


@pytest.fixture
def patterned(lab, deploy):
    names = {mode: deploy(PATTERNED, timeout=1, environment={"MODE": mode})
             for mode in ("report", "raise")}
    for name in names.values():  # warm: a cold start should not eat the visibility timeout
        boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"Records": []}))
    return names


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(workload=workloads())
def test_every_message_is_processed_or_dead_lettered_and_none_is_lost(
        lab, lambda_client, sqs, queue, patterned, workload):
    patterns, batch_size, window, report = workload
    q = queue(visibility=VISIBILITY_S, max_receive=MAX_RECEIVE)
    name = patterned["report" if report else "raise"]
    bodies = [json.dumps({"i": i, "pattern": p}) for i, p in enumerate(patterns)]
    ids = send(sqs, q.url, bodies)
    pattern_of = dict(zip(ids, patterns, strict=True))
    options = {"FunctionResponseTypes": ["ReportBatchItemFailures"]} if report else {}
    uuid_ = lambda_client.create_event_source_mapping(
        EventSourceArn=q.arn, FunctionName=name, BatchSize=batch_size,
        MaximumBatchingWindowInSeconds=window, **options)["UUID"]
    try:
        dead = {}

        def settled():
            for message in sqs.receive_message(QueueUrl=q.dlq.url, MaxNumberOfMessages=10,
                                               VisibilityTimeout=60).get("Messages", []):
                dead[message["MessageId"]] = message
            deleted = {i for e in batches(lab, uuid_) for i in e["deleted"]}
            return counts(sqs, q.url) == (0, 0) and deleted | set(dead) >= set(ids)

        assert wait_for(settled, timeout=30, interval=0.2)
    finally:
        lambda_client.delete_event_source_mapping(UUID=uuid_)
    hypothesis.event(f"report={report}, poison={'poison' in patterns}")

    starts = {e["batch"]: e for e in batches(lab, uuid_, "batch.start")}
    ends = {e["batch"]: e for e in batches(lab, uuid_)}
    assert set(starts) == set(ends)  # every batch that started ended
    deliveries = {i: [] for i in ids}  # message id -> [(received at, receive count, end)]
    for batch, start in starts.items():
        assert len(start["message_ids"]) <= batch_size
        end = ends[batch]
        assert sorted(end["deleted"] + end["retried"]) == sorted(start["message_ids"])
        failing = [i for i, count in zip(start["message_ids"], start["receive_counts"],
                                         strict=True)
                   if pattern_of[i] == "poison" or (pattern_of[i] == "transient" and count == 1)]
        if report:  # exactly the reported messages stay
            assert sorted(end["retried"]) == sorted(failing), end.fields
        else:  # one failure fails the whole batch
            assert end["outcome"] == ("error" if failing else "success"), end.fields
        for i, at, count in zip(start["message_ids"], start["received_at"],
                                start["receive_counts"], strict=True):
            deliveries[i].append((at, count, end))

    for i in ids:
        history = sorted(deliveries[i], key=lambda d: d[0])
        assert history, f"message {pattern_of[i]} was never delivered"
        deleted = [d for d in history if i in d[2]["deleted"]]
        assert (i in dead) != bool(deleted), "each message is deleted or dead-lettered"
        if pattern_of[i] == "poison":
            assert i in dead and len(history) >= MAX_RECEIVE
        elif report:
            assert deleted, f"a {pattern_of[i]} message was dead-lettered"
        for before, after in zip(history, history[1:], strict=False):
            # a second delivery only after a failure, or after the visibility timeout
            assert i in before[2]["retried"] or after[0] - before[0] >= VISIBILITY_S - 0.3
        assert [d[1] for d in history] == sorted(d[1] for d in history)
    for event in function_events(name):
        if event["Records"]:
            SqsModel.model_validate(event)
