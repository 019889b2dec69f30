"""SNS: a published message fans out to every subscription whose filter policy it passes.

The lab watches SNS requests at its front (moto keeps topics and subscriptions):

- ``Subscribe`` and ``SetSubscriptionAttributes`` check a ``FilterPolicy`` as SNS checks
  it (``helpers.patterns.filter_policies``, for the subscription's scope); a FIFO topic
  takes SQS subscriptions only;
- ``Publish`` and ``PublishBatch`` answer at once with moto's message ids (a FIFO topic's
  answer gets a ``SequenceNumber``); then, for each subscription, the lab matches the
  message against its filter policy and delivers it: a **function** gets the SNS event
  (``helpers.events.sns``) through Lambda's asynchronous queue, so Lambda's retries,
  destinations and dead-letter queue apply (notebook 02); a **queue** gets the
  notification as its message body (or the raw message). Each notification is signed
  with the lab's own key (``helpers.push.signing``).
- SNS may invoke a function only if the function's resource-based policy allows
  ``sns.amazonaws.com`` for the topic. Without it the delivery fails; SNS treats that as
  a client-side error and does not retry: the message goes to the subscription's
  dead-letter queue (``RedrivePolicy``), if it has one, or is dropped.
  https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html

https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html. Introduced in notebook 12.

Trace records:

- ``sns.publish``: a message was published: message_id, topic, publish_request_id,
  subject, attributes, message (the first 2 KB), subscriptions (how many)
- ``sns.delivery``: what became of it for one subscription: message_id, topic,
  subscription, protocol, endpoint, outcome ("queued", "sent", "filtered",
  "not delivered", "dead-lettered") and reason; for functions also request_id (the
  asynchronous event's) and the event itself
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from ..errors import AwsError
from ..events import sns as events
from ..patterns.filter_policies import check_policy, explain_policy
from ..patterns.rules import PatternError
from ..send import DeliveryError
from .base import PushSource
from .permissions import refusal
from .signing import Signer

PRINCIPAL = "sns.amazonaws.com"
MESSAGE_PREVIEW = 2048

__all__ = ["SnsDeliveries"]


def form(request) -> dict:
    """The parameters of a query-protocol request."""
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


def attributes_of(params: dict, prefix: str = "MessageAttributes") -> dict:
    """``{name: {"DataType", "StringValue" | "BinaryValue"}}`` from the request's form."""
    found = {}
    for number in itertools.count(1):
        base = f"{prefix}.entry.{number}"
        name = params.get(f"{base}.Name")
        if name is None:
            return found
        attribute = {"DataType": params.get(f"{base}.Value.DataType", "String")}
        for kind in ("StringValue", "BinaryValue"):
            if f"{base}.Value.{kind}" in params:
                attribute[kind] = params[f"{base}.Value.{kind}"]
        found[name] = attribute


def _for_sqs(attribute: dict) -> dict:
    """An SNS message attribute as SendMessage takes it (binary values as bytes)."""
    if "BinaryValue" in attribute:
        return {"DataType": attribute["DataType"],
                "BinaryValue": base64.b64decode(attribute["BinaryValue"])}
    return dict(attribute)


def _invalid(what: str, reason: str) -> AwsError:
    return AwsError(400, "InvalidParameter", f"Invalid parameter: {what}: {reason}")


class SnsDeliveries(PushSource):
    name = "sns"
    record = "sns.delivery"

    def __init__(self, service, functions, sender, state):
        super().__init__(service, functions, sender)
        self.state = state  # helpers.cloud.sns_state.SnsState
        self.signer = Signer()
        self._sequence = itertools.count(1)

    def register(self, front) -> None:
        front.before("sns", "Subscribe", self._check_subscribe)
        front.before("sns", "SetSubscriptionAttributes", self._check_attribute)
        front.before("sns", "Publish", self._check_publish)
        front.after("sns", "Publish", self._published)
        front.after("sns", "PublishBatch", self._published_batch)

    # -- checks before moto --------------------------------------------------------------

    def _check_subscribe(self, request) -> None:
        params = form(request)
        topic = self.state.topic(params.get("TopicArn", ""), request.account_id, request.region)
        if topic is not None and topic.fifo and params.get("Protocol") != "sqs":
            raise _invalid("Invalid protocol type", f"{params.get('Protocol')}: a FIFO topic "
                           "delivers to SQS queues only")
        attributes = {}
        for number in itertools.count(1):
            key = params.get(f"Attributes.entry.{number}.key")
            if key is None:
                break
            attributes[key] = params.get(f"Attributes.entry.{number}.value", "")
        if attributes.get("FilterPolicy"):
            self._check_policy(attributes["FilterPolicy"], attributes.get("FilterPolicyScope"))

    def _check_attribute(self, request) -> None:
        params = form(request)
        name, value = params.get("AttributeName"), params.get("AttributeValue", "")
        current = self.state.subscription(params.get("SubscriptionArn", ""),
                                          request.account_id, request.region)
        if name == "FilterPolicy" and value:
            self._check_policy(value, current.filter_policy_scope if current else None)
        elif name == "FilterPolicyScope" and current is not None and current.filter_policy:
            self._check_policy(current.filter_policy, value)

    @staticmethod
    def _check_policy(text: str, scope: str | None) -> None:
        try:
            check_policy(text, scope)
        except PatternError as error:
            raise _invalid("FilterPolicy", str(error)) from None

    @staticmethod
    def _check_publish(request) -> None:
        params = form(request)
        if params.get("MessageStructure") == "json":
            try:
                parsed = json.loads(params.get("Message", ""))
            except ValueError:
                raise _invalid("Message Structure", "the message is not valid JSON") from None
            if not isinstance(parsed, dict) or "default" not in parsed:
                raise _invalid("Message Structure", "no default entry in the JSON message")

    # -- after moto answered --------------------------------------------------------------

    def _published(self, request, response) -> None:
        if response.status >= 300:
            return
        params = form(request)
        found = re.search(rb"<MessageId>([^<]+)</MessageId>", response.body)
        topic_arn = params.get("TopicArn") or params.get("TargetArn")
        if found is None or not topic_arn:
            return  # an SMS, or a push notification to a mobile endpoint
        message_id = found[1].decode()
        sequence = self._fifo_sequence(response, topic_arn, request, found.end())
        self._fan_out(request, topic_arn, message_id, sequence, params.get("Message", ""),
                      params.get("Subject"), attributes_of(params),
                      params.get("MessageStructure"), params.get("MessageGroupId"),
                      params.get("MessageDeduplicationId"))

    def _published_batch(self, request, response) -> None:
        if response.status >= 300:
            return
        params = form(request)
        topic_arn = params.get("TopicArn", "")
        entries = {}
        for number in itertools.count(1):
            base = f"PublishBatchRequestEntries.member.{number}"
            if f"{base}.Id" not in params:
                break
            entries[params[f"{base}.Id"]] = base
        root = ElementTree.fromstring(response.body)
        for member in root.iter():
            if not member.tag.endswith("member"):
                continue
            fields = {child.tag.rsplit("}", 1)[-1]: child.text for child in member}
            base = entries.get(fields.get("Id"))
            if base is None or not fields.get("MessageId"):
                continue  # a failed entry
            self._fan_out(request, topic_arn, fields["MessageId"], fields.get("SequenceNumber"),
                          params.get(f"{base}.Message", ""), params.get(f"{base}.Subject"),
                          attributes_of(params, f"{base}.MessageAttributes"),
                          params.get(f"{base}.MessageStructure"),
                          params.get(f"{base}.MessageGroupId"),
                          params.get(f"{base}.MessageDeduplicationId"))

    def _fifo_sequence(self, response, topic_arn, request, at: int) -> str | None:
        topic = self.state.topic(topic_arn, request.account_id, request.region)
        if topic is None or not topic.fifo:
            return None
        sequence = str(10**19 + next(self._sequence))
        tail = response.body[at:]
        if b"<SequenceNumber>" not in tail:
            response.body = (response.body[:at] + f"<SequenceNumber>{sequence}"
                             "</SequenceNumber>".encode() + tail)
        return sequence

    def _fan_out(self, request, topic_arn, message_id, sequence, message, subject, attributes,
                 structure, group_id, deduplication_id) -> None:
        account, region = request.account_id, topic_arn.split(":")[3]
        topic = self.state.topic(topic_arn, account, region)
        if topic is None:
            return
        subscriptions = self.state.subscriptions(topic_arn, account, region)
        self.trace.record("sns.publish", message_id=message_id, topic=topic_arn,
                          publish_request_id=request.request_id, subject=subject,
                          attributes=attributes, message=message[:MESSAGE_PREVIEW],
                          subscriptions=len(subscriptions))
        when = time.time()
        for subscription in subscriptions:
            details = {"message_id": message_id, "topic": topic_arn,
                       "subscription": subscription.arn, "protocol": subscription.protocol,
                       "endpoint": subscription.endpoint}
            if subscription.protocol not in ("lambda", "sqs"):
                continue  # moto delivers to the other protocols itself
            if subscription.filter_policy:
                policy = json.loads(subscription.filter_policy)
                why = explain_policy(policy, subscription.filter_policy_scope, attributes,
                                     message)
                if why is not None:
                    self.trace.record(self.record, outcome="filtered", reason=why, **details)
                    continue
            note = events.Notification(
                message_id=message_id, topic_arn=topic_arn, when=when, subject=subject,
                message=events.message_for(message, structure, subscription.protocol),
                attributes=attributes, signature_version=topic.signature_version,
                sequence_number=sequence, group_id=group_id,
                deduplication_id=deduplication_id)
            if not topic.fifo:
                note.signature = self.signer.sign(events.string_to_sign(note),
                                                  topic.signature_version)
                note.signing_cert_url = self.signer.certificate_url(region)
            if subscription.protocol == "lambda":
                self._to_function(subscription, note, account, details)
            else:
                self._to_queue(subscription, note, topic, details)

    def _to_function(self, subscription, note, account, details) -> None:
        refused = refusal(self.functions, subscription.endpoint, PRINCIPAL, note.topic_arn,
                          account)
        if refused is not None:
            reason = (f"{refused[0]}: {refused[1]} (a client-side error: SNS does not "
                      "retry it)")
            return self._undeliverable(subscription, note, reason, details)
        region = subscription.endpoint.split(":")[3]
        self.invoke_async(subscription.endpoint, events.lambda_event(note, subscription.arn),
                          account, region, **details)

    def _to_queue(self, subscription, note, topic, details) -> None:
        if subscription.raw:
            body = note.message
            attributes = {name: _for_sqs(value) for name, value in note.attributes.items()}
        else:
            body, attributes = events.sqs_body(note, subscription.arn), {}
        options = {"MessageAttributes": attributes} if attributes else {}
        if subscription.endpoint.endswith(".fifo"):
            options["MessageGroupId"] = note.group_id or "default"
            options["MessageDeduplicationId"] = (note.deduplication_id or note.message_id)[:128]
        try:
            self.sender.clients.client("sqs").send_message(
                QueueUrl=self.sender.queue_url(subscription.endpoint), MessageBody=body,
                **options)
        except Exception as error:
            return self._undeliverable(subscription, note, f"{type(error).__name__}: {error}",
                                       details)
        self.trace.record(self.record, outcome="sent", **details)

    def _undeliverable(self, subscription, note, reason, details) -> None:
        """A delivery SNS gave up on: to the subscription's dead-letter queue, or dropped."""
        target = subscription.dead_letter_arn
        if target:
            try:
                self.sender.send(target, events.sqs_body(note, subscription.arn))
            except DeliveryError as error:
                reason += f"; the dead-letter queue {target} failed too: {error}"
            else:
                self.trace.record(self.record, outcome="dead-lettered", reason=reason,
                                  dead_letter=target, **details)
                return
        self.trace.record(self.record, outcome="not delivered", reason=reason, **details)
