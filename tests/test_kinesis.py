"""Kinesis Data Streams and their event source mappings through plain boto3 (spec §6, event
shapes §10): shards and MD5 hash ranges, iterators by StreamARN or StreamName, LATEST,
TRIM_HORIZON and AT_TIMESTAMP, ParallelizationFactor keeping each partition key in order,
retries and the on-failure record, partial batch responses, tumbling windows, and every
event checked against Powertools' KinesisDataStreamModel."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time

import boto3
import pytest
from async_support import wait_for
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamModel
from botocore.exceptions import ClientError
from stream_support import (
    RECORDER,
    ended,
    function_events,
    make_queue,
    receive,
    unique,
    wait_ended,
    wait_state,
)


@pytest.fixture
def kinesis(lab):
    return boto3.client("kinesis")


@pytest.fixture
def stream(kinesis):
    """stream(shards=1) -> the stream's ARN (on demand when shards is None)."""

    def make(shards=1):
        name = unique("clicks")
        if shards is None:
            kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        else:
            kinesis.create_stream(StreamName=name, ShardCount=shards)
        return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"]

    return make


@pytest.fixture
def mapping(lab, lambda_client):
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


def put(kinesis, arn, key, text):
    return kinesis.put_record(StreamARN=arn, PartitionKey=key, Data=text.encode())


# -- the stream itself ----------------------------------------------------------------------


def test_partition_keys_go_to_the_shard_whose_hash_range_holds_their_md5(kinesis, stream):
    arn = stream(4)
    shards = kinesis.list_shards(StreamARN=arn)["Shards"]
    assert len(shards) == 4
    ranges = {s["ShardId"]: (int(s["HashKeyRange"]["StartingHashKey"]),
                             int(s["HashKeyRange"]["EndingHashKey"])) for s in shards}
    answers = kinesis.put_records(StreamARN=arn, Records=[
        {"PartitionKey": f"user-{i}", "Data": b"x"} for i in range(20)])["Records"]
    assert len({a["ShardId"] for a in answers}) > 1
    for i, answer in enumerate(answers):
        digest = int(hashlib.md5(f"user-{i}".encode()).hexdigest(), 16)
        low, high = ranges[answer["ShardId"]]
        assert low <= digest <= high


def test_an_on_demand_stream_starts_with_four_shards(kinesis, stream):
    arn = stream(None)
    assert len(kinesis.list_shards(StreamARN=arn)["Shards"]) == 4


@pytest.mark.parametrize("by", ["StreamARN", "StreamName"])
def test_iterators_work_named_by_arn_or_by_name(kinesis, stream, by):
    arn = stream(1)
    named = {by: arn if by == "StreamARN" else arn.rsplit("/", 1)[-1]}
    first = [put(kinesis, arn, "k", f"r{i}")["SequenceNumber"] for i in range(3)]
    iterator = kinesis.get_shard_iterator(ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON",
                                          **named)["ShardIterator"]
    page = kinesis.get_records(ShardIterator=iterator)  # no StreamARN needed here
    assert [r["SequenceNumber"] for r in page["Records"]] == first
    assert [int(s) for s in first] == sorted(int(s) for s in first) and len(first[0]) > 20
    put(kinesis, arn, "k", "later")
    following = kinesis.get_records(ShardIterator=page["NextShardIterator"])["Records"]
    assert [r["Data"] for r in following] == [b"later"]


# -- mappings -------------------------------------------------------------------------------


@pytest.mark.parametrize("position", ["LATEST", "TRIM_HORIZON", "AT_TIMESTAMP"])
def test_the_starting_position_decides_what_is_delivered(lab, kinesis, stream, deploy, mapping,
                                                         position):
    arn = stream(1)
    put(kinesis, arn, "k", "old")
    time.sleep(0.05)
    options = {"StartingPositionTimestamp": time.time()} if position == "AT_TIMESTAMP" else {}
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition=position,
                    **options)["UUID"]
    put(kinesis, arn, "k", "new")
    wait_ended(lab, uuid_, 2 if position == "TRIM_HORIZON" else 1)
    time.sleep(0.3)
    texts = [base64.b64decode(r["kinesis"]["data"]).decode()
             for e in function_events(function) for r in e["Records"]]
    assert texts == (["old", "new"] if position == "TRIM_HORIZON" else ["new"])


def test_every_event_passes_the_model(lab, kinesis, stream, deploy, mapping):
    arn = stream(2)
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    BatchSize=10, MaximumBatchingWindowInSeconds=1)["UUID"]
    answers = [put(kinesis, arn, f"key-{i}", f"record {i}") for i in range(6)]
    assert not lab.trace.events("invoke", source="moto")  # PutRecord invoked nothing itself
    wait_ended(lab, uuid_, 6)
    events = function_events(function)
    for event in events:
        parsed = KinesisDataStreamModel.model_validate(event)
        assert len({r.eventID.split(":")[0] for r in parsed.Records}) == 1  # one shard a batch
    records = {r["kinesis"]["sequenceNumber"]: r for e in events for r in e["Records"]}
    for i, answer in enumerate(answers):
        record = records[answer["SequenceNumber"]]
        assert record["eventID"] == f"{answer['ShardId']}:{answer['SequenceNumber']}"
        assert base64.b64decode(record["kinesis"]["data"]) == f"record {i}".encode()
        assert record["kinesis"]["partitionKey"] == f"key-{i}"
        assert abs(record["kinesis"]["approximateArrivalTimestamp"] - time.time()) < 60
        assert record["eventSourceARN"] == arn
        assert record["invokeIdentityArn"].startswith("arn:aws:iam::")


def test_parallelization_runs_batches_of_a_shard_at_once_and_keeps_each_key_in_order(
        lab, kinesis, stream, deploy, mapping):
    arn = stream(1)
    function = deploy("import time\ndef lambda_handler(event, context):\n    time.sleep(0.3)\n",
                      timeout=5)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    BatchSize=5, ParallelizationFactor=4)["UUID"]
    written = {}
    for i in range(60):
        key = f"key-{i % 8}"
        written.setdefault(key, []).append(put(kinesis, arn, key, str(i))["SequenceNumber"])
    wait_ended(lab, uuid_, 60, timeout=30)
    starts = lab.trace.events("batch.start", mapping=uuid_)
    assert len({e["slot"] for e in starts}) > 1
    ends = {e["batch"]: e for e in lab.trace.events("batch.end", mapping=uuid_)}
    overlapping = any(a.time < ends[b["batch"]].time and b.time < ends[a["batch"]].time
                      for a in starts for b in starts if a["batch"] != b["batch"])
    assert overlapping, "no two batches of the shard ran at once"
    for key, numbers in written.items():
        seen = [s for e in starts for s, k in zip(e["sequence_numbers"], e["keys"],
                                                  strict=True) if k == key]
        assert seen == numbers, key


def test_retries_run_out_then_the_destination_gets_the_kinesis_batch_info(
        lab, kinesis, stream, deploy, mapping):
    arn = stream(1)
    url, queue_arn = make_queue()
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    BatchSize=10, MaximumBatchingWindowInSeconds=1, MaximumRetryAttempts=2,
                    DestinationConfig={"OnFailure": {"Destination": queue_arn}})["UUID"]
    answers = kinesis.put_records(StreamARN=arn, Records=[  # one request: one read
        {"PartitionKey": "k", "Data": text.encode()} for text in ("ok", "bad", "ok")])["Records"]
    ends = wait_ended(lab, uuid_, 3)
    assert set(ends.values()) == {"RetryAttemptsExhausted"}  # no bisect: the whole batch
    [record] = receive(url, 1)
    info = record["KinesisBatchInfo"]
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(f":function:{function}")
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (
        answers[0]["SequenceNumber"], answers[-1]["SequenceNumber"])
    assert (info["shardId"], info["batchSize"], info["streamArn"]) == (
        "shardId-000000000000", 3, arn)
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")


def test_a_partial_batch_response_retries_from_the_lowest_reported_record(
        lab, kinesis, stream, deploy, mapping):
    arn = stream(1)
    function = deploy(RECORDER, environment={"MODE": "report"})
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    BatchSize=10, MaximumBatchingWindowInSeconds=1, MaximumRetryAttempts=0,
                    FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    numbers = [put(kinesis, arn, "k", t)["SequenceNumber"] for t in ("ok", "ok", "bad", "ok")]
    ends = wait_ended(lab, uuid_, 4)
    assert [ends[n] for n in numbers] == ["processed", "processed", "RetryAttemptsExhausted",
                                          "RetryAttemptsExhausted"]


def test_tumbling_windows_pass_state_and_end_with_a_final_invoke(
        lab, kinesis, stream, deploy, mapping):
    arn = stream(1)
    function = deploy(RECORDER, environment={"MODE": "window"})
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    BatchSize=2, TumblingWindowInSeconds=2)["UUID"]
    for i in range(5):
        put(kinesis, arn, "k", f"r{i}")
    assert wait_for(lambda: any(e["final"] for e in lab.trace.events(
        "batch.start", mapping=uuid_)), timeout=15)
    events = function_events(function)
    for event in events:
        KinesisDataStreamModel.model_validate(event)
        assert set(event) >= {"window", "state", "shardId", "eventSourceARN",
                              "isFinalInvokeForWindow", "isWindowTerminatedEarly"}
    finals = [e for e in events if e["isFinalInvokeForWindow"]]
    assert finals and finals[0]["Records"] == []
    first_window = [e for e in events if e["window"] == finals[0]["window"]]
    counted = sum(len(e["Records"]) for e in first_window)
    assert finals[0]["state"] == {"count": counted}


def test_a_tumbling_window_answer_without_state_fails_the_batch(
        lab, kinesis, stream, deploy, mapping):
    arn = stream(1)
    function = deploy(RECORDER, environment={"MODE": "report"})
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    TumblingWindowInSeconds=5, MaximumRetryAttempts=0)["UUID"]
    put(kinesis, arn, "k", "ok")
    assert wait_ended(lab, uuid_, 1) and list(ended(lab, uuid_).values()) == [
        "RetryAttemptsExhausted"]
    assert lab.trace.events("batch.end", mapping=uuid_)[0]["outcome"] == "invalid response"


def test_a_mapping_of_a_missing_stream_is_refused(lambda_client, deploy, kinesis):
    function = deploy(RECORDER)
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/no-such-stream"
    with pytest.raises(ClientError) as raised:
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function,
                                                  StartingPosition="LATEST")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_deleting_the_mapping_stops_its_readers(lab, lambda_client, kinesis, stream, deploy,
                                                 mapping):
    arn = stream(2)
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST")["UUID"]
    assert wait_state(lambda_client, uuid_, "Enabled")
    poller = lab.event_source_mappings.poller(uuid_)
    lambda_client.delete_event_source_mapping(UUID=uuid_)
    assert wait_for(lambda: poller.join(0.1), timeout=10)
    with pytest.raises(ClientError):
        wait_for(lambda: lambda_client.get_event_source_mapping(UUID=uuid_) and False,
                 timeout=5)
    assert json.dumps(lab.trace.events("mapping.state", mapping=uuid_)[-1].fields)


def test_stopping_the_lab_leaves_no_reader_or_slot_behind(lab, kinesis, stream, deploy):
    arn = stream(2)
    function = deploy(RECORDER)  # fails "bad" records: retried without end (-1)
    lambda_client = boto3.client("lambda")
    uuid_ = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
        ParallelizationFactor=3)["UUID"]
    assert wait_state(lambda_client, uuid_, "Enabled")
    put(kinesis, arn, "k", "bad")
    assert wait_for(lambda: lab.trace.events("batch.end", mapping=uuid_), timeout=10)
    lab.stop()
    assert wait_for(lambda: not [t for t in threading.enumerate()
                                 if t.name.startswith(("lab-shard", "lab-slot", "lab-esm"))],
                    timeout=5)


def test_an_sns_topic_as_on_failure_destination_gets_the_record(lab, kinesis, stream, deploy,
                                                                 mapping):
    from async_support import drain, make_topic_to_queue

    arn = stream(1)
    topic, url = make_topic_to_queue("stream-failures")
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    MaximumRetryAttempts=0,
                    DestinationConfig={"OnFailure": {"Destination": topic}})["UUID"]
    answer = put(kinesis, arn, "k", "bad")
    assert wait_ended(lab, uuid_, 1) == {answer["SequenceNumber"]: "RetryAttemptsExhausted"}
    [message] = drain(url, expect=1, timeout=10)
    record = json.loads(json.loads(message["Body"])["Message"])
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == answer["SequenceNumber"]
