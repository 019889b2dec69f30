"""Lambda's metrics in CloudWatch (namespace AWS/Lambda), read back with plain boto3 after
known invokes: what counts as an invocation, an error, a throttle; durations; concurrency;
the asynchronous metrics; IteratorAge; an SQS mapping's EventCount metrics; and the
dimensions CloudWatch matches exactly (helpers/lambda_/metrics.py, helpers/cloud/cloudwatch.py)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from async_support import wait_for
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import invoke

from helpers.cloud.cloudwatch import metric_math

FAILS_ON_FLAG = """
import time

def lambda_handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
"""


@pytest.fixture
def cloudwatch(lab):
    return boto3.client("cloudwatch")


def dims(name=None, **more):
    found = [{"Name": "FunctionName", "Value": name}] if name else []
    return found + [{"Name": key, "Value": value} for key, value in more.items()]


def statistic(cloudwatch, metric, dimensions, stat="Sum", namespace="AWS/Lambda"):
    """The statistic over the last ten minutes (None when there are no datapoints)."""
    now = datetime.now(timezone.utc)
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName=metric, Dimensions=dimensions, Period=600,
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1),
        Statistics=[stat])["Datapoints"]
    if not points:
        return None
    values = [point[stat] for point in points]
    return {"Sum": sum, "SampleCount": sum, "Maximum": max, "Minimum": min}[stat](values)


def test_invocations_errors_and_durations_of_synchronous_invokes(deploy, lambda_client,
                                                                 cloudwatch):
    name = deploy(FAILS_ON_FLAG, timeout=1)
    for payload in ({"sleep": 0.05}, {}, {}, {"fail": True}, {"sleep": 3}):
        invoke(lambda_client, name, payload)
    fn = dims(name)
    assert statistic(cloudwatch, "Invocations", fn) == 5  # errors and the timeout included
    assert statistic(cloudwatch, "Errors", fn) == 2  # the exception and the timeout
    assert statistic(cloudwatch, "Errors", fn, "SampleCount") == 5  # 0 or 1 per invocation
    assert statistic(cloudwatch, "Duration", fn, "Maximum") == 1000  # the timed-out one
    assert statistic(cloudwatch, "Duration", fn, "Minimum") < 50
    assert statistic(cloudwatch, "Throttles", fn) is None
    assert statistic(cloudwatch, "Invocations", []) >= 5  # every function in the account
    listed = cloudwatch.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations",
                                     Dimensions=[{"Name": "FunctionName", "Value": name}])
    assert [m["Dimensions"] for m in listed["Metrics"]] == [fn]  # unqualified: no Resource


def test_error_rate_by_metric_math(deploy, lambda_client, cloudwatch):
    name = deploy(FAILS_ON_FLAG)
    for payload in ({}, {}, {}, {"fail": True}):
        invoke(lambda_client, name, payload)
    now = datetime.now(timezone.utc)

    def stat(query_id, metric):
        return {"Id": query_id, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                       "Dimensions": dims(name)}, "Period": 3600, "Stat": "Sum"}}

    results = cloudwatch.get_metric_data(
        MetricDataQueries=[stat("errors", "Errors"), stat("invocations", "Invocations"),
                           {"Id": "rate", "Expression": "100 * errors / invocations"}],
        # one period of an hour around the invokes: none falls on either side of its edge
        StartTime=now - timedelta(minutes=30), EndTime=now + timedelta(minutes=30),
    )["MetricDataResults"]
    assert [(r["Id"], r["Values"]) for r in results] == [("rate", [25.0])]


def test_versions_and_aliases_have_their_own_resource_and_executed_version(
        deploy, lambda_client, cloudwatch):
    name = deploy(FAILS_ON_FLAG)
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    for qualified in (f"{name}:live", f"{name}:live", f"{name}:{version}", name):
        invoke(lambda_client, qualified, {})
    assert statistic(cloudwatch, "Invocations", dims(name)) == 4
    alias = dims(name, Resource=f"{name}:live")
    assert statistic(cloudwatch, "Invocations", alias) == 2
    assert statistic(cloudwatch, "Invocations",
                     alias + [{"Name": "ExecutedVersion", "Value": version}]) == 2
    assert statistic(cloudwatch, "Invocations", dims(name, Resource=f"{name}:{version}")) == 1
    assert statistic(cloudwatch, "Invocations",  # a version is no alias: no ExecutedVersion
                     dims(name, Resource=f"{name}:{version}", ExecutedVersion=version)) is None


def test_throttled_requests_are_throttles_not_invocations(deploy, lambda_client, cloudwatch):
    name = deploy(FAILS_ON_FLAG)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    once = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))
    for _ in range(3):  # without retries: the SDK's own would each be throttled too
        with pytest.raises(ClientError) as throttled:
            once.invoke(FunctionName=name, Payload=b"{}")
        assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert statistic(cloudwatch, "Throttles", dims(name)) == 3
    with pytest.raises(ClientError):
        lambda_client.invoke(FunctionName=name, Payload=b"{}")  # boto3's default: 3 tries
    assert statistic(cloudwatch, "Throttles", dims(name)) == 6
    assert statistic(cloudwatch, "Invocations", dims(name)) is None
    assert statistic(cloudwatch, "Errors", dims(name)) is None


def test_concurrent_executions_is_the_most_running_at_once(deploy, lambda_client, cloudwatch):
    name = deploy(FAILS_ON_FLAG, timeout=10)
    invoke(lambda_client, name, {})  # one environment first, then three at once
    calls = [threading.Thread(target=invoke, args=(lambda_client, name, {"sleep": 1.5}))
             for _ in range(3)]
    for call in calls:
        call.start()
    for call in calls:
        call.join()
    assert statistic(cloudwatch, "ConcurrentExecutions", dims(name), "Maximum") == 3
    assert statistic(cloudwatch, "ConcurrentExecutions", dims(name), "Minimum") == 1


def test_asynchronous_metrics_received_age_dropped_and_failed_deliveries(
        lab, deploy, lambda_client, cloudwatch):
    missing_queue = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    missing_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    failing = deploy(FAILS_ON_FLAG, DeadLetterConfig={"TargetArn": missing_queue})
    lambda_client.put_function_event_invoke_config(
        FunctionName=failing, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": missing_topic}})
    fine = deploy(FAILS_ON_FLAG)
    speedup = lab.speedup
    lab.speedup = 600  # the retry ~1 minute later takes 0.1 s
    try:
        lambda_client.invoke(FunctionName=failing, InvocationType="Event",
                             Payload=b'{"fail": true}')
        for _ in range(2):
            lambda_client.invoke(FunctionName=fine, InvocationType="Event", Payload=b"{}")
        assert lab.wait_for_events(30)
    finally:
        lab.speedup = speedup
    bad, good = dims(failing), dims(fine)
    assert statistic(cloudwatch, "AsyncEventsReceived", bad) == 1
    assert statistic(cloudwatch, "Invocations", bad) == 2  # the first attempt and a retry
    assert statistic(cloudwatch, "Errors", bad) == 2
    assert statistic(cloudwatch, "AsyncEventsDropped", bad) == 1
    assert statistic(cloudwatch, "DeadLetterErrors", bad) == 1
    assert statistic(cloudwatch, "DestinationDeliveryFailures", bad) == 1
    age = statistic(cloudwatch, "AsyncEventAge", bad, "Maximum")  # AWS's minute, not 0.1 s
    assert 60_000 <= age < 75_000, age
    assert statistic(cloudwatch, "AsyncEventAge", bad, "SampleCount") == 2
    assert statistic(cloudwatch, "AsyncEventsReceived", good) == 2
    assert statistic(cloudwatch, "AsyncEventsDropped", good) is None
    assert statistic(cloudwatch, "AsyncEventAge", good, "Maximum") < 10_000


def test_iterator_age_is_the_age_of_a_batch_s_last_record(lab, deploy, lambda_client,
                                                          cloudwatch):
    kinesis = boto3.client("kinesis")
    stream = f"ages-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
        "StreamARN"]
    for n in range(3):
        kinesis.put_record(StreamARN=arn, PartitionKey="k", Data=f"r{n}".encode())
    time.sleep(1.5)  # the records wait before any mapping reads them
    name = deploy("def lambda_handler(event, context):\n    return None\n")
    uuid_ = lambda_client.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        BatchSize=10)["UUID"]
    try:
        assert wait_for(lambda: lab.trace.events("batch.end", mapping=uuid_), timeout=20)
    finally:
        lambda_client.delete_event_source_mapping(UUID=uuid_)
    assert statistic(cloudwatch, "IteratorAge", dims(name), "SampleCount") == 1  # one batch
    assert 1500 <= statistic(cloudwatch, "IteratorAge", dims(name), "Maximum") < 30_000


SQS_HANDLER = """
def lambda_handler(event, context):
    failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"]
              if r["body"] == "bad"]
    return {"batchItemFailures": failed}
"""


def test_an_sqs_mapping_s_event_counts(lab, deploy, lambda_client, cloudwatch):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"counts-{uuid.uuid4().hex[:8]}",
                           Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    name = deploy(SQS_HANDLER)
    for body in ("skip", "good", "bad"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    created = lambda_client.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, BatchSize=10, MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": ["good", "bad"]})}]},
        MetricsConfig={"Metrics": ["EventCount"]})
    uuid_ = created["UUID"]
    assert created["MetricsConfig"] == {"Metrics": ["EventCount"]}
    try:
        assert wait_for(lambda: sum(len(e["deleted"]) + len(e["retried"]) for e in
                                    lab.trace.events("batch.end", mapping=uuid_)) >= 2,
                        timeout=20)
        assert lambda_client.get_event_source_mapping(UUID=uuid_)["MetricsConfig"] == {
            "Metrics": ["EventCount"]}
    finally:
        lambda_client.delete_event_source_mapping(UUID=uuid_)
    mapping = [{"Name": "EventSourceMappingUUID", "Value": uuid_}]
    counts = {metric: statistic(cloudwatch, metric, mapping) for metric in (
        "PolledEventCount", "FilteredOutEventCount", "InvokedEventCount",
        "FailedInvokeEventCount", "DeletedEventCount")}
    assert counts == {"PolledEventCount": 3, "FilteredOutEventCount": 1,
                      "InvokedEventCount": 2, "FailedInvokeEventCount": 1,
                      "DeletedEventCount": 1}


def test_a_mapping_without_metrics_config_publishes_no_event_counts(lab, deploy,
                                                                    lambda_client, cloudwatch):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"quiet-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    name = deploy(SQS_HANDLER)
    sqs.send_message(QueueUrl=url, MessageBody="good")
    uuid_ = lambda_client.create_event_source_mapping(FunctionName=name,
                                                      EventSourceArn=arn)["UUID"]
    try:
        assert wait_for(lambda: lab.trace.events("batch.end", mapping=uuid_), timeout=20)
    finally:
        lambda_client.delete_event_source_mapping(UUID=uuid_)
    assert "MetricsConfig" not in lambda_client.list_event_source_mappings(
        FunctionName=name)["EventSourceMappings"][0]
    assert cloudwatch.list_metrics(Namespace="AWS/Lambda", Dimensions=[
        {"Name": "EventSourceMappingUUID", "Value": uuid_}])["Metrics"] == []
    assert statistic(cloudwatch, "Invocations", dims(name)) == 1


@pytest.mark.parametrize("metrics, code", [
    (["Bogus"], "ValidationException"),
    (["ErrorCount"], "InvalidParameterValueException"),
])
def test_metrics_config_is_checked(deploy, lambda_client, metrics, code):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"checked-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    with pytest.raises(ClientError) as refused:
        lambda_client.create_event_source_mapping(
            FunctionName=deploy(SQS_HANDLER), EventSourceArn=arn,
            MetricsConfig={"Metrics": metrics})
    assert refused.value.response["Error"]["Code"] == code


# -- CloudWatch's own matching --------------------------------------------------------------


def test_reads_match_dimensions_exactly_and_within_the_namespace(cloudwatch):
    namespace = f"Lab/{uuid.uuid4().hex[:8]}"
    both = [{"Name": "Service", "Value": "a"}, {"Name": "Stage", "Value": "prod"}]
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Hits", "Value": 1},
        {"MetricName": "Hits", "Value": 10, "Dimensions": both[:1]},
        {"MetricName": "Hits", "Value": 100, "Dimensions": both},
    ])
    cloudwatch.put_metric_data(Namespace=namespace + "-other", MetricData=[
        {"MetricName": "Hits", "Value": 1000, "Dimensions": both[:1]}])
    assert statistic(cloudwatch, "Hits", [], namespace=namespace) == 1
    assert statistic(cloudwatch, "Hits", both[:1], namespace=namespace) == 10
    assert statistic(cloudwatch, "Hits", both[::-1], namespace=namespace) == 100
    now = datetime.now(timezone.utc)
    results = cloudwatch.get_metric_data(MetricDataQueries=[
        {"Id": f"q{n}", "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": "Hits",
                                                  "Dimensions": d},
                                       "Period": 600, "Stat": "Sum"}}
        for n, d in enumerate(([], both[:1], both))],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1),
    )["MetricDataResults"]
    assert [(r["Id"], r["Values"]) for r in results] == [
        ("q0", [1.0]), ("q1", [10.0]), ("q2", [100.0])]


def test_metric_math_does_arithmetic_on_the_timestamps_every_series_has():
    t1, t2, t3 = (datetime(2026, 1, 1, 0, minute) for minute in (0, 1, 2))
    answers = {"e": {"timestamps": [t1, t2, t3], "values": [1.0, 0.0, 3.0]},
               "i": {"timestamps": [t1, t2], "values": [4.0, 0.0]}}
    assert metric_math("100 * e / i", answers) == ([25.0], [t1])  # t2 / 0, t3 missing
    assert metric_math("e - i", answers) == ([-3.0, 0.0], [t1, t2])
    assert metric_math("-e + 1", answers) == ([0.0, 1.0, -2.0], [t1, t2, t3])
    assert metric_math("SUM(e)", answers) == ([], [])  # functions: not done in the lab
    assert metric_math("unknown / 2", answers) == ([], [])
    assert metric_math("42", answers) == ([], [])
