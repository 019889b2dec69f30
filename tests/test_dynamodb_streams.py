"""DynamoDB Streams and their event source mappings through plain boto3 (spec §6, event
shapes §3): streams of every view type, disabling and enabling them, the mapping API and
its validation, order per shard, a poison record, bisect, the on-failure destination,
partial batch responses, filters, record age, and every event checked against
Powertools' DynamoDBStreamModel."""

from __future__ import annotations

import json
import time
import types

import boto3
import pytest
from async_support import wait_for
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel
from botocore.config import Config
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

VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")


@pytest.fixture
def ddb(lab):
    return boto3.client("dynamodb")


@pytest.fixture
def streams(lab):
    return boto3.client("dynamodbstreams")


@pytest.fixture
def table(ddb):
    """table(view_type="NEW_AND_OLD_IMAGES") -> (name, stream ARN)."""

    def make(view_type="NEW_AND_OLD_IMAGES"):
        name = unique("orders")
        described = ddb.create_table(
            TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type})
        return name, described["TableDescription"]["LatestStreamArn"]

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


def put(ddb, table_name, key, value):
    ddb.put_item(TableName=table_name, Item={"pk": {"S": key}, "v": {"S": value}})


def records(streams, arn):
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return streams.get_records(ShardIterator=iterator)["Records"]


# -- the stream itself ----------------------------------------------------------------------


@pytest.mark.parametrize("view_type", VIEW_TYPES)
def test_each_view_type_keeps_what_it_names(ddb, streams, table, view_type):
    name, arn = table(view_type)
    put(ddb, name, "a", "1")
    put(ddb, name, "a", "2")
    ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}})
    found = records(streams, arn)
    assert [r["eventName"] for r in found] == ["INSERT", "MODIFY", "REMOVE"]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in found]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    for record in found:
        change = record["dynamodb"]
        assert change["Keys"] == {"pk": {"S": "a"}} and change["StreamViewType"] == view_type
    new = [("NewImage" in r["dynamodb"]) for r in found]
    old = [("OldImage" in r["dynamodb"]) for r in found]
    assert new == ([True, True, False] if "NEW" in view_type else [False] * 3)
    assert old == ([False, True, True] if "OLD" in view_type else [False] * 3)


def test_a_disabled_stream_is_readable_and_takes_nothing_new_and_enabling_makes_another(
        ddb, streams, table):
    name, arn = table("KEYS_ONLY")
    put(ddb, name, "a", "1")
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    put(ddb, name, "b", "1")  # not in any stream
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "DISABLED"
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records(streams, arn)] == ["a"]
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True,
                                                          "StreamViewType": "NEW_IMAGE"})
    second = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    assert second != arn
    assert streams.describe_stream(StreamArn=second)["StreamDescription"]["StreamStatus"] == \
        "ENABLED"
    with pytest.raises(ClientError) as raised:
        ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True,
                                                              "StreamViewType": "NEW_IMAGE"})
    assert raised.value.response["Error"]["Code"] == "ResourceInUseException"


def test_sequence_numbers_keep_increasing_while_a_mapping_reads_the_stream(
        lab, ddb, streams, table, deploy, mapping):
    name, arn = table()
    function = deploy(RECORDER, environment={"MODE": "raise"})
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST")["UUID"]
    numbers = []
    for round_ in range(3):
        for i in range(3):
            put(ddb, name, f"k{round_}{i}", "ok")
        wait_ended(lab, uuid_, 3 * (round_ + 1))
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records(streams, arn)]
    assert len(numbers) == 9 and numbers == sorted(set(numbers))


def test_writes_never_wait_for_the_function(lab, ddb, table, deploy, mapping):
    name, arn = table()
    function = deploy("import time\ndef lambda_handler(event, context):\n    time.sleep(2)\n",
                      timeout=5)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST")["UUID"]
    put(ddb, name, "a", "1")
    put(ddb, name, "b", "1")
    assert not lab.trace.events("batch.end", mapping=uuid_)  # the writer did not wait
    assert not lab.trace.events("invoke", source="moto")
    assert wait_ended(lab, uuid_, 2, timeout=15) == {
        s: "processed" for s in ended(lab, uuid_)}


# -- the mapping API ------------------------------------------------------------------------


def test_create_answers_202_creating_then_enabled_with_the_stream_settings(
        lab, lambda_client, table, deploy, mapping):
    _, arn = table()
    function = deploy(RECORDER)
    response = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert response["State"] == "Creating"
    assert wait_state(lambda_client, response["UUID"], "Enabled")
    config = lambda_client.get_event_source_mapping(UUID=response["UUID"])
    assert {key: config[key] for key in (
        "StartingPosition", "BatchSize", "MaximumBatchingWindowInSeconds",
        "ParallelizationFactor", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds", "DestinationConfig",
        "FunctionResponseTypes")} == {
        "StartingPosition": "TRIM_HORIZON", "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 0, "ParallelizationFactor": 1,
        "BisectBatchOnFunctionError": False, "MaximumRetryAttempts": -1,
        "MaximumRecordAgeInSeconds": -1, "TumblingWindowInSeconds": 0,
        "DestinationConfig": {"OnFailure": {}}, "FunctionResponseTypes": []}
    updated = lambda_client.update_event_source_mapping(
        UUID=response["UUID"], BatchSize=5, MaximumRetryAttempts=3, ParallelizationFactor=2,
        BisectBatchOnFunctionError=True)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (updated["BatchSize"], updated["MaximumRetryAttempts"],
            updated["ParallelizationFactor"], updated["BisectBatchOnFunctionError"]) == (
        5, 3, 2, True)


@pytest.mark.parametrize("settings, code, message", [
    ({}, "InvalidParameterValueException",
     "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
     "constraint: Member must not be null."),
    ({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1},
     "InvalidParameterValueException", "Unsupported starting position for arn type: "),
    ({"StartingPosition": "LATEST", "ParallelizationFactor": 11}, "ValidationException",
     "1 validation error detected: Value '11' at 'parallelizationFactor' failed to satisfy "
     "constraint: Member must have value less than or equal to 10"),
    ({"StartingPosition": "LATEST", "MaximumRetryAttempts": -2}, "ValidationException",
     "Value '-2' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have "
     "value greater than or equal to -1"),
    ({"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30},
     "InvalidParameterValueException", "MaximumRecordAgeInSeconds must be -1 or at least 60"),
    ({"StartingPosition": "LATEST", "TumblingWindowInSeconds": 901}, "ValidationException",
     "Value '901' at 'tumblingWindowInSeconds' failed to satisfy constraint"),
    ({"StartingPosition": "LATEST", "BatchSize": 10_001}, "ValidationException",
     "Value '10001' at 'batchSize' failed to satisfy constraint"),
    ({"StartingPosition": "LATEST",
      "DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:1:q"}}},
     "InvalidParameterValueException",
     "Unsupported DestinationConfig parameter for given event source mapping type."),
])
def test_create_refuses_what_aws_refuses(lab, table, deploy, settings, code, message):
    _, arn = table()
    function = deploy(RECORDER)
    unchecked = boto3.client("lambda", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as raised:
        unchecked.create_event_source_mapping(EventSourceArn=arn, FunctionName=function,
                                                  **settings)
    error = raised.value.response["Error"]
    assert error["Code"] == code
    assert message in error["Message"]


def test_a_second_mapping_of_the_same_stream_and_function_conflicts(
        lambda_client, table, deploy, mapping):
    _, arn = table()
    function = deploy(RECORDER)
    first = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST")
    with pytest.raises(ClientError) as raised:
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function,
                                                  StartingPosition="LATEST")
    error = raised.value.response["Error"]
    assert error["Code"] == "ResourceConflictException"
    assert error["Message"] == (
        f'The event source arn (" {arn} ") and function (" {function} ") provided mapping '
        f"already exists. Please update or delete the existing mapping with UUID "
        f"{first['UUID']}")


def test_disabled_then_enabled_resumes_after_the_last_record_processed(
        lab, lambda_client, ddb, table, deploy, mapping):
    name, arn = table()
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST")["UUID"]
    put(ddb, name, "before", "ok")
    wait_ended(lab, uuid_, 1)
    lambda_client.update_event_source_mapping(UUID=uuid_, Enabled=False)
    assert wait_state(lambda_client, uuid_, "Disabled")
    put(ddb, name, "while-disabled", "ok")
    lambda_client.update_event_source_mapping(UUID=uuid_, Enabled=True)
    assert wait_state(lambda_client, uuid_, "Enabled")
    wait_ended(lab, uuid_, 2)
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for e in function_events(function)
            for r in e["Records"]]
    assert keys == ["before", "while-disabled"]  # each once, in order


# -- batches --------------------------------------------------------------------------------


def test_every_event_passes_the_model_and_carries_the_stream(lab, ddb, table, deploy, mapping):
    name, arn = table()
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    BatchSize=10)["UUID"]
    put(ddb, name, "a", "1")
    put(ddb, name, "a", "2")
    ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}})
    wait_ended(lab, uuid_, 3)
    events = function_events(function)
    records_ = [r for event in events for r in event["Records"]]
    for event in events:
        DynamoDBStreamModel.model_validate(event)
    assert [r["eventName"] for r in records_] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records_:
        assert record["eventSourceARN"] == arn and record["eventSource"] == "aws:dynamodb"
        assert abs(record["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 60
        assert record["dynamodb"]["SizeBytes"] > 0
    assert records_[1]["dynamodb"]["OldImage"]["v"] == {"S": "1"}
    assert records_[1]["dynamodb"]["NewImage"]["v"] == {"S": "2"}


def test_a_poison_record_blocks_its_shard_bisect_isolates_it_and_the_destination_learns(
        lab, ddb, table, deploy, mapping):
    name, arn = table()
    url, queue_arn = make_queue()
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    BatchSize=10, MaximumBatchingWindowInSeconds=1,
                    BisectBatchOnFunctionError=True, MaximumRetryAttempts=2,
                    DestinationConfig={"OnFailure": {"Destination": queue_arn}})["UUID"]
    for i in range(6):
        put(ddb, name, f"k{i}", "bad" if i == 3 else "ok")
    ends = wait_ended(lab, uuid_, 6)
    poison = sorted(ends)[3]
    assert ends == {s: ("RetryAttemptsExhausted" if s == poison else "processed") for s in ends}
    starts = lab.trace.events("batch.start", mapping=uuid_)
    sizes = [len(e["sequence_numbers"]) for e in starts]
    assert sizes[:2] == [6, 3] and sizes.count(1) == 3  # halved, then one record, 3 times
    # the records after the poison one waited for it: nothing after it ran first
    order = [s for e in lab.trace.events("batch.end", mapping=uuid_) for s in e["processed"]]
    assert order == sorted(order)
    [record] = receive(url, 1)
    stamp = record.pop("timestamp")
    info = record.pop("DDBStreamBatchInfo")
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["version"] == "1.0" and stamp.endswith("Z")
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison
    assert (info["batchSize"], info["streamArn"]) == (1, arn)
    assert info["shardId"].startswith("shardId-")


def test_a_partial_batch_response_resumes_from_the_reported_sequence_number(
        lab, ddb, table, deploy, mapping):
    name, arn = table()
    function = deploy(RECORDER, environment={"MODE": "report"})
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    BatchSize=10, MaximumBatchingWindowInSeconds=1, MaximumRetryAttempts=1,
                    FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    for i in range(5):
        put(ddb, name, f"k{i}", "bad" if i == 2 else "ok")
    ends = wait_ended(lab, uuid_, 5)
    numbers = sorted(ends)
    assert [ends[s] for s in numbers] == ["processed"] * 2 + ["RetryAttemptsExhausted"] * 3
    starts = [e["sequence_numbers"] for e in lab.trace.events("batch.start", mapping=uuid_)]
    assert starts == [numbers, numbers[2:], ]  # retried from the reported record on


def test_filters_pass_only_inserts_and_end_the_rest(lab, ddb, table, deploy, mapping):
    name, arn = table()
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    BatchSize=10, MaximumBatchingWindowInSeconds=1,
                    FilterCriteria={"Filters": [{"Pattern": json.dumps(
                        {"eventName": ["INSERT"]})}]})["UUID"]
    put(ddb, name, "a", "1")
    put(ddb, name, "a", "2")
    put(ddb, name, "b", "1")
    ends = wait_ended(lab, uuid_, 3)
    assert sorted(ends.values()) == ["filtered", "processed", "processed"]
    names = [r["eventName"] for e in function_events(function) for r in e["Records"]]
    assert names == ["INSERT", "INSERT"]


def test_records_older_than_the_maximum_age_are_discarded_to_the_destination(
        lab, ddb, table, deploy, mapping, monkeypatch):
    from helpers.pollers import stream_batches

    name, arn = table()
    url, queue_arn = make_queue()
    function = deploy(RECORDER)
    uuid_ = mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST",
                    MaximumRecordAgeInSeconds=60,
                    DestinationConfig={"OnFailure": {"Destination": queue_arn}})["UUID"]
    put(ddb, name, "poison", "bad")
    wait_for(lambda: lab.trace.events("batch.end", mapping=uuid_), timeout=10)

    real = time.time
    later = types.SimpleNamespace(time=lambda: real() + 61, monotonic=time.monotonic)
    monkeypatch.setattr(stream_batches, "time", later)  # the record now looks 61 s old
    ends = wait_ended(lab, uuid_, 1)
    assert list(ends.values()) == ["RecordAgeExceeded"]
    [record] = receive(url, 1)
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
