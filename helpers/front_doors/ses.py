"""Amazon SES email receiving: a real SMTP endpoint whose receipt rules invoke Lambda.

moto keeps the receipt rule sets, rules and identities; ``lab.smtp_address()`` gives the
address of an SMTP server on 127.0.0.1 that acts as SES's inbound endpoint
(``helpers.front_doors.ses_smtp``). As SES does
(https://docs.aws.amazon.com/ses/latest/dg/receiving-email-concepts.html):

- during the SMTP conversation, a recipient that no enabled rule of the active rule set
  covers (or none at all: no active rule set) is refused with a 5xx, and a message over
  40 MB is refused at DATA; an accepted message gets ``250 Ok <SES message id>``;
- after it, the message goes through the active rule set: the rules in order, each rule
  for the recipients it matches, its actions in order
  (``AddHeader``, ``S3``, ``SNS``, ``Lambda``, ``Bounce``, ``Stop``). A Lambda action
  with ``InvocationType`` ``Event`` (the default) goes through Lambda's asynchronous queue
  and the next action runs at once; ``RequestResponse`` waits up to 30 seconds for the
  function (a wait ``lab.speedup`` shortens, as AWS does not let you change it), whose
  ``{"disposition": "STOP_RULE" | "STOP_RULE_SET" | "CONTINUE"}`` decides what runs
  next (anything else continues)
  (https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda.html).

The verdicts are decided in ``helpers.front_doors.ses_rules``; the events are built in
``helpers.events.ses``; the receipt rule API is checked in
``helpers.front_doors.ses_control``. Introduced in notebook 09.

Trace records:

- ``ses.refused``: the SMTP endpoint refused a recipient or a message: stage
  ("CONNECT", "MAIL", "RCPT", "DATA"), reply, source, recipients, reason
- ``ses.received``: a message was accepted: message_id, source, recipients, subject,
  header_message_id (its Message-ID header), size, peer
- ``ses.rule``: a rule applies to the message: message_id, rule_set, rule, recipients
- ``ses.action``: one action ran: message_id, rule, position, action, outcome ("added",
  "stored", "sent", "queued", "invoked", "timed out", "bounced", "stopped",
  "not delivered", "not supported"), reason; a Lambda action also function, request_id,
  invocation_type, the event, and for RequestResponse disposition and function_error
- ``ses.processed``: the message's processing ended: message_id, outcome ("delivered",
  "no rule applied", "dropped"), rules, stopped_by, reason
- ``ses.abandoned``: a RequestResponse function finished after SES stopped waiting
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate

from ..aws import ACCOUNT_ID, function_name_parts
from ..cloud.ses_state import SesState
from ..errors import LambdaApiError
from ..events import ses as events
from ..push.base import PushSource
from ..send import DeliveryError
from .http import FrontDoor, TimedOut
from .ses_control import (
    ReceiptRuleChecks,
    bucket_may_be_written,
    function_may_be_invoked,
    rule_arn,
)
from .ses_rules import covered_by_identity, decide_verdicts, domain_of, rule_recipients

MAX_MESSAGE = 40 * 1024 * 1024  # SES's limit for a received message, headers included
REQUEST_RESPONSE_TIMEOUT_S = 30
SNS_CONTENT_LIMIT = 150 * 1024  # an SNS action carries messages up to 150 KB
MAX_PENDING = 100  # messages accepted and not yet through the rules
MAX_PENDING_BYTES = 4 * MAX_MESSAGE
WORKERS = 4
HOSTNAME = "inbound-smtp.us-east-1.amazonaws.com"
REFUSED = "550 5.1.1 Requested action not taken: mailbox unavailable"  # RFC 5321 4.2.2
BUSY = "451 4.3.1 Insufficient system resources, try again later"
DISPOSITIONS = ("STOP_RULE", "STOP_RULE_SET", "CONTINUE")
AUTH_WORDS = {"PASS": "pass", "FAIL": "fail", "GRAY": "none", "PROCESSING_FAILED": "temperror"}

__all__ = ["MAX_MESSAGE", "SesReceiving"]


@dataclass
class Message:
    message_id: str
    source: str
    recipients: list
    raw: bytes
    peer: tuple
    helo: str
    received_at: float = field(default_factory=time.time)
    added: list = field(default_factory=list)  # headers AddHeader actions added


class SesReceiving(PushSource):
    """SES's receiving side. ``register(front)`` checks the receipt rule API; ``start()``
    opens the SMTP endpoint and its workers (on first use), ``stop()`` closes them."""

    name = "ses"
    record = "ses.action"
    invoke_with_timeout = FrontDoor.invoke_with_timeout  # uses service, name, _executor

    def __init__(self, service, functions, sender, region: str, account_id: str = ACCOUNT_ID):
        super().__init__(service, functions, sender)
        self.state = SesState()
        self.region = region
        self.account_id = account_id
        self.smtp = None
        self._inbox: queue.Queue = queue.Queue()
        self._pending_bytes = 0
        self._pending: dict[str, Message] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._executor = None

    def register(self, front) -> SesReceiving:
        ReceiptRuleChecks(self.state, self.functions).register(front)
        return self

    # -- the endpoint ---------------------------------------------------------------------

    def start(self) -> SesReceiving:
        from .ses_smtp import SmtpServer  # aiosmtpd is imported when SES is first used

        self._executor = ThreadPoolExecutor(max_workers=WORKERS,
                                            thread_name_prefix="lab-ses-invoke")
        self._workers = [threading.Thread(target=self._work, daemon=True,
                                          name=f"lab-ses-rules-{n}") for n in range(WORKERS)]
        for worker in self._workers:
            worker.start()
        self.smtp = SmtpServer(self, hostname=HOSTNAME, ident="ESMTP (Lambda Invocation Lab)",
                               max_message=MAX_MESSAGE)
        return self

    @property
    def address(self) -> tuple[str, int]:
        return self.smtp.address

    def stop(self) -> None:
        self._stopping.set()
        if self.smtp is not None:
            self.smtp.stop()
        for _ in self._workers:
            self._inbox.put(None)
        deadline = time.monotonic() + 1  # a worker waiting for a function ends with the
        for worker in self._workers:     # Lambda service, which the lab stops next
            worker.join(timeout=max(deadline - time.monotonic(), 0))
        with self._lock:
            left = list(self._pending.values())
        for message in left:
            self._finish(message, "dropped", reason="the lab stopped before its rules ran")
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    # -- the SMTP conversation (called by helpers.front_doors.ses_smtp) ------------------

    def check_recipient(self, address: str, source: str | None) -> str | None:
        """None to take the recipient, or the reply that refuses it."""
        reason = self._why_not_covered(address)
        if reason is None:
            return None
        self.refused("RCPT", REFUSED, source, [address], reason)
        return REFUSED

    def _why_not_covered(self, address: str) -> str | None:
        rule_set = self.state.active_rule_set(self.account_id, self.region)
        if rule_set is None:
            return "there is no active receipt rule set"
        identities = self.state.identities(self.account_id, self.region)
        if not covered_by_identity(address, identities):
            return f"{domain_of(address)} is not a verified identity"
        if not any(rule_recipients(rule, [address], identities) for rule in rule_set.rules):
            return f"no enabled rule of the active rule set {rule_set.name!r} covers it"
        return None

    def accept(self, source: str, recipients: list, content: bytes, peer, helo: str) -> str:
        message = Message(events.new_message_id(), source or "", recipients, content,
                          tuple(peer or ("127.0.0.1", 0))[:2], helo)
        with self._lock:
            full = (len(self._pending) >= MAX_PENDING
                    or self._pending_bytes + len(content) > MAX_PENDING_BYTES)
            if not full and not self._stopping.is_set():
                self._pending[message.message_id] = message
                self._pending_bytes += len(content)
        if full or self._stopping.is_set():
            self.refused("DATA", BUSY, source, recipients,
                         "the lab is still processing earlier messages")
            return BUSY
        headers = events.parse_headers(content)
        found = {name.lower(): value for name, value in reversed(headers)}
        self.trace.record("ses.received", message_id=message.message_id, source=source,
                          recipients=list(recipients), subject=found.get("subject"),
                          header_message_id=found.get("message-id"), size=len(content),
                          peer=list(message.peer))
        self._inbox.put(message)
        return f"250 Ok {message.message_id}"

    def refused(self, stage: str, reply: str, source, recipients, reason: str) -> None:
        self.trace.record("ses.refused", stage=stage, reply=reply, source=source,
                          recipients=list(recipients), reason=reason)

    # -- after the conversation: the rules -----------------------------------------------

    def _work(self) -> None:
        while True:
            message = self._inbox.get()
            if message is None:
                return
            if self._stopping.is_set():
                continue  # stop() records it as dropped
            try:
                self._process(message)
            except Exception as error:  # never lose a message to a bug: say why it ended
                self._finish(message, "dropped", reason=f"lab error: {error!r}")

    def _finish(self, message: Message, outcome: str, **details) -> None:
        with self._lock:
            if self._pending.pop(message.message_id, None) is None:
                return  # a message ends exactly once
            self._pending_bytes -= len(message.raw)
        self.trace.record("ses.processed", message_id=message.message_id, outcome=outcome,
                          **details)

    def _process(self, message: Message) -> None:
        rule_set = self.state.active_rule_set(self.account_id, self.region)
        if rule_set is None:
            return self._finish(message, "no rule applied", rules=[],
                                reason="no rule set was active any more")
        identities = self.state.identities(self.account_id, self.region)
        applied, stopped_by = [], None
        for rule in rule_set.rules:
            recipients = rule_recipients(rule, message.recipients, identities)
            if not recipients:
                continue
            if self._stopping.is_set():
                return self._finish(message, "dropped", rules=applied,
                                    reason="the lab stopped while its rules ran")
            applied.append(rule.name)
            self.trace.record("ses.rule", message_id=message.message_id,
                              rule_set=rule_set.name, rule=rule.name, recipients=recipients)
            disposition = self._apply(message, rule_set.name, rule, recipients, identities)
            if disposition == "STOP_RULE_SET":
                stopped_by = rule.name
                break
        if not applied:
            return self._finish(message, "no rule applied", rules=[],
                                reason="the rules changed after the message was accepted")
        self._finish(message, "delivered", rules=applied, stopped_by=stopped_by)

    def _apply(self, message, rule_set: str, rule, recipients, identities) -> str:
        """Run one rule's actions; the disposition that ends it."""
        context = {"message": message, "rule_set": rule_set, "rule": rule,
                   "recipients": recipients, "source_arn": rule_arn(
                       self.region, self.account_id, rule_set, rule.name)}
        if rule.tls_policy == "Require":
            self._note(message, rule.name, 0, "Bounce", "bounced",
                       reason="the rule requires TLS; the lab's SMTP endpoint has none")
            return "CONTINUE"
        context["verdicts"] = decide_verdicts(message.raw, message.source, identities,
                                              rule.scan_enabled)
        for position, action in enumerate(rule.actions, 1):
            run = getattr(self, f"_action_{action.kind.lower()}", None)
            if run is None:
                self._note(message, rule.name, position, action.kind, "not supported",
                           reason=f"the lab does not run {action.kind} actions")
                continue
            disposition = run(context, position, action.settings) or "CONTINUE"
            if disposition in ("STOP_RULE", "STOP_RULE_SET"):
                return disposition
        return "CONTINUE"

    # -- what SES delivers ----------------------------------------------------------------

    def _delivered(self, context) -> bytes:
        """The message as SES hands it on: its own headers, added ones, the original."""
        message, verdicts = context["message"], context["verdicts"]
        lines = [("Return-Path", f"<{message.source}>"),
                 ("Received", f"from {message.helo or 'unknown'} ([{message.peer[0]}]) by "
                              f"{HOSTNAME} with SMTP id {message.message_id} for "
                              f"{context['recipients'][0]}; "
                              f"{formatdate(message.received_at, usegmt=True)}")]
        if context["rule"].scan_enabled:
            lines += [("X-SES-Spam-Verdict", verdicts.spam),
                      ("X-SES-Virus-Verdict", verdicts.virus)]
        spf = AUTH_WORDS[verdicts.spf]
        sender_domain = domain_of(message.source) or "unknown"
        lines.append(("Received-SPF", f"{spf} (the lab's SPF check of {sender_domain}) "
                                      f"client-ip={message.peer[0]}; "
                                      f"envelope-from={message.source}; helo={message.helo};"))
        lines.append(("Authentication-Results",
                      f"amazonses.com; spf={spf} smtp.mailfrom={message.source}; "
                      f"dkim={AUTH_WORDS[verdicts.dkim]}; dmarc={AUTH_WORDS[verdicts.dmarc]};"))
        top = "".join(f"{name}: {value}\r\n" for name, value in lines + message.added)
        return top.encode() + message.raw

    def _receipt(self, context, action: dict) -> tuple[dict, dict]:
        message = context["message"]
        delivered = self._delivered(context)
        mail = events.mail_object(message_id=message.message_id, source=message.source,
                                  headers=events.parse_headers(delivered),
                                  received_at=message.received_at)
        receipt = events.receipt_object(
            recipients=context["recipients"], received_at=message.received_at,
            triggered_at=time.time(), verdicts=context["verdicts"].as_event(), action=action,
            dmarc_policy=context["verdicts"].dmarc_policy)
        return mail, receipt

    def _note(self, message, rule: str, position: int, action: str, outcome: str, **details):
        self.trace.record("ses.action", message_id=message.message_id, rule=rule,
                          position=position, action=action, outcome=outcome, **details)

    def _notify(self, context, settings, action: dict) -> str | None:
        """The SNS notification an action sends when it names a topic; None if none."""
        topic = settings.get("TopicArn")
        if not topic:
            return None
        mail, receipt = self._receipt(context, {"type": action["type"], "topicArn": topic,
                                                **action})
        try:
            self.sender.send(topic, json.dumps(events.notification(mail, receipt)),
                             subject="Amazon SES Email Receipt Notification")
        except DeliveryError as error:
            return f"not delivered: {error}"
        return "sent"

    # -- the actions ----------------------------------------------------------------------

    def _action_addheader(self, context, position, settings):
        name, value = settings.get("HeaderName", ""), settings.get("HeaderValue", "")
        context["message"].added.append((name, value))
        self._note(context["message"], context["rule"].name, position, "AddHeader", "added",
                   header=f"{name}: {value}")

    def _action_s3(self, context, position, settings):
        message, rule = context["message"], context["rule"]
        bucket = settings.get("BucketName", "")
        key = settings.get("ObjectKeyPrefix", "") + message.message_id
        details = {"bucket": bucket, "key": key}
        if not bucket_may_be_written(self.state, bucket, key, context["source_arn"],
                                     self.account_id):
            return self._note(message, rule.name, position, "S3", "not delivered",
                              reason=f"SES may not write to {bucket}", **details)
        try:
            self.sender.send(f"arn:aws:s3:::{bucket}", self._delivered(context), key=key)
        except DeliveryError as error:
            return self._note(message, rule.name, position, "S3", "not delivered",
                              reason=str(error), **details)
        notified = self._notify(context, settings, {"type": "S3", "bucketName": bucket,
                                                    "objectKey": key})
        self._note(message, rule.name, position, "S3", "stored", notified=notified, **details)

    def _action_sns(self, context, position, settings):
        message, rule = context["message"], context["rule"]
        topic, encoding = settings.get("TopicArn", ""), settings.get("Encoding", "UTF-8")
        delivered = self._delivered(context)
        if len(delivered) > SNS_CONTENT_LIMIT:
            return self._note(message, rule.name, position, "SNS", "bounced", topic=topic,
                              reason=f"{len(delivered)} bytes: an SNS action takes 150 KB")
        mail, receipt = self._receipt(context, {
            "type": "SNS", "topicArn": topic,
            "encoding": "BASE64" if encoding.upper() == "BASE64" else "UTF8"})
        body = json.dumps(events.notification(mail, receipt, delivered, encoding))
        self.send(topic, body, subject="Amazon SES Email Receipt Notification",
                  message_id=message.message_id, rule=rule.name, position=position,
                  action="SNS", topic=topic)

    def _action_stop(self, context, position, settings):
        notified = self._notify(context, settings, {"type": "Stop"})
        self._note(context["message"], context["rule"].name, position, "Stop", "stopped",
                   notified=notified)
        return "STOP_RULE_SET"

    def _action_bounce(self, context, position, settings):
        bounce = {"smtpReplyCode": settings.get("SmtpReplyCode"),
                  "statusCode": settings.get("StatusCode"),
                  "message": settings.get("Message"), "sender": settings.get("Sender")}
        notified = self._notify(context, settings, {"type": "Bounce", **bounce})
        self._note(context["message"], context["rule"].name, position, "Bounce", "bounced",
                   reason="the lab sends no mail: the bounce to "
                          f"{context['message'].source} is recorded here",
                   notified=notified, bounce=bounce)

    def _action_lambda(self, context, position, settings):
        message, rule = context["message"], context["rule"]
        function_arn = settings.get("FunctionArn", "")
        invocation_type = settings.get("InvocationType") or "Event"
        details = {"message_id": message.message_id, "rule": rule.name, "position": position,
                   "action": "Lambda", "invocation_type": invocation_type}
        if not function_may_be_invoked(self.functions, function_arn, context["source_arn"],
                                       self.account_id, self.region):
            return self._note(message, rule.name, position, "Lambda", "not delivered",
                              function=function_arn, invocation_type=invocation_type,
                              reason="the function does not exist or does not let SES "
                                     "(this rule) invoke it")
        mail, receipt = self._receipt(context, {"type": "Lambda", "functionArn": function_arn,
                                                "invocationType": invocation_type})
        event = events.lambda_event(mail, receipt)
        notified = self._notify(context, settings, {"type": "Lambda",
                                                    "functionArn": function_arn,
                                                    "invocationType": invocation_type})
        if invocation_type != "RequestResponse":
            self.invoke_async(function_arn, event, self.account_id, self.region,
                              notified=notified, **details)
            return "CONTINUE"
        return self._invoke_and_wait(function_arn, event, details, notified)

    def _invoke_and_wait(self, function_arn, event, details, notified) -> str:
        named = function_name_parts(function_arn)
        record = dict(details, function=function_arn, notified=notified, event=event)
        try:
            spec = self.functions.find(function_arn, None, self.account_id, self.region)
        except LambdaApiError as error:
            self.trace.record(self.record, outcome="not delivered", reason=error.message,
                              **record)
            return "CONTINUE"
        request_id = str(uuid.uuid4())
        invoked = spec.arn + (f":{named.qualifier}" if named and named.qualifier else "")
        self.trace.record("invoke", request_id=request_id, function=spec.arn,
                          version=spec.version, invocation_type="RequestResponse",
                          source=self.name, ses_message_id=details["message_id"])
        waits = self.service.clock.lab_seconds(REQUEST_RESPONSE_TIMEOUT_S)  # AWS's 30 s, scaled
        try:
            outcome = self.invoke_with_timeout(
                spec, json.dumps(event).encode(), invoked, request_id, waits,
                on_abandoned=lambda result, error, late: self.trace.record(
                    "ses.abandoned", message_id=details["message_id"], request_id=request_id,
                    function=spec.arn, seconds_after=round(late, 3)))
        except TimedOut:
            self.trace.record(self.record, outcome="timed out", request_id=request_id,
                              reason=f"no answer in {REQUEST_RESPONSE_TIMEOUT_S} s (the lab "
                                     f"waited {waits:g} s): the lab continues with the next "
                                     "action", **record)
            return "CONTINUE"
        except LambdaApiError as error:
            self.trace.record(self.record, outcome="not delivered", request_id=request_id,
                              reason=f"{error.code}: {error.message}", **record)
            return "CONTINUE"
        disposition = "CONTINUE"
        if outcome.function_error is None:
            try:
                answer = json.loads(outcome.payload or b"null")
            except ValueError:
                answer = None
            if isinstance(answer, dict) and answer.get("disposition") in DISPOSITIONS:
                disposition = answer["disposition"]
        self.trace.record(self.record, outcome="invoked", request_id=request_id,
                          disposition=disposition, function_error=outcome.error_type,
                          **record)
        return disposition
