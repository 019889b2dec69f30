"""What SNS delivers: the Lambda event (Powertools' ``SnsModel``) and the SQS message.

One published message becomes, for a Lambda subscription, an event with one record:
``EventSource`` ``aws:sns``, ``EventVersion``, ``EventSubscriptionArn`` and ``Sns`` with
``Type``, ``MessageId``, ``TopicArn``, ``Subject`` (null without one), ``Message``,
``Timestamp``, ``SignatureVersion``, ``Signature``, ``SigningCertUrl``,
``UnsubscribeUrl`` and ``MessageAttributes`` (``{name: {Type, Value}}``). An SQS
subscription gets the same notification as a JSON message body, with AWS's other
spelling, ``SigningCertURL`` and ``UnsubscribeURL``, unless raw message delivery is on.
``string_to_sign`` is what the signature signs.
https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html
https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html
https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
Introduced in notebook 12.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

POWERTOOLS_MODEL = "SnsModel"  # aws_lambda_powertools.utilities.parser.models

__all__ = ["POWERTOOLS_MODEL", "Notification", "lambda_event", "message_for", "sqs_body",
           "string_to_sign", "timestamp", "unsubscribe_url"]


def timestamp(when: float) -> str:
    """SNS's time format: ISO-8601 in UTC with milliseconds."""
    moment = datetime.fromtimestamp(when, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def unsubscribe_url(subscription_arn: str) -> str:
    region = subscription_arn.split(":")[3]
    return (f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
            f"{subscription_arn}")


@dataclass
class Notification:
    """One published message, as every subscription of the topic sees it."""

    message_id: str
    topic_arn: str
    message: str
    when: float  # epoch seconds
    subject: str | None = None
    attributes: dict = field(default_factory=dict)  # Publish's MessageAttributes
    signature_version: str = "1"
    signature: str | None = None  # base64; None for FIFO topics
    signing_cert_url: str | None = None
    sequence_number: str | None = None  # FIFO topics
    group_id: str | None = None
    deduplication_id: str | None = None

    @property
    def timestamp(self) -> str:
        return timestamp(self.when)


def message_for(message: str, structure: str | None, protocol: str) -> str:
    """The message a protocol receives: with ``MessageStructure="json"`` its own entry,
    or ``default``."""
    if structure != "json":
        return message
    parsed = json.loads(message)
    return parsed.get(protocol, parsed["default"])


def string_to_sign(note: Notification) -> str:
    """Name and value of each signed field, one a line, in SNS's order."""
    fields = [("Message", note.message), ("MessageId", note.message_id)]
    if note.subject is not None:
        fields.append(("Subject", note.subject))
    fields += [("Timestamp", note.timestamp), ("TopicArn", note.topic_arn),
               ("Type", "Notification")]
    return "".join(f"{name}\n{value}\n" for name, value in fields)


def _attributes(note: Notification) -> dict:
    result = {}
    for name, attribute in note.attributes.items():
        value = attribute.get("StringValue")
        if value is None and "BinaryValue" in attribute:
            raw = attribute["BinaryValue"]  # base64 text, as Publish's request carries it
            value = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
        result[name] = {"Type": attribute.get("DataType", "String"), "Value": value}
    return result


def lambda_event(note: Notification, subscription_arn: str) -> dict:
    """The event a subscribed function receives."""
    sns = {
        "Type": "Notification",
        "MessageId": note.message_id,
        "TopicArn": note.topic_arn,
        "Subject": note.subject,
        "Message": note.message,
        "Timestamp": note.timestamp,
        "SignatureVersion": note.signature_version,
        "Signature": note.signature,
        "SigningCertUrl": note.signing_cert_url,
        "UnsubscribeUrl": unsubscribe_url(subscription_arn),
        "MessageAttributes": _attributes(note),
    }
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "EventSubscriptionArn": subscription_arn, "Sns": sns}]}


def sqs_body(note: Notification, subscription_arn: str) -> str:
    """The body of the SQS message a subscribed queue receives (raw delivery off)."""
    body = {"Type": "Notification", "MessageId": note.message_id}
    if note.sequence_number is not None:
        body["SequenceNumber"] = note.sequence_number
    body["TopicArn"] = note.topic_arn
    if note.subject is not None:
        body["Subject"] = note.subject
    body["Message"] = note.message
    body["Timestamp"] = note.timestamp
    if note.signature is not None:
        body.update(SignatureVersion=note.signature_version, Signature=note.signature,
                    SigningCertURL=note.signing_cert_url)
    body["UnsubscribeURL"] = unsubscribe_url(subscription_arn)
    if note.attributes:
        body["MessageAttributes"] = _attributes(note)
    return json.dumps(body, indent=2)
