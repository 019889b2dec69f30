"""CloudWatch alarms on Lambda's metrics, evaluated in the lab (helpers/push/alarms.py): the
evaluation rules on their own, then alarms made and read with plain boto3, their SNS and
Lambda actions, updates, history, and the alarms the lab does not evaluate."""

from __future__ import annotations

import json
import time
import uuid
from types import SimpleNamespace

import boto3
import pytest
from async_support import drain, make_topic_to_queue, wait_for
from conftest import invoke

from helpers.push.alarms import evaluate

NOW = 1_800_000_030.0  # 30 s into a minute
MINUTE = 1_800_000_000


def alarm(**overrides):
    settings = dict(period=60, evaluation_periods=1, datapoints_to_alarm=None, threshold=0.0,
                    comparison_operator="GreaterThanThreshold", treat_missing_data=None,
                    statistic="Sum")
    return SimpleNamespace(**{**settings, **overrides})


@pytest.mark.parametrize("settings, values, state", [
    ({}, {MINUTE: 1.0}, "ALARM"),
    ({}, {MINUTE: 0.0}, "OK"),  # equal to the threshold is not greater than it
    ({"comparison_operator": "GreaterThanOrEqualToThreshold"}, {MINUTE: 0.0}, "ALARM"),
    ({"comparison_operator": "LessThanThreshold", "threshold": 5}, {MINUTE: 4.0}, "ALARM"),
    ({"comparison_operator": "LessThanOrEqualToThreshold", "threshold": 5}, {MINUTE: 6.0},
     "OK"),
    ({}, {MINUTE - 60: 9.0}, "INSUFFICIENT_DATA"),  # only the last period counts
    ({}, {}, "INSUFFICIENT_DATA"),  # missing data, the default
    ({"treat_missing_data": "notBreaching"}, {}, "OK"),
    ({"treat_missing_data": "breaching"}, {}, "ALARM"),
    ({"evaluation_periods": 3}, {MINUTE: 1.0, MINUTE - 60: 1.0}, "OK"),  # 2 of 3 is not all
    ({"evaluation_periods": 3, "datapoints_to_alarm": 2}, {MINUTE: 1.0, MINUTE - 60: 1.0},
     "ALARM"),
    ({"evaluation_periods": 3, "datapoints_to_alarm": 2}, {MINUTE: 1.0, MINUTE - 180: 1.0},
     "OK"),  # the second breach is outside the last three periods
    ({"evaluation_periods": 3, "datapoints_to_alarm": 2, "treat_missing_data": "breaching"},
     {MINUTE: 1.0}, "ALARM"),
])
def test_evaluation_rules(settings, values, state):
    assert evaluate(alarm(**settings), values, NOW)[0] == state


def test_missing_data_ignored_keeps_the_state():
    assert evaluate(alarm(treat_missing_data="ignore"), {}, NOW) is None
    assert evaluate(alarm(treat_missing_data="ignore"), {MINUTE: 2.0}, NOW)[0] == "ALARM"


def test_the_reason_names_the_datapoints_and_the_threshold():
    state, reason, data = evaluate(alarm(evaluation_periods=2), {MINUTE: 3.0, MINUTE - 60: 2.0},
                                   NOW)
    assert state == "ALARM"
    assert reason.startswith("Threshold Crossed: 2 out of the last 2 datapoints [3.0 (")
    assert "were greater than the threshold (0.0)" in reason
    assert data["recentDatapoints"] == [3.0, 2.0] and data["period"] == 60


# -- alarms in the lab ----------------------------------------------------------------------


@pytest.fixture
def cloudwatch(lab):
    return boto3.client("cloudwatch")


def error_alarm(cloudwatch, function, **options):
    name = f"errors-{uuid.uuid4().hex[:8]}"
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}], Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold", **options)
    return name


def state_of(cloudwatch, name):
    found = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return found["StateValue"], found["StateReason"]


FAILS = """
def lambda_handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return "ok"
"""


def test_an_errors_alarm_fires_and_notifies_its_topic(lab, deploy, lambda_client, cloudwatch):
    function = deploy(FAILS)
    topic, mailbox = make_topic_to_queue("alarm")
    name = error_alarm(cloudwatch, function, AlarmActions=[topic],
                       TreatMissingData="notBreaching", AlarmDescription="errors in checkout")
    state, reason = state_of(cloudwatch, name)
    assert state == "OK" and "treated as [NonBreaching]" in reason
    invoke(lambda_client, function, {})
    assert state_of(cloudwatch, name)[0] == "OK"  # a success is Errors = 0
    invoke(lambda_client, function, {"fail": True})
    state, reason = state_of(cloudwatch, name)
    assert state == "ALARM" and "was greater than the threshold (0.0)" in reason
    [message] = drain(mailbox, expect=1)
    note = json.loads(message["Body"])
    assert note["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    sent = json.loads(note["Message"])
    assert (sent["AlarmName"], sent["NewStateValue"], sent["OldStateValue"]) == (
        name, "ALARM", "OK")
    assert sent["AlarmDescription"] == "errors in checkout"
    assert sent["Trigger"]["Statistic"] == "SUM"
    assert sent["Trigger"]["Dimensions"] == [{"value": function, "name": "FunctionName"}]
    history = cloudwatch.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert [item["HistorySummary"] for item in history] == [
        "Alarm updated from OK to ALARM", "Alarm updated from INSUFFICIENT_DATA to OK",
        f'Alarm "{name}" created']
    assert json.loads(history[0]["HistoryData"])["newState"]["stateValue"] == "ALARM"
    only_states = cloudwatch.describe_alarm_history(AlarmName=name,
                                                    HistoryItemType="StateUpdate")
    assert len(only_states["AlarmHistoryItems"]) == 2


def test_a_new_alarm_starts_with_insufficient_data(deploy, cloudwatch):
    name = error_alarm(cloudwatch, deploy(FAILS))
    assert state_of(cloudwatch, name)[0] == "INSUFFICIENT_DATA"


def test_updating_an_alarm_keeps_its_state_until_it_is_evaluated(deploy, lambda_client,
                                                                 cloudwatch):
    function = deploy(FAILS)
    name = error_alarm(cloudwatch, function)
    invoke(lambda_client, function, {"fail": True})
    assert state_of(cloudwatch, name)[0] == "ALARM"
    backend = __import__("helpers.cloud.cloudwatch", fromlist=["backend"]).backend()
    cloudwatch.put_metric_alarm(  # a threshold no datapoint crosses
        AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}], Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
    assert backend.alarms[name].state_value == "ALARM"  # as it was, before evaluation
    assert state_of(cloudwatch, name)[0] == "OK"


def test_a_function_as_the_alarm_action_needs_cloudwatch_s_permission(
        lab, deploy, lambda_client, cloudwatch):
    failing = deploy(FAILS)
    responder = deploy("""
import json

def lambda_handler(event, context):
    print("ALARM EVENT " + json.dumps(event))
""")
    arn = lambda_client.get_function(FunctionName=responder)["Configuration"]["FunctionArn"]
    refused = error_alarm(cloudwatch, failing, AlarmActions=[arn])
    invoke(lambda_client, failing, {"fail": True})
    assert state_of(cloudwatch, refused)[0] == "ALARM"
    [action] = wait_for(lambda: lab.trace.events("alarm.action", alarm=refused))
    assert action["outcome"] == "not delivered" and "AccessDeniedException" in action["reason"]

    allowed = error_alarm(cloudwatch, failing, AlarmActions=[arn])
    lambda_client.add_permission(
        FunctionName=responder, StatementId="alarm", Action="lambda:InvokeFunction",
        Principal="lambda.alarms.cloudwatch.amazonaws.com",
        SourceArn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{allowed}")
    assert state_of(cloudwatch, allowed)[0] == "ALARM"
    [action] = wait_for(lambda: lab.trace.events("alarm.action", alarm=allowed))
    assert action["outcome"] == "queued"
    assert lab.wait_for_events(10)
    logs = boto3.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{responder}",
                                                  filterPattern="ALARM EVENT")["events"]
    [event] = [json.loads(e["message"].split("ALARM EVENT ", 1)[1]) for e in logs]
    assert event["source"] == "aws.cloudwatch"
    assert event["alarmData"]["alarmName"] == allowed
    assert event["alarmData"]["state"]["value"] == "ALARM"
    assert event["alarmData"]["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert event["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"] == {
        "namespace": "AWS/Lambda", "name": "Errors", "dimensions": {"FunctionName": failing}}


def test_alarms_the_lab_does_not_evaluate_say_so(deploy, lambda_client, cloudwatch):
    function = deploy(FAILS)
    name = f"p99-{uuid.uuid4().hex[:8]}"
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/Lambda", MetricName="Duration",
        Dimensions=[{"Name": "FunctionName", "Value": function}], ExtendedStatistic="p99",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    invoke(lambda_client, function, {})
    state, reason = state_of(cloudwatch, name)
    assert (state, reason) == ("INSUFFICIENT_DATA",
                               "The lab does not evaluate an alarm on a percentile.")


def test_alarms_are_evaluated_without_anyone_reading_them(lab, deploy, lambda_client,
                                                         cloudwatch):
    function = deploy(FAILS)
    topic, mailbox = make_topic_to_queue("background")
    name = error_alarm(cloudwatch, function, AlarmActions=[topic])
    invoke(lambda_client, function, {"fail": True})
    started = time.monotonic()
    assert wait_for(lambda: lab.trace.events("alarm.state", alarm=name, state="ALARM"),
                    timeout=15)
    assert drain(mailbox, expect=1, timeout=5)
    assert time.monotonic() - started < 15
