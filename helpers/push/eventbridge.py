"""EventBridge: an event put on a bus goes to the targets of every rule it matches.

The lab answers ``PutEvents`` itself at its front (moto keeps buses, rules and targets):
each entry is checked as EventBridge checks it (an entry that fails gets its own error
in the answer, the others go on), gets an event id, and becomes the event of
``helpers.events.event_bridge``. The answer comes at once; then every enabled rule of
the bus whose ``EventPattern`` the event matches (``helpers.patterns.rules``) sends it,
transformed by each target's ``Input``, ``InputPath`` or ``InputTransformer``, to its
targets: a function through Lambda's asynchronous queue (Lambda's retries and
destinations apply, notebook 02), a queue, a topic or another bus as a message. An event
no rule matches goes nowhere. Rules with a ``ScheduleExpression`` fire on their
schedule (``helpers.push.schedules``), in real time.

``PutRule`` patterns and ``PutTargets`` input settings are checked first. EventBridge
may invoke a function only if its resource-based policy allows ``events.amazonaws.com``
for the rule's ARN; without it (or when the target does not exist) EventBridge does not
retry: the event goes to the target's dead-letter queue, if it has one, with the
attributes RULE_ARN, TARGET_ARN, ERROR_CODE and ERROR_MESSAGE, or is dropped.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
Introduced in notebook 12.

Trace records:

- ``events.put``: an entry was accepted: event_id, bus, source, detail_type,
  put_request_id, event
- ``events.rule``: a rule of the bus looked at it: event_id, rule, rule_arn, matched,
  reason (why not)
- ``events.schedule``: a scheduled rule fired: rule_arn, event_id, expression
- ``events.delivery``: one target: event_id, rule_arn, target_id, target, outcome
  ("queued", "sent", "dead-lettered", "not delivered"), reason, retry_policy; for
  functions also request_id (the asynchronous event's) and the event sent
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone

from ..aws import parse_arn
from ..cloud.events_state import bus_name
from ..errors import AwsError
from ..events import event_bridge as events
from ..patterns.rules import EVENTBRIDGE, PatternError, check_pattern, explain
from ..send import DeliveryError
from .base import PushSource
from .permissions import refusal
from .schedules import Schedule, ScheduleError

PRINCIPAL = "events.amazonaws.com"
MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
DEFAULT_RETRY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
ERROR_CODES = {"AccessDeniedException": "NO_PERMISSIONS",
               "ResourceNotFoundException": "NO_RESOURCE"}

__all__ = ["EventBridgeRouting"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _validation(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


class EventBridgeRouting(PushSource):
    name = "events"
    record = "events.delivery"

    def __init__(self, service, functions, sender, state):
        super().__init__(service, functions, sender)
        self.state = state  # helpers.cloud.events_state.EventsState
        self._schedules: dict[tuple, tuple] = {}  # (rule ARN, expression) -> (next, Schedule)
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    def register(self, front):
        front.before("events", "PutRule", self._check_rule)
        front.after("events", "PutRule", self._rule_saved)
        front.before("events", "PutTargets", self._check_targets)
        front.answer("events", "PutEvents", self._put_events)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- checks ----------------------------------------------------------------------------

    @staticmethod
    def _check_rule(request) -> None:
        body = json.loads(request.body or b"{}")
        if body.get("EventPattern"):
            try:
                check_pattern(json.loads(body["EventPattern"]), EVENTBRIDGE)
            except (ValueError, PatternError) as error:
                reason = str(error) if isinstance(error, PatternError) else "invalid JSON"
                raise AwsError(400, "InvalidEventPatternException",
                               f"Event pattern is not valid. Reason: {reason}") from None
        if body.get("ScheduleExpression"):
            try:
                Schedule(body["ScheduleExpression"])
            except (ScheduleError, ValueError) as error:
                raise _validation(f"Parameter ScheduleExpression is not valid: {error}") \
                    from None

    @staticmethod
    def _check_targets(request) -> None:
        for target in json.loads(request.body or b"{}").get("Targets") or []:
            given = [key for key in ("Input", "InputPath", "InputTransformer") if key in target]
            if len(given) > 1:
                raise _validation(f"Target {target.get('Id')}: use only one of Input, "
                                  "InputPath and InputTransformer")
            if "Input" in target:
                try:
                    json.loads(target["Input"])
                except ValueError:
                    raise _validation(f"Target {target.get('Id')}: Input is not valid "
                                      "JSON") from None
            retry = target.get("RetryPolicy") or {}
            if not 0 <= retry.get("MaximumRetryAttempts", 0) <= 185 or not \
                    60 <= retry.get("MaximumEventAgeInSeconds", 60) <= 86400:
                raise _validation(f"Target {target.get('Id')}: RetryPolicy allows 0-185 "
                                  "retry attempts and an event age of 60-86400 seconds")

    # -- PutEvents ---------------------------------------------------------------------------

    def _put_events(self, request):
        from ..server import Response

        entries = json.loads(request.body or b"{}").get("Entries") or []
        if len(entries) > MAX_ENTRIES:
            raise _validation(f"1 validation error detected: 'entries' must have at most "
                              f"{MAX_ENTRIES} members")
        if len(request.body) > MAX_REQUEST_BYTES:
            raise _validation("Total size of the entries in the request is over the limit "
                              "(256 KB).")
        results, accepted, now = [], [], time.time()
        for entry in entries:
            error = self._entry_error(entry, request)
            if error is not None:
                results.append({"ErrorCode": error[0], "ErrorMessage": error[1]})
                continue
            event_id = str(uuid.uuid4())
            results.append({"EventId": event_id})
            accepted.append((entry, events.build_event(entry, event_id, request.account_id,
                                                       request.region, now)))
        for entry, event in accepted:
            bus = bus_name(entry.get("EventBusName"))
            self.trace.record("events.put", event_id=event["id"], bus=bus,
                              source=event["source"], detail_type=event["detail-type"],
                              put_request_id=request.request_id, event=event)
            self._route(event, bus, request.account_id, request.region)
        body = {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r),
                "Entries": results}
        return Response(200, [("Content-Type", "application/x-amz-json-1.1"),
                              ("x-amzn-RequestId", request.request_id)],
                        json.dumps(body).encode())

    def _entry_error(self, entry: dict, request) -> tuple[str, str] | None:
        for name in ("Source", "DetailType", "Detail"):
            if not entry.get(name):
                return "InvalidArgument", f"Parameter {name} is not valid. Reason: {name} " \
                                          "is a required argument."
        try:
            detail = json.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return "MalformedDetail", "Detail is malformed."
        if not self.state.bus_exists(entry.get("EventBusName"), request.account_id,
                                     request.region):
            return "NotFoundException", f"Event bus {bus_name(entry.get('EventBusName'))} " \
                                        "does not exist."
        return None

    def _route(self, event: dict, bus: str, account: str, region: str) -> None:
        for rule in self.state.rules(bus, account, region):
            if not rule.enabled or not rule.pattern:
                continue
            reason = explain(json.loads(rule.pattern), event)
            self.trace.record("events.rule", event_id=event["id"], rule=rule.name,
                              rule_arn=rule.arn, matched=reason is None, reason=reason)
            if reason is None:
                self._to_targets(rule, event, account)

    # -- targets ---------------------------------------------------------------------------

    def _to_targets(self, rule, event: dict, account: str) -> None:
        ingestion = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        for target in rule.targets:
            details = {"event_id": event["id"], "rule_arn": rule.arn,
                       "target_id": target.get("Id"), "target": target["Arn"],
                       "retry_policy": {**DEFAULT_RETRY, **(target.get("RetryPolicy") or {})}}
            payload = events.target_input(target, event, rule.arn, ingestion)
            arn = parse_arn(target["Arn"])
            if arn is not None and arn.service == "lambda":
                self._to_function(rule, target, payload, account, details)
            else:
                self._to_resource(rule, target, payload, event, details)

    def _to_function(self, rule, target, payload: str, account: str, details: dict) -> None:
        refused = refusal(self.functions, target["Arn"], PRINCIPAL, rule.arn, account)
        if refused is not None:
            return self._undeliverable(target, payload, ERROR_CODES[refused[0]],
                                       f"{refused[0]}: {refused[1]}", details)
        try:
            event = json.loads(payload)
        except ValueError:
            return self._undeliverable(target, payload, "INVALID_JSON",
                                       "the target's input is not JSON", details)
        self.invoke_async(target["Arn"], event, account, target["Arn"].split(":")[3],
                          **details)

    def _to_resource(self, rule, target, payload: str, event: dict, details: dict) -> None:
        arn = parse_arn(target["Arn"])
        try:
            if arn is not None and arn.service == "sqs" and target.get("SqsParameters"):
                self.sender.clients.client("sqs").send_message(
                    QueueUrl=self.sender.queue_url(target["Arn"]), MessageBody=payload,
                    MessageGroupId=target["SqsParameters"].get("MessageGroupId", "default"),
                    MessageDeduplicationId=event["id"])
            elif arn is not None and arn.service == "events":
                self.sender.send(target["Arn"], json.dumps(event["detail"]),
                                 source=event["source"], detail_type=event["detail-type"],
                                 resources=event["resources"])
            else:
                self.sender.send(target["Arn"], payload)
        except Exception as error:  # DeliveryError, or SQS's own refusal
            code = "NO_RESOURCE" if "NonExistent" in str(error) or "not exist" in str(
                error) else "SDK_CLIENT_ERROR"
            return self._undeliverable(target, payload, code, str(error), details)
        self.trace.record(self.record, outcome="sent", **details)

    def _undeliverable(self, target, payload, code, reason, details) -> None:
        """A failure EventBridge does not retry: to the target's dead-letter queue, or
        dropped."""
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letter:
            attributes = {name: {"DataType": "String", "StringValue": value} for name, value in
                          (("RULE_ARN", details["rule_arn"]), ("TARGET_ARN", target["Arn"]),
                           ("ERROR_CODE", code), ("ERROR_MESSAGE", reason[:1024]))}
            try:
                self.sender.send(dead_letter, payload, attributes=attributes)
            except DeliveryError as error:
                reason += f"; the dead-letter queue {dead_letter} failed too: {error}"
            else:
                self.trace.record(self.record, outcome="dead-lettered", reason=reason,
                                  error_code=code, dead_letter=dead_letter, **details)
                return
        self.trace.record(self.record, outcome="not delivered", reason=reason,
                          error_code=code, **details)

    # -- schedules -------------------------------------------------------------------------

    def _rule_saved(self, request, response) -> None:
        if response.status < 300 and json.loads(request.body or b"{}").get(
                "ScheduleExpression"):
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run_schedules, daemon=True,
                                                    name="lab-eventbridge-schedules")
                    self._thread.start()
            self._account, self._region = request.account_id, request.region

    def _run_schedules(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self._fire_due()
            except Exception as error:  # the lab stopped under us, or a bug: say so
                self.trace.record("events.schedule", outcome="error", reason=repr(error))

    def _fire_due(self) -> None:
        now = _now()
        for rule in self.state.rules("default", self._account, self._region):
            if not rule.schedule or not rule.enabled:
                continue
            key = (rule.arn, rule.schedule)
            if key not in self._schedules:
                schedule = Schedule(rule.schedule)
                self._schedules[key] = (schedule.next_after(now, now), schedule, now)
            due, schedule, created = self._schedules[key]
            if due > now:
                continue
            self._schedules[key] = (schedule.next_after(now, created), schedule, created)
            event = events.scheduled_event(rule.arn, str(uuid.uuid4()), self._account,
                                           self._region, due.timestamp())
            self.trace.record("events.schedule", rule_arn=rule.arn, event_id=event["id"],
                              expression=rule.schedule, event=event)
            self._to_targets(rule, event, self._account)
