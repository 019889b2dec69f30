"""Every event builder in helpers/events builds what its Powertools parser model accepts.

Each module is named after the Powertools parser module of its source and says which
model its events pass (``POWERTOOLS_MODEL``); here each builds a representative event
and the model parses it. The integration tests check the events the lab really sends.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from aws_lambda_powertools.utilities.parser import models

import helpers.events as events_package
from helpers.aws import ACCOUNT_ID
from helpers.events import apigw, apigwv2, s3, ses, sqs


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


EXAMPLES = {"s3": _s3, "ses": _ses, "sqs": _sqs, "apigw": _apigw, "apigwv2": _apigwv2}
MODULES = sorted(info.name for info in pkgutil.iter_modules(events_package.__path__))


def test_every_event_module_has_an_example_here():
    assert MODULES, "no modules found in helpers/events"
    assert MODULES == sorted(EXAMPLES), "add an example for each module of helpers/events"


@pytest.mark.parametrize("name", MODULES)
def test_the_event_passes_its_powertools_model(name):
    module = importlib.import_module(f"helpers.events.{name}")
    model = getattr(models, module.POWERTOOLS_MODEL)
    parsed = model.model_validate(EXAMPLES[name]())
    assert parsed is not None
