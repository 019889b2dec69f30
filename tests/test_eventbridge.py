"""EventBridge through plain boto3 (event shapes §10): PutEvents answers at once with entry
ids and per-entry errors, each matching rule's targets are invoked asynchronously with
the event AWS sends (checked against Powertools' EventBridgeModel), patterns with the
documented operators, default and custom buses, target input, the permission
EventBridge needs and the target's dead-letter queue, retries by Lambda, schedules."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from async_support import drain, make_queue, wait_for
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from botocore.exceptions import ClientError

import helpers.push.eventbridge as routing
from helpers.events.event_bridge import target_input

ACCOUNT = "123456789012"
REGION = "us-east-1"

RECORDER = """
import json, os, time, boto3
sqs = boto3.client("sqs")

def lambda_handler(event, context):
    sqs.send_message(QueueUrl=os.environ["RECORD_TO"], MessageBody=json.dumps({
        "request_id": context.aws_request_id, "event": event}))
    time.sleep(float(os.environ.get("SLEEP", "0")))
    if os.environ.get("FAIL"):
        raise RuntimeError("cannot handle it")
"""


@pytest.fixture
def events(lab):
    return boto3.client("events")


@pytest.fixture
def recorder(lab, deploy, lambda_client):
    """A function that records its events: (arn, the queue its events land in, allow)."""

    def make(**environment):
        url, _ = make_queue("events")
        name = deploy(RECORDER, timeout=10, environment={"RECORD_TO": url, **environment})
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"

        def allow(rule_arn):
            lambda_client.add_permission(FunctionName=name, StatementId=uuid.uuid4().hex[:8],
                                         Action="lambda:InvokeFunction",
                                         Principal="events.amazonaws.com", SourceArn=rule_arn)

        return arn, url, allow

    return make


@pytest.fixture
def rule(events, recorder):
    """A rule with ``pattern`` whose one target is a recording function it may invoke."""

    def make(pattern, bus=None, target_options=None, allow=True, **environment):
        arn, url, allow_rule = recorder(**environment)
        name = f"r-{uuid.uuid4().hex[:8]}"
        options = {"EventBusName": bus} if bus else {}
        rule_arn = events.put_rule(Name=name, EventPattern=json.dumps(pattern), **options)[
            "RuleArn"]
        if allow:
            allow_rule(rule_arn)
        events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": arn,
                                                **(target_options or {})}], **options)
        return rule_arn, url

    return make


def received(url, expect, timeout=10.0):
    return [json.loads(m["Body"]) for m in drain(url, expect=expect, timeout=timeout)]


def entry(source="shop.orders", detail_type="Order Placed", bus=None, **detail):
    found = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
    if bus:
        found["EventBusName"] = bus
    return found


def test_put_events_answers_before_a_slow_function_and_the_event_is_eventbridgemodel(
        lab, events, rule):
    rule_arn, url = rule({"source": ["shop.orders"]}, SLEEP="1.5")
    when = datetime(2026, 3, 1, 12, 30, 5, tzinfo=timezone.utc)
    started = time.monotonic()
    answer = events.put_events(Entries=[{**entry(order_id=7), "Time": when,
                                         "Resources": ["arn:aws:s3:::shop"]}])
    assert time.monotonic() - started < 1.0, "PutEvents waited for the function"
    assert answer["FailedEntryCount"] == 0
    event_id = answer["Entries"][0]["EventId"]
    (got,) = received(url, 1)
    event = got["event"]
    EventBridgeModel.model_validate(event)
    assert event == {"version": "0", "id": event_id, "detail-type": "Order Placed",
                     "source": "shop.orders", "account": ACCOUNT,
                     "time": "2026-03-01T12:30:05Z", "region": REGION,
                     "resources": ["arn:aws:s3:::shop"], "detail": {"order_id": 7}}
    done = wait_for(lambda: lab.trace.events("event.completed", request_id=got["request_id"]),
                    10)
    assert done and done[0]["outcome"] == "succeeded"
    (delivery,) = lab.trace.events("events.delivery", event_id=event_id)
    assert (delivery["outcome"], delivery["rule_arn"]) == ("queued", rule_arn)


def test_the_time_is_iso_8601_without_a_time_parameter(events, rule):
    _, url = rule({"source": ["shop.orders"]})
    events.put_events(Entries=[entry()])
    stamp = received(url, 1)[0]["event"]["time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - moment).total_seconds()) < 60


def test_an_event_no_rule_matches_invokes_nothing(lab, events, rule):
    rule_arn, url = rule({"source": ["shop.orders"],
                          "detail": {"total": [{"numeric": [">", 100]}]}})
    answer = events.put_events(Entries=[entry(total=5), entry(source="shop.payments",
                                                              total=500)])
    lab.wait_for_events(10)
    assert drain(url, timeout=0.5) == []
    for item, why in zip(answer["Entries"], ("detail.total: 5 matches none of",
                                             "source: \"shop.payments\""), strict=True):
        looked = lab.trace.events("events.rule", event_id=item["EventId"], rule_arn=rule_arn)
        assert looked and not looked[0]["matched"] and why in looked[0]["reason"]
        assert not lab.trace.events("events.delivery", event_id=item["EventId"],
                                    rule_arn=rule_arn)


OPERATORS = [
    ({"detail": {"sku": [{"prefix": "BK-"}]}}, {"sku": "BK-7"}, {"sku": "PN-7"}),
    ({"detail": {"file": [{"suffix": {"equals-ignore-case": ".png"}}]}},
     {"file": "a.PNG"}, {"file": "a.jpg"}),
    ({"detail": {"state": [{"anything-but": ["test", "debug"]}]}},
     {"state": "live"}, {"state": "test"}),
    ({"detail": {"total": [{"numeric": [">=", 10, "<", 20]}]}}, {"total": 10}, {"total": 20}),
    ({"detail": {"coupon": [{"exists": False}]}}, {"total": 1}, {"coupon": "X"}),
    ({"detail": {"city": [{"equals-ignore-case": "paris"}]}}, {"city": "PARIS"},
     {"city": "Lyon"}),
    ({"detail": {"path": [{"wildcard": "orders/*/invoice.pdf"}]}},
     {"path": "orders/7/invoice.pdf"}, {"path": "orders/7/receipt.pdf"}),
    ({"$or": [{"detail": {"vip": [True]}}, {"detail": {"total": [{"numeric": [">", 1000]}]}}]},
     {"total": 5000}, {"vip": False, "total": 3}),
    ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, {"ip": "10.0.0.9"}, {"ip": "10.0.1.9"}),
]


@pytest.mark.parametrize("pattern, matching, other", OPERATORS,
                         ids=[json.dumps(p)[:40] for p, _, _ in OPERATORS])
def test_documented_operators_route_events(lab, events, rule, pattern, matching, other):
    _, url = rule(pattern)
    answer = events.put_events(Entries=[entry(**other), entry(**matching)])
    (got,) = received(url, 1)
    assert got["event"]["id"] == answer["Entries"][1]["EventId"]
    lab.wait_for_events(10)
    assert drain(url, timeout=0.2) == []


def test_rules_on_a_custom_bus_see_only_its_events(events, rule):
    bus = f"orders-{uuid.uuid4().hex[:8]}"
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    custom_rule, custom = rule({"source": ["shop.orders"]}, bus=bus)
    assert custom_rule.endswith(f":rule/{bus}/" + custom_rule.rsplit("/", 1)[-1])
    _, default = rule({"source": ["shop.orders"]})
    events.put_events(Entries=[entry(where="default"), entry(where="custom", bus=bus_arn)])
    assert [e["event"]["detail"]["where"] for e in received(custom, 1)] == ["custom"]
    assert [e["event"]["detail"]["where"] for e in received(default, 1)] == ["default"]


def test_per_entry_errors_and_request_limits(events):
    answer = events.put_events(Entries=[
        entry(), {"Source": "s", "DetailType": "d", "Detail": "not json"},
        {"Source": "s", "DetailType": "d", "Detail": "[1, 2]"},
        {"Source": "s", "Detail": "{}"}, entry(bus="no-such-bus")])
    assert answer["FailedEntryCount"] == 4
    codes = [item.get("ErrorCode") for item in answer["Entries"]]
    assert codes == [None, "MalformedDetail", "MalformedDetail", "InvalidArgument",
                     "NotFoundException"]
    assert "EventId" in answer["Entries"][0]
    with pytest.raises(ClientError) as caught:
        events.put_events(Entries=[entry()] * 11)
    assert caught.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize("pattern, reason", [
    ({"source": "shop"}, "must be an object or a non-empty array"),
    ({"detail": {"n": [{"numeric": ["<", 5, ">", 1]}]}}, "lower bound"),
    ({"detail": {"s": [{"wildcard": "a**"}]}}, "consecutive"),
])
def test_invalid_patterns_are_refused(events, pattern, reason):
    with pytest.raises(ClientError) as caught:
        events.put_rule(Name=f"bad-{uuid.uuid4().hex[:6]}", EventPattern=json.dumps(pattern))
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidEventPatternException" and reason in error["Message"]


def test_target_input_fixed_part_and_transformed(lab, events, rule):
    event_entry = entry(order={"id": 7, "items": ["book", "pen"]}, customer="Ana")
    _, fixed = rule({"source": ["shop.orders"]}, target_options={"Input": '{"fixed": true}'})
    _, part = rule({"source": ["shop.orders"]}, target_options={"InputPath": "$.detail.order"})
    rule_arn, shaped = rule({"source": ["shop.orders"]}, target_options={"InputTransformer": {
        "InputPathsMap": {"who": "$.detail.customer", "first": "$.detail.order.items[0]",
                          "order": "$.detail.order", "missing": "$.detail.nothing"},
        "InputTemplate": '{"text": "<who> bought <first>", "order": <order>, '
                         '"gone": <missing>, "rule": "<aws.events.rule-arn>"}'}})
    events.put_events(Entries=[event_entry])
    assert received(fixed, 1)[0]["event"] == {"fixed": True}
    assert received(part, 1)[0]["event"] == {"id": 7, "items": ["book", "pen"]}
    assert received(shaped, 1)[0]["event"] == {
        "text": "Ana bought book", "order": {"id": 7, "items": ["book", "pen"]},
        "gone": None, "rule": rule_arn}


def test_a_plain_text_template_and_refused_input_settings(events):
    event = {"detail": {"name": "Ana"}}
    transformer = {"InputTransformer": {"InputPathsMap": {"n": "$.detail.name"},
                                        "InputTemplate": "<n> ordered"}}
    assert target_input(transformer, event, "arn:rule/r", "t") == "Ana ordered"
    name = f"r-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["x"]}))
    for target, reason in (({"Input": "{not json"}, "not valid JSON"),
                           ({"Input": "{}", "InputPath": "$"}, "only one of"),
                           ({"RetryPolicy": {"MaximumRetryAttempts": 500}}, "RetryPolicy")):
        with pytest.raises(ClientError, match=reason):
            events.put_targets(Rule=name, Targets=[{
                "Id": "t", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", **target}])


def test_without_the_permission_the_event_goes_to_the_targets_dead_letter_queue(
        lab, events, rule):
    dlq_url, dlq_arn = make_queue("eb-dlq")
    rule_arn, url = rule({"source": ["shop.orders"]}, allow=False,
                         target_options={"DeadLetterConfig": {"Arn": dlq_arn},
                                         "RetryPolicy": {"MaximumRetryAttempts": 3}})
    event_id = events.put_events(Entries=[entry(order_id=9)])["Entries"][0]["EventId"]
    (message,) = drain(dlq_url, expect=1)
    assert json.loads(message["Body"])["id"] == event_id
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn and attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["TARGET_ARN"].startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:")
    (delivery,) = lab.trace.events("events.delivery", event_id=event_id, rule_arn=rule_arn)
    assert delivery["outcome"] == "dead-lettered"
    assert delivery["retry_policy"]["MaximumRetryAttempts"] == 3
    assert drain(url, timeout=0.3) == []
    lost_rule, _ = rule({"source": ["shop.refunds"]}, allow=False)
    lost_id = events.put_events(Entries=[entry(source="shop.refunds")])["Entries"][0]["EventId"]
    (dropped,) = lab.trace.events("events.delivery", event_id=lost_id, rule_arn=lost_rule)
    assert dropped["outcome"] == "not delivered" and "events.amazonaws.com" in dropped["reason"]


def test_a_failing_target_function_is_retried_by_lambda(lab, events, rule):
    lab.speedup = 600
    try:
        _, url = rule({"source": ["shop.orders"]}, FAIL="1")
        events.put_events(Entries=[entry()])
        attempts = received(url, 3, timeout=20)
        request_id = attempts[0]["request_id"]
        assert {a["request_id"] for a in attempts} == {request_id}
        done = wait_for(lambda: lab.trace.events("event.completed", request_id=request_id), 10)
        assert done and done[0]["attempts"] == 3
    finally:
        lab.wait_for_events(20)
        lab.speedup = 1


def test_queue_targets_and_disabled_rules(lab, events):
    url, arn = make_queue("eb-target")
    name = f"r-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["shop.orders"]}))
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    first = events.put_events(Entries=[entry()])["Entries"][0]["EventId"]
    (message,) = drain(url, expect=1)
    assert json.loads(message["Body"])["id"] == first
    events.disable_rule(Name=name)
    events.put_events(Entries=[entry()])
    assert drain(url, timeout=0.3) == []


def test_a_scheduled_rule_sends_a_scheduled_event(lab, events, recorder, monkeypatch):
    arn, url, allow = recorder()
    name = f"tick-{uuid.uuid4().hex[:6]}"
    rule_arn = events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    allow(rule_arn)
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": arn}])
    time.sleep(1)  # the schedule starts when the lab first sees the rule
    assert not drain(url), "fired before a minute had passed"
    later = datetime.now(timezone.utc) + timedelta(seconds=61)
    monkeypatch.setattr(routing, "_now", lambda: later)  # a minute later
    (got,) = received(url, 1)
    event = got["event"]
    EventBridgeModel.model_validate(event)
    assert (event["detail-type"], event["source"], event["resources"], event["detail"]) == (
        "Scheduled Event", "aws.events", [rule_arn], {})
    events.remove_targets(Rule=name, Ids=["fn"])
    with pytest.raises(ClientError, match="ScheduleExpression"):
        events.put_rule(Name=f"bad-{uuid.uuid4().hex[:6]}", ScheduleExpression="rate(0 minutes)")
