"""Every event builder in helpers/events builds what its Powertools parser model accepts.

Each module is named after the Powertools parser module of its source and says which
model its events pass (``POWERTOOLS_MODEL``); here each builds a representative event
and the model parses it. The integration tests check the events the lab really sends.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import datetime, timezone

import pytest
from aws_lambda_powertools.utilities.parser import models

import helpers.events as events_package
from helpers.aws import ACCOUNT_ID
from helpers.events import (
    alb,
    apigw,
    apigwv2,
    cloudfront,
    dynamodb,
    event_bridge,
    kinesis,
    kinesis_firehose,
    lambda_function_url,
    s3,
    ses,
    sns,
    sqs,
)


def _s3():
    change = s3.ObjectChange(event_name="s3:ObjectCreated:Put", bucket="b", region="us-east-1",
                             account_id=ACCOUNT_ID, key="a b/c.txt", size=3, etag="abc",
                             version_id=None, sequencer=s3.next_sequencer())
    return s3.build_event(change, "config", s3.S3RequestInfo())


def _sqs():
    message = {"MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "ReceiptHandle": "r",
               "Body": "hello", "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
               "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1",
                              "SenderId": "A", "ApproximateFirstReceiveTimestamp": "1"},
               "MessageAttributes": {"n": {"DataType": "String", "StringValue": "1"}},
               "MD5OfMessageAttributes": "x"}
    return {"Records": [sqs.sqs_record(message, f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:q",
                                       "us-east-1", fifo=False)]}


def _apigw():
    return apigw.rest_event(
        method="GET", path="/items/7", raw_query="a=1&a=2", headers=[("Host", "h")], body=b"",
        body_is_binary=False, resource_path="/items/{id}", resource_id="r",
        path_parameters={"id": "7"}, stage="prod", stage_variables=None, api_id="api",
        account_id=ACCOUNT_ID, region="us-east-1", request_id="id", extended_request_id="e",
        epoch_ms=1_700_000_000_000, source_ip="127.0.0.1", deployment_id="d")


def _apigwv2():
    return apigwv2.http_event(
        method="POST", raw_path="/items", raw_query="", headers=[("content-type", "text/plain"),
                                                                ("cookie", "a=1")],
        body=b"hi", route_key="POST /items", path_parameters=None, stage="$default",
        stage_variables=None, api_id="api", account_id=ACCOUNT_ID, region="us-east-1",
        request_id="id", epoch_ms=1_700_000_000_000, source_ip="127.0.0.1")


def _sns():
    note = sns.Notification(
        message_id="95df01b4-ee98-5cb9-9903-4c221d41eb5e", message="Hello from SNS!",
        topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:orders", when=1_700_000_000.5,
        subject="Test", attributes={"n": {"DataType": "Number", "StringValue": "1"},
                                    "b": {"DataType": "Binary", "BinaryValue": b"\x00"}},
        signature="c2ln", signing_cert_url="https://sns.us-east-1.amazonaws.com/"
                                           "SimpleNotificationService-0123.pem")
    return sns.lambda_event(note, f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:orders:"
                                  "21be56ed-a058-49f5-8c98-aedd2564c486")


def _event_bridge():
    entry = {"Source": "shop.orders", "DetailType": "Order Placed",
             "Detail": '{"order_id": 7}', "Resources": []}
    return event_bridge.build_event(entry, "fe8d3c65-c5c3-2c87-81584709a377", ACCOUNT_ID,
                                    "us-east-1", 1_700_000_000)


def _dynamodb():
    stream = f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/t/stream/2024-01-01T00:00:00.000"
    record = {"eventID": "e1", "eventName": "MODIFY", "eventVersion": "1.0",
              "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
              "dynamodb": {"ApproximateCreationDateTime": datetime(2024, 1, 1, tzinfo=timezone.utc),
                           "Keys": {"pk": {"S": "a"}}, "NewImage": {"pk": {"S": "a"},
                                                                   "b": {"B": b"\x00"}},
                           "OldImage": {"pk": {"S": "a"}}, "SequenceNumber": "100",
                           "SizeBytes": 20, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    return {"Records": [dynamodb.dynamodb_record(record, stream, "us-east-1")]}


def _kinesis():
    record = {"Data": b"hello", "PartitionKey": "k", "SequenceNumber": "4900000001",
              "ApproximateArrivalTimestamp": datetime(2024, 1, 1, tzinfo=timezone.utc)}
    return {"Records": [kinesis.kinesis_record(
        record, "shardId-000000000000", f"arn:aws:kinesis:us-east-1:{ACCOUNT_ID}:stream/s",
        "us-east-1", f"arn:aws:iam::{ACCOUNT_ID}:role/r")]}


def _kinesis_firehose():
    stream = f"arn:aws:kinesis:us-east-1:{ACCOUNT_ID}:stream/clicks"
    direct = kinesis_firehose.record(kinesis_firehose.new_record_id(), b'{"page": "home"}',
                                     1_700_000_000_000)
    from_stream = kinesis_firehose.record(
        kinesis_firehose.new_record_id(), b"\x00binary", 1_700_000_000_001,
        kinesis_firehose.kinesis_metadata("shardId-000000000000", "ana", 1_700_000_000_001,
                                          "49000000000000000000000000000000000000000000000001"))
    assert len(direct["recordId"]) == 56 and direct["recordId"] != from_stream["recordId"]
    return kinesis_firehose.transformation_event(
        "2b4d1ad9-2f48-94bd-a088-767c317e994a",
        f"arn:aws:firehose:us-east-1:{ACCOUNT_ID}:deliverystream/clicks", "us-east-1",
        [direct, from_stream], source_stream_arn=stream)


def _ses():
    raw = (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.com>, carol@example.com\r\n"
           b"Subject: =?utf-8?q?Caf=C3=A9?=\r\nDate: Mon, 5 Aug 2019 21:29:57 +0000\r\n"
           b"Message-ID: <1@example.org>\r\n\r\nHello\r\n")
    mail = ses.mail_object(message_id=ses.new_message_id(), source="alice@example.org",
                           headers=ses.parse_headers(raw), received_at=1_700_000_000.0)
    receipt = ses.receipt_object(
        recipients=["bob@example.com"], received_at=1_700_000_000.0, triggered_at=1_700_000_000.2,
        verdicts=dict.fromkeys(ses.VERDICTS, "PASS"),
        action={"type": "Lambda", "invocationType": "Event",
                "functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:f"})
    event = ses.lambda_event(mail, receipt)
    common = event["Records"][0]["ses"]["mail"]["commonHeaders"]
    assert common["subject"] == "Café" and common["to"] == ["Bob <bob@example.com>",
                                                             "carol@example.com"]
    return event


def _alb():
    return alb.alb_event(
        method="POST", path="/orders", raw_query="tag=a%20b&tag=c",
        headers=[("Host", "h"), ("Content-Type", "image/png")], body=b"\x89PNG",
        target_group_arn=f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT_ID}:targetgroup/"
                         "tg/0123456789abcdef", multi_value=False)


def _lambda_function_url():
    return lambda_function_url.function_url_event(
        method="GET", raw_path="/hello", raw_query="name=Ada", headers=[("user-agent", "t")],
        body=b"", url_id="a" * 32, account_id=ACCOUNT_ID, region="us-east-1",
        request_id="8c7f0b2e-3a1d-4c55-9a0e-1f2d3c4b5a69", epoch_ms=1_700_000_000_000,
        source_ip="127.0.0.1", caller={"accessKey": "AKIAEXAMPLE", "accountId": ACCOUNT_ID,
                                       "callerId": "AIDAEXAMPLE", "userId": "AIDAEXAMPLE",
                                       "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/ada"})


def _cloudfront():
    return cloudfront.cloudfront_event(
        event_type="origin-request", distribution_id="EDFDVBD6EXAMPLE",
        domain_name="d111111abcdef8.cloudfront.net", request_id="4TyzHTaYWb1GX1qTfsHhEqV6HUDd",
        client_ip="203.0.113.178", method="GET", uri="/", querystring="",
        headers=cloudfront.header_map([("Host", "example.org"), ("User-Agent",
                                                                  "Amazon CloudFront")]),
        origin=cloudfront.custom_origin("example.org", "", 443, "https", 30, 5,
                                        ["TLSv1.2"]))


# CloudFront's documented sample events (there is no Powertools model to check against):
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html
DOCUMENTED_SAMPLES = {"cloudfront": {"Records": [{"cf": {
    "config": {"distributionDomainName": "d111111abcdef8.cloudfront.net",
               "distributionId": "EDFDVBD6EXAMPLE", "eventType": "origin-request",
               "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="},
    "request": {"clientIp": "203.0.113.178",
                "headers": {"x-forwarded-for": [{"key": "X-Forwarded-For",
                                                 "value": "203.0.113.178"}],
                            "host": [{"key": "Host", "value": "example.org"}]},
                "method": "GET",
                "origin": {"custom": {"customHeaders": {}, "domainName": "example.org",
                                      "keepaliveTimeout": 5, "path": "", "port": 443,
                                      "protocol": "https", "readTimeout": 30,
                                      "sslProtocols": ["TLSv1", "TLSv1.1", "TLSv1.2"]}},
                "querystring": "", "uri": "/"}}}]}}


def _same_shape(sample, event, where="event"):
    """Every field of the sample is in the event, with the same type (lists: their
    first items; header maps: any names)."""
    assert type(event) is type(sample), f"{where}: {type(event).__name__}"
    if isinstance(sample, dict):
        for name, value in sample.items():
            if where.endswith(("headers", "customHeaders")):
                for item in event.values():
                    _same_shape(value, item, f"{where}[*]")
                return
            assert name in event, f"{where}.{name} is missing"
            _same_shape(value, event[name], f"{where}.{name}")
    elif isinstance(sample, list) and sample and event:
        _same_shape(sample[0], event[0], f"{where}[0]")


EXAMPLES = {"s3": _s3, "cloudfront": _cloudfront, "sqs": _sqs, "apigw": _apigw,
            "apigwv2": _apigwv2, "sns": _sns,
            "event_bridge": _event_bridge, "dynamodb": _dynamodb, "kinesis": _kinesis,
            "kinesis_firehose": _kinesis_firehose, "ses": _ses, "alb": _alb,
            "lambda_function_url": _lambda_function_url}
MODULES = sorted(info.name for info in pkgutil.iter_modules(events_package.__path__))


def test_every_event_module_has_an_example_here():
    assert MODULES, "no modules found in helpers/events"
    assert MODULES == sorted(EXAMPLES), "add an example for each module of helpers/events"


@pytest.mark.parametrize("name", MODULES)
def test_the_event_passes_its_powertools_model(name):
    module = importlib.import_module(f"helpers.events.{name}")
    if module.POWERTOOLS_MODEL is None:  # no model: the documented sample's shape instead
        assert name in DOCUMENTED_SAMPLES, f"{name} has no model: add its documented sample"
        _same_shape(DOCUMENTED_SAMPLES[name], EXAMPLES[name]())
        return
    model = getattr(models, module.POWERTOOLS_MODEL)
    parsed = model.model_validate(EXAMPLES[name]())
    assert parsed is not None
