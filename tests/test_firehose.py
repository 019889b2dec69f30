"""Amazon Data Firehose through plain boto3: delivery streams, buffering, transformation by
a Lambda function, delivery to S3, the error prefix, a Kinesis data stream as source.

Every event the function got is checked with Powertools' ``KinesisFirehoseModel``, and
every record ends exactly once (delivered, dropped by the function, failed under the
error prefix, or lost with a reason).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import time
import uuid

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import KinesisFirehoseModel
from botocore.exceptions import ClientError

import helpers

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/firehose-role"

CLEANER = '''
import base64
import json


def lambda_handler(event, context):
    out = []
    for record in event["records"]:
        click = json.loads(base64.b64decode(record["data"]))
        if click.get("agent") == "bot":
            out.append({"recordId": record["recordId"], "result": "Dropped",
                        "data": record["data"]})
        elif "page" not in click:
            out.append({"recordId": record["recordId"], "result": "ProcessingFailed",
                        "data": record["data"]})
        else:
            click["clean"] = True
            data = base64.b64encode((json.dumps(click) + "\\n").encode()).decode()
            out.append({"recordId": record["recordId"], "result": "Ok", "data": data,
                        "metadata": {"partitionKeys": {"page": click["page"]}}})
    return {"records": out}
'''


@pytest.fixture
def names():
    suffix = uuid.uuid4().hex[:8]
    return {"bucket": f"fh-{suffix}", "stream": f"fh-{suffix}", "function": f"fh-{suffix}"}


@pytest.fixture
def bucket(lab, names):
    boto3.client("s3").create_bucket(Bucket=names["bucket"])
    return names["bucket"]


def function(lab, name, source=CLEANER, **options):
    return lab.deploy(name, source, timeout=options.pop("timeout", 10),
                      **options)["FunctionArn"]


def processing(lambda_arn, **parameters):
    parameters.setdefault("BufferIntervalInSeconds", 1)  # AWS's default is 60 s
    values = [{"ParameterName": "LambdaArn", "ParameterValue": lambda_arn}]
    values += [{"ParameterName": k, "ParameterValue": str(v)} for k, v in parameters.items()]
    return {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": values}]}


def create(name, bucket, *, processor=None, buffer=(1, 1), **destination):
    config = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}",
              "BufferingHints": {"SizeInMBs": buffer[0], "IntervalInSeconds": buffer[1]},
              **destination}
    if processor is not None:
        config["ProcessingConfiguration"] = processor
    return boto3.client("firehose").create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=config)["DeliveryStreamARN"]


def put(name, clicks) -> list[str]:
    answer = boto3.client("firehose").put_record_batch(
        DeliveryStreamName=name, Records=[{"Data": json.dumps(c).encode()} for c in clicks])
    assert answer["FailedPutCount"] == 0
    return [entry["RecordId"] for entry in answer["RequestResponses"]]


def wait_for(check, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)
    return result


def record_ends(lab, stream) -> dict[str, list[str]]:
    """How each record of ``stream`` ended, by record id (a list: each must be one)."""
    ends: dict[str, list[str]] = {}
    for event in lab.trace.events("firehose", stream=stream):
        if event.kind == "firehose.delivered":
            for record_id in event["record_ids"]:
                ends.setdefault(record_id, []).append(f"{event['output']}:{event['key']}")
        elif event.kind == "firehose.lost":
            for record_id in event["record_ids"]:
                ends.setdefault(record_id, []).append(f"lost:{event['reason']}")
        elif event.kind == "firehose.invocation":
            for record_id in event["results"].get("Dropped", []):
                ends.setdefault(record_id, []).append("dropped")
    return ends


def ended(lab, stream, record_ids, timeout=30) -> dict[str, str]:
    """Wait until every record ended; each ended once."""
    ends = wait_for(lambda: (e := record_ends(lab, stream)) and all(i in e for i in record_ids)
                    and e, f"{len(record_ids)} records to end", timeout)
    assert all(len(ends[i]) == 1 for i in record_ids), {i: ends[i] for i in record_ids}
    received = {i for e in lab.trace.events("firehose.received", stream=stream)
                for i in e["record_ids"]}
    assert set(record_ids) <= received
    return {i: ends[i][0] for i in record_ids}


def objects(bucket, prefix="") -> dict[str, bytes]:
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def invocations(lab, stream) -> list:
    found = lab.trace.events("firehose.invocation", stream=stream)
    for event in found:
        if "event" in event.fields:
            KinesisFirehoseModel.model_validate(event["event"])
    return found


def arrived(lab, stream, pattern: str) -> str:
    """When the stream's first record arrived, formatted (UTC) as its objects' names say."""
    return time.strftime(pattern, time.gmtime(
        lab.trace.events("firehose.received", stream=stream)[0].time))


def error_lines(bucket, prefix) -> list[dict]:
    return [json.loads(line) for body in objects(bucket, prefix).values()
            for line in body.decode().splitlines()]


def refused(call) -> dict:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]


# -- delivery streams --------------------------------------------------------------------


def test_describe_shows_the_stream_as_aws_shows_it(lab, names, bucket):
    arn = function(lab, names["function"])
    stream_arn = create(names["stream"], bucket, processor=processing(arn, NumberOfRetries=2))
    described = boto3.client("firehose").describe_delivery_stream(
        DeliveryStreamName=names["stream"])["DeliveryStreamDescription"]
    assert described["DeliveryStreamARN"] == stream_arn
    assert described["DeliveryStreamStatus"] == "ACTIVE"
    assert described["DeliveryStreamType"] == "DirectPut"
    assert described["DeliveryStreamEncryptionConfiguration"] == {"Status": "DISABLED"}
    destination = described["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["CompressionFormat"] == "UNCOMPRESSED"
    assert destination["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
    assert destination["S3BackupMode"] == "Disabled"
    assert destination["ProcessingConfiguration"]["Processors"][0]["Type"] == "Lambda"
    assert described["Destinations"][0]["S3DestinationDescription"]["BufferingHints"]


@pytest.mark.parametrize("change, says", [
    ({"processor": {"BufferSizeInMBs": 5}}, "BufferSizeInMBs must be between 0.2 and 3"),
    ({"processor": {"BufferSizeInMBs": 0.1}}, "BufferSizeInMBs must be between 0.2 and 3"),
    ({"processor": {"BufferIntervalInSeconds": 901}}, "between 0 and 900"),
    ({"Prefix": "clicks/!{timestamp:yyyy}/"}, "ErrorOutputPrefix can't be null"),
    ({"Prefix": "a/", "ErrorOutputPrefix": "e/!{timestamp:yyyy}/"}, "error-output-type"),
    ({"Prefix": "!{firehose:error-output-type}/", "ErrorOutputPrefix": "e/"}, "can't contain"),
    ({"Prefix": "p/!{partitionKeyFromLambda:page}/",
      "ErrorOutputPrefix": "e/!{firehose:error-output-type}/"}, "dynamic partitioning"),
    ({"DynamicPartitioningConfiguration": {"Enabled": True},
      "Prefix": "p/!{partitionKeyFromLambda:page}/"}, "ErrorOutputPrefix"),
    ({"Prefix": "p/!{timestamp:yyyy/MM}"}, "ErrorOutputPrefix can't be null"),
    ({"Prefix": "p/!{nope:x}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/"},
     "Unknown namespace"),
    ({"CompressionFormat": "ZIP"}, "UNCOMPRESSED and GZIP"),
])
def test_create_refuses_what_firehose_refuses(lab, names, bucket, change, says):
    arn = function(lab, names["function"])
    extra = change.pop("processor", {})
    error = refused(lambda: create(names["stream"], bucket, processor=processing(arn, **extra),
                                   **change))
    assert error["Code"] == "InvalidArgumentException"
    assert says in error["Message"]


def test_one_lambda_processor_and_s3_destinations_only(lab, names, bucket):
    arn = function(lab, names["function"])
    twice = processing(arn)
    twice["Processors"] *= 2
    assert "one Lambda processor" in refused(
        lambda: create(names["stream"], bucket, processor=twice))["Message"]
    error = refused(lambda: boto3.client("firehose").create_delivery_stream(
        DeliveryStreamName=names["stream"], HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {"Url": "https://example.com"},
            "S3Configuration": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"}}))
    assert error["Code"] == "InvalidArgumentException" and "S3" in error["Message"]


# -- the record API -----------------------------------------------------------------------


def test_put_answers_at_once_with_record_ids(lab, names, bucket):
    arn = function(lab, names["function"])
    create(names["stream"], bucket, processor=processing(arn, BufferIntervalInSeconds=3))
    firehose = boto3.client("firehose")
    started = time.monotonic()
    one = firehose.put_record(DeliveryStreamName=names["stream"],
                              Record={"Data": b'{"page": "home"}'})
    many = put(names["stream"], [{"page": "shoes"}, {"page": "cart"}])
    assert time.monotonic() - started < 2, "PutRecord waited for the buffer"
    assert one["Encrypted"] is False and len(one["RecordId"]) == 56
    assert len(set(many + [one["RecordId"]])) == 3
    assert not objects(bucket), "an object before the buffer interval"
    ends = ended(lab, names["stream"], [one["RecordId"], *many])
    assert all(end.startswith("data:") for end in ends.values())


def test_record_and_batch_limits_are_answered_as_aws_answers(lab, names, bucket):
    create(names["stream"], bucket)
    firehose = boto3.client("firehose")
    big = refused(lambda: firehose.put_record(DeliveryStreamName=names["stream"],
                                              Record={"Data": b"x" * 1_024_001}))
    assert big["Code"] == "ValidationException"
    assert "'record.data'" in big["Message"] and "less than or equal to 1024000" in big["Message"]
    one_big = refused(lambda: firehose.put_record_batch(
        DeliveryStreamName=names["stream"], Records=[{"Data": b"x"}, {"Data": b"x" * 1_024_001}]))
    assert "'records.2.member.data'" in one_big["Message"]
    many = refused(lambda: firehose.put_record_batch(
        DeliveryStreamName=names["stream"], Records=[{"Data": b"x"}] * 501))
    assert many["Code"] == "ValidationException" and "500" in many["Message"]
    heavy = refused(lambda: firehose.put_record_batch(
        DeliveryStreamName=names["stream"], Records=[{"Data": b"x" * 1_000_000}] * 5))
    assert (heavy["Code"], heavy["Message"]) == ("InvalidArgumentException",
                                                 "Records size exceeds 4 MB limit")
    unknown = refused(lambda: firehose.put_record(DeliveryStreamName="no-such-stream",
                                                  Record={"Data": b"x"}))
    assert unknown["Code"] == "ResourceNotFoundException"
    assert not lab.trace.events("firehose.received", stream=names["stream"])


# -- buffering and transformation ---------------------------------------------------------


def test_the_buffer_invokes_on_size_or_on_interval(lab, names, bucket):
    arn = function(lab, names["function"])
    create(names["stream"], bucket, processor=processing(
        arn, BufferSizeInMBs=0.2, BufferIntervalInSeconds=900))
    record = {"page": "home", "pad": "x" * 1000}
    ids = [i for _ in range(3) for i in put(names["stream"], [record] * 100)]  # ~300 KB
    first = wait_for(lambda: lab.trace.events("firehose.batch", stream=names["stream"]),
                     "a batch on size")[0]
    assert first["trigger"] == "size" and first["bytes"] >= 0.2 * 1024 * 1024
    assert set(first["record_ids"]) < set(ids)

    other = f"{names['stream']}-t"
    create(other, bucket, processor=processing(arn, BufferIntervalInSeconds=1))
    started = time.time()
    put(other, [{"page": "home"}])
    batch = wait_for(lambda: lab.trace.events("firehose.batch", stream=other), "a batch")[0]
    assert batch["trigger"] == "interval" and batch["bytes"] < 100
    assert 0.9 <= batch.time - started < 3


def test_ok_dropped_and_failed_records_and_the_event(lab, names, bucket):
    arn = function(lab, names["function"])
    stream_arn = create(names["stream"], bucket, processor=processing(arn))
    clicks = [{"page": "home"}, {"page": "cart", "agent": "bot"}, {"oops": 1}, {"page": "shoes"}]
    ids = put(names["stream"], clicks)
    ends = ended(lab, names["stream"], ids)
    assert ends[ids[1]] == "dropped"
    assert ends[ids[0]].startswith("data:") and ends[ids[3]] == ends[ids[0]]
    assert ends[ids[2]].startswith("error:processing-failed/")
    data = [body for key, body in objects(bucket).items()
            if not key.startswith("processing-failed/")]
    assert [json.loads(line) for line in data[0].decode().splitlines()] == [
        {"page": "home", "clean": True}, {"page": "shoes", "clean": True}]
    failed = error_lines(bucket, "processing-failed/")
    assert failed == [{
        "attemptsMade": 1, "arrivalTimestamp": failed[0]["arrivalTimestamp"],
        "errorCode": "Lambda.ProcessingFailedStatus",
        "errorMessage": "ProcessingFailed status set for record",
        "attemptEndingTimestamp": failed[0]["attemptEndingTimestamp"],
        "rawData": base64.b64encode(b'{"oops": 1}').decode(), "lambdaARN": arn}]
    [invocation] = invocations(lab, names["stream"])
    event = KinesisFirehoseModel.model_validate(invocation["event"])
    assert event.deliveryStreamArn == stream_arn and event.region == lab.region
    assert [r.recordId for r in event.records] == ids
    assert [json.loads(r.data) for r in event.records] == clicks
    assert invocation["results"] == {"Ok": [ids[0], ids[3]], "Dropped": [ids[1]],
                                     "ProcessingFailed": [ids[2]]}


@pytest.mark.parametrize("answer, code", [
    ('{"records": [{"recordId": r["recordId"] + "x", "result": "Ok", "data": r["data"]} '
     'for r in event["records"]]}', "Lambda.MissingRecordId"),
    ('{"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} '
     'for r in event["records"] * 2]}', "Lambda.DuplicatedRecordId"),
    ('{"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} '
     'for r in event["records"][1:]]}', "Lambda.MissingRecordId"),
    ('{"records": [{"recordId": r["recordId"], "result": "Fine", "data": r["data"]} '
     'for r in event["records"]]}', "Lambda.JsonProcessingException"),
    ('{"records": [{"recordId": r["recordId"], "result": "Ok", "data": "not base64!"} '
     'for r in event["records"]]}', "Lambda.JsonProcessingException"),
    ('[r["recordId"] for r in event["records"]]', "Lambda.JsonProcessingException"),
])
def test_an_invalid_answer_fails_the_whole_batch_once(lab, names, bucket, answer, code):
    source = f"def lambda_handler(event, context):\n    return {answer}\n"
    arn = function(lab, names["function"], source)
    create(names["stream"], bucket, processor=processing(arn, NumberOfRetries=3),
           ErrorOutputPrefix="bad/!{firehose:error-output-type}/", Prefix="good/")
    ids = put(names["stream"], [{"page": "home"}, {"page": "cart"}])
    ends = ended(lab, names["stream"], ids)
    assert all(end.startswith("error:bad/processing-failed/") for end in ends.values()), ends
    lines = error_lines(bucket, "bad/processing-failed/")
    assert {line["errorCode"] for line in lines} == {code}
    assert {line["attemptsMade"] for line in lines} == {1}, "an answer is never retried"
    assert len(invocations(lab, names["stream"])) == 1
    assert not objects(bucket, "good/")


def test_a_function_error_is_retried_then_ends_under_the_error_prefix(lab, names, bucket):
    source = "def lambda_handler(event, context):\n    raise RuntimeError('downstream down')\n"
    arn = function(lab, names["function"], source)
    create(names["stream"], bucket, processor=processing(arn, NumberOfRetries=2),
           Prefix="clicks/!{timestamp:yyyy}/",
           ErrorOutputPrefix="errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM}/")
    lab.speedup = 10  # the wait between tries is AWS's, not configured
    try:
        ids = put(names["stream"], [{"page": "home"}])
        ends = ended(lab, names["stream"], ids)
    finally:
        lab.speedup = 1
    year_month = arrived(lab, names["stream"], "%Y/%m")
    assert ends[ids[0]].startswith(f"error:errors/processing-failed/{year_month}/")
    tries = invocations(lab, names["stream"])
    assert [t["attempt"] for t in tries] == [1, 2, 3]
    assert {t["outcome"] for t in tries} == {"function error"}
    [line] = error_lines(bucket, "errors/processing-failed/")
    assert line["errorCode"] == "Lambda.FunctionError" and line["attemptsMade"] == 3
    assert line["errorMessage"].startswith("The Lambda function was successfully invoked")
    assert base64.b64decode(line["rawData"]) == b'{"page": "home"}'
    assert line["attemptEndingTimestamp"] >= line["arrivalTimestamp"]


def test_a_timeout_ends_under_the_error_prefix(lab, names, bucket):
    source = "import time\ndef lambda_handler(event, context):\n    time.sleep(3)\n"
    arn = function(lab, names["function"], source, timeout=1)
    create(names["stream"], bucket, processor=processing(arn, NumberOfRetries=0),
           ErrorOutputPrefix="late/!{firehose:error-output-type}/")
    ids = put(names["stream"], [{"page": "home"}])
    ends = ended(lab, names["stream"], ids)
    assert ends[ids[0]].startswith("error:late/processing-failed/")
    [line] = error_lines(bucket, "late/")
    assert line["errorCode"] == "Lambda.FunctionTimedOut" and line["attemptsMade"] == 1
    assert [t["outcome"] for t in invocations(lab, names["stream"])] == ["timed out"]


def test_firehose_waits_five_minutes_at_most(lab, names, bucket):
    source = "import time\ndef lambda_handler(event, context):\n    time.sleep(4)\n"
    arn = function(lab, names["function"], source, timeout=60)
    create(names["stream"], bucket, processor=processing(arn, NumberOfRetries=0))
    lab.speedup = 300  # Firehose's 5 minutes are not configurable: 1 s here
    try:
        ids = put(names["stream"], [{"page": "home"}])
        ends = ended(lab, names["stream"], ids, timeout=20)
    finally:
        lab.speedup = 1
    assert ends[ids[0]].startswith("error:processing-failed/")
    [line] = error_lines(bucket, "processing-failed/")
    assert line["errorCode"] == "Lambda.FunctionTimedOut"
    assert "maximum supported function timeout is 5 minutes" in line["errorMessage"]


def test_a_throttled_function_fails_with_invoke_limit_exceeded(lab, names, bucket):
    arn = function(lab, names["function"])
    boto3.client("lambda").put_function_concurrency(FunctionName=names["function"],
                                                    ReservedConcurrentExecutions=0)
    create(names["stream"], bucket, processor=processing(arn, NumberOfRetries=1))
    ids = put(names["stream"], [{"page": "home"}])
    ended(lab, names["stream"], ids)
    assert [t["outcome"] for t in invocations(lab, names["stream"])] == ["throttled"] * 2
    [line] = error_lines(bucket, "processing-failed/")
    assert line["errorCode"] == "Lambda.InvokeLimitExceeded" and line["attemptsMade"] == 2


# -- S3 names, prefixes, compression, partitions -------------------------------------------


def test_objects_are_named_as_firehose_names_them(lab, names, bucket):
    arn = function(lab, names["function"])
    create(names["stream"], bucket, processor=processing(arn), Prefix="raw/",
           CompressionFormat="GZIP")
    ids = put(names["stream"], [{"page": "home"}])
    ended(lab, names["stream"], ids)
    [(key, body)] = objects(bucket).items()
    hour = arrived(lab, names["stream"], "%Y/%m/%d/%H")
    uuid_pattern = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(rf"raw/{hour}/{names['stream']}-1-{hour.replace('/', '-')}"
                        rf"-\d\d-\d\d-{uuid_pattern}\.gz", key), key
    assert json.loads(gzip.decompress(body)) == {"page": "home", "clean": True}


def test_an_updated_destination_is_a_new_version(lab, names, bucket):
    arn = function(lab, names["function"])
    create(names["stream"], bucket, processor=processing(arn), Prefix="v/")
    firehose = boto3.client("firehose")
    described = firehose.describe_delivery_stream(
        DeliveryStreamName=names["stream"])["DeliveryStreamDescription"]
    too_big = refused(lambda: firehose.update_destination(
        DeliveryStreamName=names["stream"], CurrentDeliveryStreamVersionId="1",
        DestinationId=described["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"ProcessingConfiguration": processing(
            arn, BufferSizeInMBs=4)}))
    assert too_big["Code"] == "InvalidArgumentException"
    firehose.update_destination(
        DeliveryStreamName=names["stream"], CurrentDeliveryStreamVersionId="1",
        DestinationId=described["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"Prefix": "v2/"})
    ids = put(names["stream"], [{"page": "home"}])
    [key] = [e.split(":", 1)[1] for e in ended(lab, names["stream"], ids).values()]
    assert key.startswith("v2/") and f"/{names['stream']}-2-" in key


def test_dynamic_partitioning_delivers_one_object_per_partition(lab, names, bucket):
    arn = function(lab, names["function"])
    create(names["stream"], bucket, processor=processing(arn),
           DynamicPartitioningConfiguration={"Enabled": True},
           Prefix="pages/page=!{partitionKeyFromLambda:page}/!{timestamp:yyyy}/",
           ErrorOutputPrefix="errors/!{firehose:error-output-type}/")
    ids = put(names["stream"], [{"page": "home"}, {"page": "cart"}, {"page": "home"}])
    ended(lab, names["stream"], ids)
    year = arrived(lab, names["stream"], "%Y")
    found = objects(bucket, "pages/")
    by_page = {key.split("/")[1]: body.decode().count("\n") for key, body in found.items()}
    assert by_page == {"page=home": 2, "page=cart": 1}
    assert all(key.split("/")[2] == year for key in found)

    keyless = "def lambda_handler(event, context):\n    return {'records': [{'recordId': " \
              "r['recordId'], 'result': 'Ok', 'data': r['data']} for r in event['records']]}\n"
    function(lab, names["function"], keyless)
    more = put(names["stream"], [{"page": "shoes"}])
    ends = ended(lab, names["stream"], more)
    assert ends[more[0]].startswith("error:errors/partitioning-failed/")


def test_without_a_processor_records_go_straight_to_s3(lab, names, bucket):
    create(names["stream"], bucket, Prefix="plain/")
    ids = put(names["stream"], [{"page": "home"}, {"page": "cart"}])
    ended(lab, names["stream"], ids)
    [body] = objects(bucket, "plain/").values()
    assert body == b'{"page": "home"}{"page": "cart"}'
    assert not lab.trace.events("firehose.invocation", stream=names["stream"])


# -- a Kinesis data stream as source -------------------------------------------------------


def test_a_kinesis_data_stream_as_source(lab, names, bucket):
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=names["stream"], ShardCount=2)
    stream_arn = kinesis.describe_stream_summary(
        StreamName=names["stream"])["StreamDescriptionSummary"]["StreamARN"]
    arn = function(lab, names["function"])
    firehose = boto3.client("firehose")
    firehose.create_delivery_stream(
        DeliveryStreamName=names["stream"], DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
            "ProcessingConfiguration": processing(arn, BufferIntervalInSeconds=1)})
    source = firehose.describe_delivery_stream(DeliveryStreamName=names["stream"])[
        "DeliveryStreamDescription"]["Source"]["KinesisStreamSourceDescription"]
    assert source["KinesisStreamARN"] == stream_arn and source["DeliveryStartTimestamp"]
    direct = refused(lambda: firehose.put_record(DeliveryStreamName=names["stream"],
                                                 Record={"Data": b"x"}))
    assert direct["Code"] == "InvalidArgumentException"
    for user in ("ana", "ben", "carl"):
        kinesis.put_record(StreamARN=stream_arn, PartitionKey=user,
                           Data=json.dumps({"page": "home", "user": user}).encode())
    lines = wait_for(lambda: [line for body in objects(bucket).values()
                              for line in body.decode().splitlines()], "three records", 30)
    wait_for(lambda: sum(b.decode().count("\n") for b in objects(bucket).values()) == 3,
             "three records")
    events = [KinesisFirehoseModel.model_validate(i["event"])
              for i in invocations(lab, names["stream"])]
    assert lines and all(e.sourceKinesisStreamArn == stream_arn for e in events)
    metadata = [r.kinesisRecordMetadata for e in events for r in e.records]
    assert sorted(m.partitionKey for m in metadata) == ["ana", "ben", "carl"]
    assert all(m.shardId.startswith("shardId-") for m in metadata)
    firehose.delete_delivery_stream(DeliveryStreamName=names["stream"])


# -- bounds and the end --------------------------------------------------------------------


def test_a_stream_whose_function_falls_behind_says_slow_down(lab, names, bucket):
    source = "import time\ndef lambda_handler(event, context):\n    time.sleep(8)\n"
    arn = function(lab, names["function"], source, timeout=30)
    create(names["stream"], bucket, processor=processing(arn, BufferSizeInMBs=3,
                                                         NumberOfRetries=0))
    firehose = boto3.client("firehose")
    failed = 0
    for _ in range(10):  # 40 MiB, more than a stream holds before its function
        answer = firehose.put_record_batch(DeliveryStreamName=names["stream"],
                                           Records=[{"Data": b"x" * 1_000_000}] * 4)
        failed += answer["FailedPutCount"]
        codes = {e.get("ErrorCode") for e in answer["RequestResponses"]} - {None}
        assert codes <= {"ServiceUnavailableException"}
    assert failed > 0
    assert lab.trace.events("firehose.throttled", stream=names["stream"])
    firehose.delete_delivery_stream(DeliveryStreamName=names["stream"])
    lost = lab.trace.events("firehose.lost", stream=names["stream"])
    assert lost and all(e["reason"] == "the delivery stream was deleted" for e in lost)


def test_stop_delivers_or_records_every_buffered_record():
    if helpers.lab._current is not None:
        helpers.lab._current.stop()
    lab = helpers.start_lab()
    boto3.client("s3").create_bucket(Bucket="fh-stop")
    arn = function(lab, "fh-stop")
    create("waiting-for-the-function", "fh-stop",
           processor=processing(arn, BufferIntervalInSeconds=900))
    create("waiting-for-s3", "fh-stop", buffer=(128, 900))
    before = put("waiting-for-the-function", [{"page": "home"}] * 3)
    after = put("waiting-for-s3", [{"page": "cart"}] * 2)
    lab.stop()
    assert ended(lab, "waiting-for-the-function", before, timeout=1)[before[0]] == (
        "lost:the lab stopped before the function was invoked for them")
    assert all(end.startswith("data:") for end in ended(lab, "waiting-for-s3", after,
                                                        timeout=1).values())
    deadline = time.monotonic() + 3
    while [t.name for t in threading.enumerate() if t.name.startswith("lab-firehose")]:
        assert time.monotonic() < deadline, "a Firehose thread outlived lab.stop()"
        time.sleep(0.05)
