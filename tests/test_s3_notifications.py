"""S3 event notifications through plain boto3 (event shapes §2): the configuration S3
accepts, the event every object operation produces (checked against Powertools'
S3Model), asynchronous delivery with retries and destinations, S3 to SQS, and Lambda's
recursive loop detection."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote_plus

import boto3
import pytest
from async_support import drain, make_queue, wait_for
from aws_lambda_powertools.utilities.parser.models import S3Model
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"

# Sends what it received (and its trace header) to the queue in RECORD_TO: one message
# per invocation, so the tests count invocations and read the exact events.
RECORDER = """
import json, os, boto3
sqs = boto3.client("sqs")

def lambda_handler(event, context):
    sqs.send_message(QueueUrl=os.environ["RECORD_TO"], MessageBody=json.dumps({
        "request_id": context.aws_request_id, "event": event,
        "trace": os.environ.get("_X_AMZN_TRACE_ID")}))
    if os.environ.get("FAIL"):
        raise RuntimeError("cannot process " + event["Records"][0]["s3"]["object"]["key"])
"""

# Writes a new object into the bucket it was triggered by, for ever (or up to LIMIT).
LOOPER = """
import os, boto3
s3 = boto3.client("s3")

def lambda_handler(event, context):
    record = event["Records"][0]
    key = record["s3"]["object"]["key"]
    if len(key) >= int(os.environ.get("LIMIT", "1000")):
        return "stopping by myself"
    s3.put_object(Bucket=record["s3"]["bucket"]["name"], Key=key + "x", Body=b"again")
"""


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


@pytest.fixture
def fast(lab):
    """AWS's unconfigurable waits 600 times faster (a one-minute retry: 0.1 s)."""
    lab.speedup = 600
    yield lab
    lab.wait_for_events(20)
    lab.speedup = 1


@pytest.fixture
def s3():
    return boto3.client("s3")


@pytest.fixture
def lambda_client(lab):
    return boto3.client("lambda")


@pytest.fixture
def bucket(lab, s3):
    name = f"lab-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def allow_s3(lambda_client, name, bucket, **extra):
    lambda_client.add_permission(
        FunctionName=name, StatementId=f"s3-{uuid.uuid4().hex[:6]}",
        Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}", **extra)


def notify(s3, bucket, *configurations):
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"LambdaFunctionConfigurations": list(configurations)})


def lambda_config(name, events, prefix=None, suffix=None, config_id=None):
    config = {"LambdaFunctionArn": function_arn(name), "Events": list(events)}
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v]
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    if config_id:
        config["Id"] = config_id
    return config


@pytest.fixture
def recorder(lab, deploy, lambda_client, s3, bucket):
    """A bucket whose events (created and removed, config id "everything") invoke the
    recorder; returns a function that waits for and reads the recorded invocations."""
    url, _ = make_queue("recorded")
    name = deploy(RECORDER, environment={"RECORD_TO": url}, timeout=10)
    allow_s3(lambda_client, name, bucket, SourceAccount=ACCOUNT)
    notify(s3, bucket, lambda_config(name, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                                     config_id="everything"))

    def recorded(expect: int) -> list[dict]:
        assert lab.wait_for_events(20)
        messages = drain(url, expect=expect, timeout=10)
        time.sleep(0.2)  # anything more would be a duplicate: look once more
        messages += drain(url)
        return [json.loads(m["Body"]) for m in messages]

    recorded.name = name
    recorded.bucket = bucket
    recorded.url = url
    return recorded


def check_record(record: dict, *, bucket: str, key: str, event_name: str, request_id: str,
                 host_id: str, size=None, etag=None, version_id=None,
                 config_id="everything") -> dict:
    """The record of spec event-shapes §2, exactly; returns its s3.object."""
    S3Model.model_validate({"Records": [record]})  # Powertools accepts it
    record = json.loads(json.dumps(record))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record.pop("eventTime"))
    principal = record.pop("userIdentity")["principalId"]
    assert re.fullmatch(r"AWS:AIDA[A-Z2-7]{17}", principal), principal
    s3 = record.pop("s3")
    owner = s3["bucket"].pop("ownerIdentity")["principalId"]
    assert re.fullmatch(r"A[A-Z2-7]{13}", owner), owner
    obj = s3.pop("object")
    sequencer = obj.pop("sequencer")
    assert re.fullmatch(r"[0-9A-F]{18}", sequencer), sequencer
    assert record == {
        "eventVersion": "2.5",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventName": event_name,
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id},
    }
    assert s3 == {"s3SchemaVersion": "1.0", "configurationId": config_id,
                  "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}}
    expected = {"key": key}
    if size is not None:
        expected.update(size=size, eTag=etag)
    if version_id is not None:
        expected["versionId"] = version_id
    assert obj == expected
    return {**obj, "sequencer": sequencer}


def ids(response) -> dict:
    meta = response["ResponseMetadata"]
    return {"request_id": meta["RequestId"], "host_id": meta["HostId"]}


# -- the S3 responses carry S3's request ids ------------------------------------------------


def test_s3_answers_with_its_own_request_id_headers(lab, s3, bucket):
    response = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert re.fullmatch(r"[0-9A-F]{16}", headers["x-amz-request-id"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{75}=", headers["x-amz-id-2"])
    assert "x-amzn-requestid" not in headers
    assert ids(response) == {"request_id": headers["x-amz-request-id"],
                             "host_id": headers["x-amz-id-2"]}
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="nope")
    error = missing.value.response
    assert error["Error"]["Code"] == "NoSuchKey"
    assert error["ResponseMetadata"]["RequestId"] == \
        error["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]


# -- configuration: permission, existence, overlaps -----------------------------------------


def test_configuration_needs_a_permission_for_s3(lab, deploy, lambda_client, s3, bucket):
    name = deploy("def lambda_handler(event, context):\n    return None\n")
    arn = function_arn(name)
    missing_name = f"missing-{uuid.uuid4().hex[:6]}"
    missing = function_arn(missing_name)

    def refused(*configs, expected):
        with pytest.raises(ClientError) as error:
            notify(s3, bucket, *configs)
        response = error.value.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert response["Error"]["Code"] == "InvalidArgument"
        assert response["Error"]["Message"] == \
            "Unable to validate the following destination configurations"
        for index, failing in enumerate(expected, 1):
            assert response["Error"][f"ArgumentName{index}"] == f"{failing}, null"
            assert response["Error"][f"ArgumentValue{index}"] == \
                f"Not authorized to invoke function [{failing}]"
        assert f"ArgumentName{len(expected) + 1}" not in response["Error"]
        meta = response["ResponseMetadata"]  # the XML's RequestId is the header's
        assert meta["RequestId"] == meta["HTTPHeaders"]["x-amz-request-id"]

    refused(lambda_config(name, ["s3:ObjectCreated:*"]), expected=[arn])  # no policy at all
    refused(lambda_config(missing_name, ["s3:ObjectCreated:*"]), expected=[missing])
    lambda_client.add_permission(  # another bucket, another account, another principal
        FunctionName=name, StatementId="other-bucket", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::someone-elses-bucket")
    lambda_client.add_permission(
        FunctionName=name, StatementId="other-account", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}",
        SourceAccount="210987654321")
    lambda_client.add_permission(
        FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com")
    refused(lambda_config(name, ["s3:ObjectCreated:*"]),
            lambda_config(missing_name, ["s3:ObjectRemoved:*"]), expected=[arn, missing])
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get(
        "LambdaFunctionConfigurations") is None  # nothing was stored

    # S3 skips the check when asked to.
    s3.put_bucket_notification_configuration(
        Bucket=bucket, SkipDestinationValidation=True, NotificationConfiguration={
            "LambdaFunctionConfigurations": [lambda_config(missing_name, ["s3:ObjectCreated:*"])]})

    # A wildcard SourceArn and the right account are accepted.
    lambda_client.add_permission(
        FunctionName=name, StatementId="lab-buckets", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::lab-*", SourceAccount=ACCOUNT)
    notify(s3, bucket, lambda_config(name, ["s3:ObjectCreated:*"], config_id="ok"))
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [(c["Id"], c["LambdaFunctionArn"], c["Events"])
            for c in stored["LambdaFunctionConfigurations"]] == [
        ("ok", arn, ["s3:ObjectCreated:*"])]


@pytest.mark.parametrize("first, second, overlap", [
    (("s3:ObjectCreated:*", "images/", None), ("s3:ObjectCreated:*", "images/", None), True),
    (("s3:ObjectCreated:*", "images/", None), ("s3:ObjectCreated:Put", "images/2024/", None),
     True),
    (("s3:ObjectCreated:*", "images/", None), ("s3:ObjectCreated:*", None, ".jpg"), True),
    (("s3:ObjectCreated:*", "images/", ".jpg"), ("s3:ObjectCreated:*", "images/", ".png"),
     False),
    (("s3:ObjectCreated:*", "images/", None), ("s3:ObjectCreated:*", "videos/", None), False),
    (("s3:ObjectCreated:*", None, None), ("s3:ObjectRemoved:*", None, None), False),
    (("s3:ObjectCreated:Put", None, None), ("s3:ObjectCreated:Copy", None, None), False),
])
def test_overlapping_configurations_are_rejected(lab, deploy, lambda_client, s3, bucket,
                                                 first, second, overlap):
    names = [deploy("def lambda_handler(event, context):\n    return None\n")
             for _ in range(2)]
    for name in names:
        allow_s3(lambda_client, name, bucket)
    configs = [lambda_config(name, [event], prefix, suffix)
               for name, (event, prefix, suffix) in zip(names, (first, second), strict=True)]
    if not overlap:
        notify(s3, bucket, *configs)
        stored = s3.get_bucket_notification_configuration(Bucket=bucket)
        assert len(stored["LambdaFunctionConfigurations"]) == 2
        return
    with pytest.raises(ClientError) as error:
        notify(s3, bucket, *configs)
    assert error.value.response["Error"]["Code"] == "InvalidArgument"
    assert error.value.response["Error"]["Message"] == (
        "Configurations overlap. Configurations on the same bucket cannot share a common "
        "event type.")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_filter_takes_one_prefix_rule(lab, deploy, lambda_client, s3, bucket):
    name = deploy("def lambda_handler(event, context):\n    return None\n")
    allow_s3(lambda_client, name, bucket)
    config = lambda_config(name, ["s3:ObjectCreated:*"])
    config["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a/"},
                                                {"Name": "prefix", "Value": "b/"}]}}
    with pytest.raises(ClientError) as error:
        notify(s3, bucket, config)
    assert error.value.response["Error"]["Message"] == \
        "Cannot specify more than one prefix rule in a filter."


# -- the events -----------------------------------------------------------------------------


def test_put_object_event(recorder, s3):
    put = s3.put_object(Bucket=recorder.bucket, Key="reports/red flower+1.txt", Body=b"petals")
    [invocation] = recorder(1)
    [record] = invocation["event"]["Records"]
    obj = check_record(record, bucket=recorder.bucket, key="reports/red+flower%2B1.txt",
                       event_name="ObjectCreated:Put", size=6,
                       etag=put["ETag"].strip('"'), **ids(put))
    assert unquote_plus(obj["key"]) == "reports/red flower+1.txt"  # the pitfall
    s3.head_object(Bucket=recorder.bucket, Key=unquote_plus(obj["key"]))


def test_copy_and_multipart_upload_events(recorder, s3):
    s3.put_object(Bucket=recorder.bucket, Key="original.txt", Body=b"x" * 10)
    copied = s3.copy_object(Bucket=recorder.bucket, Key="copy.txt",
                            CopySource={"Bucket": recorder.bucket, "Key": "original.txt"})
    upload = s3.create_multipart_upload(Bucket=recorder.bucket, Key="big.bin")
    part = b"p" * (5 * 1024 * 1024)
    parts = []
    for number in (1, 2):
        response = s3.upload_part(Bucket=recorder.bucket, Key="big.bin", PartNumber=number,
                                  UploadId=upload["UploadId"], Body=part)
        parts.append({"ETag": response["ETag"], "PartNumber": number})
    completed = s3.complete_multipart_upload(
        Bucket=recorder.bucket, Key="big.bin", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts})
    invocations = recorder(3)
    assert len(invocations) == 3  # the upload is one event, not also a Put
    records = {r["s3"]["object"]["key"]: r
               for r in (i["event"]["Records"][0] for i in invocations)}
    assert set(records) == {"original.txt", "copy.txt", "big.bin"}
    check_record(records["copy.txt"], bucket=recorder.bucket, key="copy.txt",
                 event_name="ObjectCreated:Copy", size=10,
                 etag=copied["CopyObjectResult"]["ETag"].strip('"'), **ids(copied))
    etag = completed["ETag"].strip('"')
    assert etag.endswith("-2")
    check_record(records["big.bin"], bucket=recorder.bucket, key="big.bin",
                 event_name="ObjectCreated:CompleteMultipartUpload", size=2 * len(part),
                 etag=etag, **ids(completed))


def test_delete_object_and_delete_objects_events(recorder, s3):
    for key in ("one", "two", "three"):
        s3.put_object(Bucket=recorder.bucket, Key=key, Body=b"1")
    deleted = s3.delete_object(Bucket=recorder.bucket, Key="one")
    batch = s3.delete_objects(Bucket=recorder.bucket, Delete={
        "Objects": [{"Key": "two"}, {"Key": "three"}]})
    invocations = recorder(6)
    removals = {r["s3"]["object"]["key"]: r for r in (i["event"]["Records"][0]
                                                       for i in invocations)
                if r["eventName"].startswith("ObjectRemoved")}
    assert len(invocations) == 6 and set(removals) == {"one", "two", "three"}
    check_record(removals["one"], bucket=recorder.bucket, key="one",
                 event_name="ObjectRemoved:Delete", **ids(deleted))
    for key in ("two", "three"):  # one request, two events with its ids
        check_record(removals[key], bucket=recorder.bucket, key=key,
                     event_name="ObjectRemoved:Delete", **ids(batch))


def test_versioned_bucket_events(recorder, s3):
    s3.put_bucket_versioning(Bucket=recorder.bucket,
                             VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=recorder.bucket, Key="doc.txt", Body=b"v1")
    second = s3.put_object(Bucket=recorder.bucket, Key="doc.txt", Body=b"v2!")
    marker = s3.delete_object(Bucket=recorder.bucket, Key="doc.txt")
    assert marker["DeleteMarker"] is True
    gone = s3.delete_object(Bucket=recorder.bucket, Key="doc.txt",
                            VersionId=first["VersionId"])
    unmarked = s3.delete_object(Bucket=recorder.bucket, Key="doc.txt",
                                VersionId=marker["VersionId"])
    invocations = recorder(5)
    records = sorted((i["event"]["Records"][0] for i in invocations),
                     key=lambda r: r["s3"]["object"]["sequencer"])
    assert len(records) == 5
    check = dict(bucket=recorder.bucket, key="doc.txt")
    sequencers = [
        check_record(records[0], event_name="ObjectCreated:Put", size=2,
                     etag=first["ETag"].strip('"'), version_id=first["VersionId"],
                     **check, **ids(first))["sequencer"],
        check_record(records[1], event_name="ObjectCreated:Put", size=3,
                     etag=second["ETag"].strip('"'), version_id=second["VersionId"],
                     **check, **ids(second))["sequencer"],
        check_record(records[2], event_name="ObjectRemoved:DeleteMarkerCreated",
                     version_id=marker["VersionId"], **check, **ids(marker))["sequencer"],
        check_record(records[3], event_name="ObjectRemoved:Delete",
                     version_id=first["VersionId"], **check, **ids(gone))["sequencer"],
        check_record(records[4], event_name="ObjectRemoved:Delete",
                     version_id=marker["VersionId"], **check, **ids(unmarked))["sequencer"],
    ]
    assert sequencers == sorted(set(sequencers))  # per key, later changes sort later
    # the object is back: its second version is current again
    assert s3.get_object(Bucket=recorder.bucket, Key="doc.txt")["Body"].read() == b"v2!"


def test_each_event_runs_the_function_exactly_once(lab, recorder, s3):
    requests = [s3.put_object(Bucket=recorder.bucket, Key=f"k{i}", Body=b"x")
                for i in range(5)]
    invocations = recorder(5)
    assert len(invocations) == 5  # moto's own synchronous invoke never runs as well
    assert sorted(i["event"]["Records"][0]["responseElements"]["x-amz-request-id"]
                  for i in invocations) == sorted(ids(r)["request_id"] for r in requests)
    request_ids = {i["request_id"] for i in invocations}
    for request_id in request_ids:  # each is an asynchronous invoke from S3, run once
        assert [e["source"] for e in lab.trace.events("invoke", request_id=request_id)] == ["s3"]
        assert len(lab.trace.events("attempt.start", request_id=request_id)) == 1
        [done] = lab.trace.events("event.completed", request_id=request_id)
        assert done["outcome"] == "succeeded"
        [notice] = lab.trace.events("s3.notification", request_id=request_id)
        assert notice["bucket"] == recorder.bucket and notice["outcome"] == "queued"


def test_filters_match_the_encoded_key(lab, deploy, lambda_client, s3, bucket):
    url, _ = make_queue("filtered")
    name = deploy(RECORDER, environment={"RECORD_TO": url}, timeout=10)
    allow_s3(lambda_client, name, bucket)
    notify(s3, bucket, lambda_config(name, ["s3:ObjectCreated:*"], prefix="my+uploads/",
                                     suffix=".csv"))
    for key in ("my uploads/a.csv", "my uploads/b.txt", "other/c.csv", "my+uploads/d.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    assert lab.wait_for_events(20)
    keys = [json.loads(m["Body"])["event"]["Records"][0]["s3"]["object"]["key"]
            for m in drain(url, expect=1)]
    assert keys == ["my+uploads/a.csv"]  # "my+uploads/d.csv" is encoded as my%2Buploads/


# -- asynchronous delivery --------------------------------------------------------------------


def test_put_object_returns_before_a_slow_function_finishes(lab, deploy, lambda_client, s3,
                                                           bucket):
    name = deploy("""
        import time
        def lambda_handler(event, context):
            time.sleep(1.5)
            return "done"
        """, timeout=5)
    allow_s3(lambda_client, name, bucket)
    notify(s3, bucket, lambda_config(name, ["s3:ObjectCreated:*"]))
    started = time.monotonic()
    put = s3.put_object(Bucket=bucket, Key="slow", Body=b"x")
    assert time.monotonic() - started < 1.0
    [notice] = [n for n in lab.trace.events("s3.notification")
                if n["s3_request_id"] == ids(put)["request_id"]]
    assert not lab.trace.events("event.completed", request_id=notice["request_id"])
    assert lab.wait_for_events(20)
    [end] = lab.trace.events("attempt.end", request_id=notice["request_id"])
    assert end["outcome"] == "response" and end["duration_ms"] >= 1500


def test_a_failing_function_is_retried_then_reaches_its_on_failure_destination(
        fast, deploy, lambda_client, s3, bucket):
    url, _ = make_queue("attempts")
    failures_url, failures_arn = make_queue("failures")
    name = deploy(RECORDER, environment={"RECORD_TO": url, "FAIL": "1"}, timeout=10)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    allow_s3(lambda_client, name, bucket)
    notify(s3, bucket, lambda_config(name, ["s3:ObjectCreated:*"], config_id="fails"))
    s3.put_object(Bucket=bucket, Key="broken.csv", Body=b"x")
    assert fast.wait_for_events(20)
    attempts = [json.loads(m["Body"]) for m in drain(url, expect=3)]
    assert len(attempts) == 3  # the first attempt and Lambda's two retries
    assert len({a["request_id"] for a in attempts}) == 1
    [failure] = drain(failures_url, expect=1)
    record = json.loads(failure["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["requestId"] == attempts[0]["request_id"]
    assert record["requestPayload"] == attempts[0]["event"]
    S3Model.model_validate(record["requestPayload"])
    assert record["responsePayload"]["errorMessage"] == "cannot process broken.csv"


# -- S3 to SQS --------------------------------------------------------------------------------


def test_s3_to_sqs_sends_a_test_event_then_events(lab, s3, bucket):
    sqs = boto3.client("sqs")
    url, arn = make_queue("s3-events")
    saved = s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "to-queue", "QueueArn": arn,
                                 "Events": ["s3:ObjectCreated:*"]}]})
    [test] = drain(url, expect=1)
    test_event = json.loads(test["Body"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", test_event.pop("Time"))
    assert test_event == {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket,
                          "RequestId": ids(saved)["request_id"],
                          "HostId": ids(saved)["host_id"]}
    put = s3.put_object(Bucket=bucket, Key="in/queue.json", Body=b"{}")
    [message] = drain(url, expect=1)
    [record] = json.loads(message["Body"])["Records"]
    check_record(record, bucket=bucket, key="in/queue.json", event_name="ObjectCreated:Put",
                 size=2, etag=put["ETag"].strip('"'), config_id="to-queue", **ids(put))
    sqs.delete_queue(QueueUrl=url)


# -- recursive loops ----------------------------------------------------------------------------


def test_recursion_config_api(lab, deploy, lambda_client):
    name = deploy("def lambda_handler(event, context):\n    return None\n")
    assert lambda_client.get_function_recursion_config(
        FunctionName=name)["RecursiveLoop"] == "Terminate"
    assert lambda_client.put_function_recursion_config(
        FunctionName=name, RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lambda_client.get_function_recursion_config(
        FunctionName=function_arn(name))["RecursiveLoop"] == "Allow"
    with pytest.raises(ClientError) as missing:
        lambda_client.get_function_recursion_config(FunctionName="no-such-function")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def loop_bucket(lambda_client, s3, bucket, name):
    allow_s3(lambda_client, name, bucket)
    notify(s3, bucket, lambda_config(name, ["s3:ObjectCreated:*"]))


def test_a_loop_through_s3_is_stopped_after_16_invocations(lab, deploy, lambda_client, s3,
                                                          bucket):
    dlq_url, dlq_arn = make_queue("loop-dlq")
    name = deploy(LOOPER, timeout=10, DeadLetterConfig={"TargetArn": dlq_arn})
    loop_bucket(lambda_client, s3, bucket, name)
    s3.put_object(Bucket=bucket, Key="k", Body=b"start")
    assert wait_for(lambda: lab.trace.events("event.completed", outcome="delivered",
                                             condition="RecursiveInvocationException"),
                    timeout=30)
    assert lab.wait_for_events(20)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys, key=len) == ["k" + "x" * n for n in range(17)]
    runs = lab.trace.events("attempt.start", function=function_arn(name))
    assert len(runs) == 16
    notices = [n for n in lab.trace.events("s3.notification") if n["bucket"] == bucket]
    assert [n["chain_count"] for n in notices] == list(range(1, 18))
    stopped = lab.trace.events("event.completed", request_id=notices[-1]["request_id"])
    assert [(e["outcome"], e["reason"], e["targets"]) for e in stopped] == [
        ("delivered", "recursive loop detected", [dlq_arn])]
    [dead] = drain(dlq_url, expect=1)
    assert json.loads(dead["Body"]) == notices[-1]["event"]  # the 17th event, not run
    assert json.loads(dead["Body"])["Records"][0]["s3"]["object"]["key"] == "k" + "x" * 16
    now = datetime.now(timezone.utc)
    cloudwatch = boto3.client("cloudwatch")
    sums = {metric: sum(p["Sum"] for p in cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Period=3600, Statistics=["Sum"],
        Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=1))["Datapoints"])
        for metric in ("RecursiveInvocationsDropped", "AsyncEventsDropped", "Invocations",
                       "AsyncEventsReceived")}
    assert sums == {"RecursiveInvocationsDropped": 1, "AsyncEventsDropped": 1,
                    "Invocations": 16, "AsyncEventsReceived": 17}


def test_the_trace_header_carries_the_lineage(lab, deploy, lambda_client, s3, bucket):
    url, _ = make_queue("lineage")
    name = deploy("""
        import os, boto3
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        def lambda_handler(event, context):
            sqs.send_message(QueueUrl=os.environ["RECORD_TO"],
                             MessageBody=os.environ["_X_AMZN_TRACE_ID"])
            key = event["Records"][0]["s3"]["object"]["key"]
            if len(key) < 3:  # k, kx, kxx: three invocations
                s3.put_object(Bucket=event["Records"][0]["s3"]["bucket"]["name"],
                              Key=key + "x", Body=b"again")
        """, environment={"RECORD_TO": url}, timeout=10)
    loop_bucket(lambda_client, s3, bucket, name)
    s3.put_object(Bucket=bucket, Key="k", Body=b"start")
    assert wait_for(lambda: len(lab.trace.events("attempt.end",
                                                 function=function_arn(name))) >= 3)
    assert lab.wait_for_events(20)
    traces = [m["Body"] for m in drain(url, expect=3)]
    assert len(traces) == 3
    assert all(re.match(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Sampled=0;", t) for t in traces)
    lineages = [re.search(r";Lineage=([0-9a-f]{8}):(\d+)$", t).groups() for t in traces]
    assert len({key for key, _ in lineages}) == 1  # one function in the chain
    assert sorted(int(count) for _, count in lineages) == [1, 2, 3]


def test_allow_lets_the_loop_run_past_16(lab, deploy, lambda_client, s3, bucket):
    name = deploy(LOOPER, environment={"LIMIT": "21"}, timeout=10)
    lambda_client.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    loop_bucket(lambda_client, s3, bucket, name)
    s3.put_object(Bucket=bucket, Key="k", Body=b"start")
    assert wait_for(lambda: len(lab.trace.events("attempt.end",
                                                 function=function_arn(name))) >= 21,
                    timeout=30)
    assert lab.wait_for_events(20)
    assert len(lab.trace.events("attempt.start", function=function_arn(name))) == 21
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 21  # k .. k + 20 x
