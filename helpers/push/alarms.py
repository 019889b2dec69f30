"""CloudWatch alarms: evaluated in the lab, and their actions run.

moto keeps alarms but never evaluates them. The lab evaluates every alarm on one metric
(``Namespace``, ``MetricName``, ``Dimensions``, ``Statistic``) as CloudWatch describes
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html):
the last ``EvaluationPeriods`` periods of ``Period`` seconds are compared with
``Threshold``; when ``DatapointsToAlarm`` of them (all, by default) breach, the alarm is
``ALARM``, otherwise ``OK``; ``TreatMissingData`` says what a period without data counts
as (``missing``, the default: nothing, and with no data at all the alarm is
``INSUFFICIENT_DATA``; ``notBreaching``; ``breaching``; ``ignore``: the state stays). A
new alarm starts ``INSUFFICIENT_DATA``.

When the state changes, the actions of the new state run: an SNS topic gets CloudWatch's
notification (subject ``ALARM: "name" in US East (N. Virginia)``), a function an
asynchronous invoke with the alarm event, if its resource-based policy allows
``lambda.alarms.cloudwatch.amazonaws.com``
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html).
Other actions (EC2, Auto Scaling, Systems Manager) are recorded as not run.

The lab evaluates every ``EVERY_S`` seconds and before it answers DescribeAlarms, and it
counts the period in progress; CloudWatch evaluates once a minute, and Lambda's metrics
reach it about a minute late. Alarms on metric math, percentiles or anomaly bands, and
composite alarms, are kept but not evaluated: they stay ``INSUFFICIENT_DATA`` and their
reason says so. Introduced in notebook 15.

``DescribeAlarmHistory`` lists each alarm's changes of configuration and state (its newest
100). Trace records: ``alarm.state`` (alarm, state, previous, reason) and ``alarm.action``
(alarm, state, target, outcome "sent" / "queued" / "not delivered", reason).
"""

from __future__ import annotations

import json
import operator
import threading
import time
from collections import deque
from datetime import datetime, timezone

from ..cloud.cloudwatch import backend, period_values
from ..server import Response
from .base import PushSource
from .permissions import refusal

EVERY_S = 5.0
PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"
COMPARISONS = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
                "us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)"}
INITIAL_REASON = "Unchecked: Initial alarm creation"
HISTORY_ITEMS = 100  # kept per alarm

__all__ = ["AlarmEvaluator", "evaluate"]


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] \
        + "+0000"


def _short(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def not_evaluated(alarm) -> str | None:
    """Why the lab does not evaluate ``alarm`` (a moto Alarm), or None."""
    if getattr(alarm, "rule", None):
        return "a composite alarm"
    if alarm.metric_data_queries:
        return "an alarm on metric math or several metrics"
    if alarm.extended_statistic:
        return "an alarm on a percentile"
    if alarm.comparison_operator not in COMPARISONS:
        return f"an alarm with {alarm.comparison_operator}"
    return None


def evaluate(alarm, values: dict, now: float) -> tuple[str, str, dict] | None:
    """(state, reason, reason data) for ``alarm`` given ``{period start: value}``; None
    when the state stays as it is."""
    period = int(alarm.period)
    count = int(alarm.evaluation_periods)
    needed = int(alarm.datapoints_to_alarm or count)
    newest = int(now // period) * period
    starts = [newest - k * period for k in range(count)]  # newest first
    threshold = float(alarm.threshold)
    compare, words = COMPARISONS[alarm.comparison_operator]
    missing = alarm.treat_missing_data or "missing"
    present = [(start, values[start]) for start in starts if start in values]
    data = {"version": "1.0", "queryDate": _stamp(now), "startDate": _stamp(starts[-1]),
            "statistic": alarm.statistic, "period": period,
            "recentDatapoints": [value for _, value in present], "threshold": threshold}
    if not present:
        if missing == "ignore":
            return None
        if missing == "missing":
            return ("INSUFFICIENT_DATA",
                    f"Insufficient Data: {count} datapoint{'s were' if count > 1 else ' was'} "
                    "unknown.", data)
    breaching = [(start, value) for start, value in present if compare(value, threshold)]
    gaps = count - len(present)
    bad = len(breaching) + (gaps if missing == "breaching" else 0)
    state = "ALARM" if bad >= needed else "OK"
    shown = breaching if state == "ALARM" else present
    listed = ", ".join(f"{value} ({_short(start)})" for start, value in shown)
    if shown:
        reason = (f"Threshold Crossed: {len(shown)} out of the last {count} datapoint"
                  f"{'s' if count > 1 else ''} [{listed}] {'were' if len(shown) > 1 else 'was'}"
                  f"{'' if state == 'ALARM' else ' not'} {words} the threshold ({threshold})")
    else:
        reason = f"Threshold Crossed: no datapoints were received for {count} period" + \
            ("s" if count > 1 else "")
    if gaps and missing in ("breaching", "notBreaching"):
        treated = "Breaching" if missing == "breaching" else "NonBreaching"
        reason += (f"{',' if shown else ' and'} {gaps} missing datapoint"
                   f"{'s were' if gaps > 1 else ' was'} treated as [{treated}]")
    reason += f" (minimum {needed} datapoint{'s' if needed > 1 else ''} for ALARM)."
    return state, reason, data


class AlarmEvaluator(PushSource):
    """Evaluates the lab's alarms; ``flush()`` first writes metrics still gathered."""

    name = "cloudwatch"
    record = "alarm.action"

    def __init__(self, service, functions, sender, flush, region: str, account_id: str):
        super().__init__(service, functions, sender)
        self.flush = flush
        self.region, self.account_id = region, account_id
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._history: dict[str, deque] = {}  # alarm name -> its newest history items

    def register(self, front):
        front.before("cloudwatch", "PutMetricAlarm", self._before_put)
        front.after("cloudwatch", "PutMetricAlarm", self._after_put)
        front.before("cloudwatch", "DescribeAlarms", lambda request: self.evaluate_all())
        front.answer("cloudwatch", "DescribeAlarmHistory", self._describe_history)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _before_put(self, request) -> None:
        request.alarm_states = {  # an update leaves the state as it was, in CloudWatch
            name: (alarm.state_value, alarm.state_reason, alarm.state_reason_data)
            for name, alarm in backend(self.region, self.account_id).alarms.items()}

    def _after_put(self, request, response) -> None:
        before = getattr(request, "alarm_states", {})
        with self._lock:
            for name, alarm in backend(self.region, self.account_id).alarms.items():
                if alarm.state_reason != INITIAL_REASON or alarm.history:
                    continue  # not the alarm this request made
                if name in before:
                    alarm.state_value, alarm.state_reason, alarm.state_reason_data = before[name]
                else:
                    alarm.state_value = "INSUFFICIENT_DATA"  # CloudWatch's first state
                self._remember(name, "ConfigurationUpdate",
                               f'Alarm "{name}" {"updated" if name in before else "created"}',
                               {"version": "1.0", "type": "Update" if name in before
                                else "Create"})
                why = not_evaluated(alarm)
                if why:
                    alarm.state_reason = f"The lab does not evaluate {why}."
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="lab-cloudwatch-alarms")
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(EVERY_S):
            try:
                self.evaluate_all()
            except Exception as error:  # recorded; the next round tries again
                self.trace.record("alarm.state", outcome="error", reason=repr(error))

    def evaluate_all(self) -> None:
        """Evaluate every alarm now; run the actions of those whose state changed."""
        self.flush()
        with self._lock:
            store = backend(self.region, self.account_id)
            now = time.time()
            changes = []
            for alarm in list(store.alarms.values()):
                if not_evaluated(alarm):
                    continue
                period = int(alarm.period)
                start = (int(now // period) - int(alarm.evaluation_periods) + 1) * period
                values = period_values(
                    store, alarm.namespace, alarm.metric_name,
                    [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
                    alarm.statistic, period, start, now + period, alarm.unit)
                result = evaluate(alarm, values, now)
                if result is None or result[0] == alarm.state_value:
                    continue
                state, reason, data = result
                previous = (alarm.state_value, alarm.state_reason, alarm.state_reason_data)
                store.set_alarm_state(alarm.name, reason, json.dumps(data), state)
                self.trace.record("alarm.state", alarm=alarm.name, state=state,
                                  previous=previous[0], reason=reason)
                self._remember(alarm.name, "StateUpdate",
                               f"Alarm updated from {previous[0]} to {state}", {
                                   "version": "1.0",
                                   "oldState": {"stateValue": previous[0],
                                                "stateReason": previous[1]},
                                   "newState": {"stateValue": state, "stateReason": reason,
                                                "stateReasonData": data}})
                changes.append((alarm, previous))
        for alarm, previous in changes:
            self._act(alarm, previous)

    # -- history ----------------------------------------------------------------------------

    def _remember(self, name: str, kind: str, summary: str, data: dict) -> None:
        self._history.setdefault(name, deque(maxlen=HISTORY_ITEMS)).append({
            "AlarmName": name, "AlarmType": "MetricAlarm", "Timestamp": time.time(),
            "HistoryItemType": kind, "HistorySummary": summary,
            "HistoryData": json.dumps(data)})

    def _describe_history(self, request) -> Response:
        """DescribeAlarmHistory (moto has none), newest first as CloudWatch answers."""
        body = json.loads(request.body or b"{}")
        names = set(body.get("AlarmNames") or ([body["AlarmName"]] if body.get("AlarmName")
                                               else []))
        with self._lock:
            items = [item for name, kept in self._history.items()
                     if not names or name in names for item in kept]
        kind = body.get("HistoryItemType")
        start, end = body.get("StartDate", 0), body.get("EndDate", float("inf"))
        items = [item for item in items if (not kind or item["HistoryItemType"] == kind)
                 and start <= item["Timestamp"] <= end]
        items.sort(key=lambda item: item["Timestamp"],
                   reverse=body.get("ScanBy", "TimestampDescending") == "TimestampDescending")
        document = {"AlarmHistoryItems": items[:int(body.get("MaxRecords") or 100)]}
        return Response(200, [("Content-Type", "application/x-amz-json-1.0"),
                              ("x-amzn-RequestId", request.request_id)],
                        json.dumps(document).encode())

    # -- actions ----------------------------------------------------------------------------

    def _act(self, alarm, previous) -> None:
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                   "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[alarm.state_value]
        if not actions or str(alarm.actions_enabled).lower() == "false":
            return
        for target in actions:
            details = {"alarm": alarm.name, "state": alarm.state_value, "target": target}
            service = target.split(":")[2] if target.count(":") >= 5 else ""
            if service == "sns":
                self.send(target, json.dumps(self._notification(alarm, previous)),
                          subject=self._subject(alarm), **details)
            elif service == "lambda":
                why_not = refusal(self.functions, target, PRINCIPAL, alarm.alarm_arn,
                                  self.account_id)
                if why_not:
                    self.trace.record(self.record, outcome="not delivered",
                                      reason=f"{why_not[0]}: {why_not[1]}", **details)
                    continue
                self.invoke_async(target, self._lambda_event(alarm, previous),
                                  self.account_id, self.region, **details)
            else:
                self.trace.record(self.record, outcome="not delivered",
                                  reason="the lab runs SNS and Lambda alarm actions only",
                                  **details)

    def _subject(self, alarm) -> str:
        region = REGION_NAMES.get(self.region, self.region)
        return f'{alarm.state_value}: "{alarm.name}" in {region}'[:100]

    def _notification(self, alarm, previous) -> dict:
        """The message an SNS topic gets when an alarm changes state."""
        return {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": self.account_id,
            "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp
            .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "NewStateValue": alarm.state_value,
            "NewStateReason": alarm.state_reason,
            "StateChangeTime": _stamp(time.time()),
            "Region": REGION_NAMES.get(self.region, self.region),
            "AlarmArn": alarm.alarm_arn,
            "OldStateValue": previous[0],
            "OKActions": list(alarm.ok_actions),
            "AlarmActions": list(alarm.alarm_actions),
            "InsufficientDataActions": list(alarm.insufficient_data_actions),
            "Trigger": {
                "MetricName": alarm.metric_name, "Namespace": alarm.namespace,
                "StatisticType": "Statistic", "Statistic": alarm.statistic.upper(),
                "Unit": alarm.unit,
                "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
                "Period": int(alarm.period), "EvaluationPeriods": int(alarm.evaluation_periods),
                "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
                "ComparisonOperator": alarm.comparison_operator,
                "Threshold": float(alarm.threshold),
                "TreatMissingData": alarm.treat_missing_data or "missing",
                "EvaluateLowSampleCountPercentile": "",
            },
        }

    def _lambda_event(self, alarm, previous) -> dict:
        """The event a function gets when it is an alarm's action."""
        now = _stamp(time.time())
        return {
            "source": "aws.cloudwatch",
            "alarmArn": alarm.alarm_arn,
            "accountId": self.account_id,
            "time": now,
            "region": self.region,
            "alarmData": {
                "alarmName": alarm.name,
                "state": {"value": alarm.state_value, "reason": alarm.state_reason,
                          "reasonData": alarm.state_reason_data, "timestamp": now},
                "previousState": {"value": previous[0], "reason": previous[1],
                                  "reasonData": previous[2]},
                "configuration": {
                    "description": alarm.description,
                    "metrics": [{
                        "id": alarm.name,
                        "metricStat": {
                            "metric": {"namespace": alarm.namespace, "name": alarm.metric_name,
                                       "dimensions": {d.name: d.value
                                                      for d in alarm.dimensions}},
                            "period": int(alarm.period), "stat": alarm.statistic},
                        "returnData": True}],
                },
            },
        }
