"""The event SES sends to a receipt rule's Lambda action (Powertools' ``SesModel``).

When Amazon SES receives a message, each Lambda action of a matching receipt rule gets
one event, ``{"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses":
{"mail": ..., "receipt": ...}}]}``
(https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html).
``mail`` describes the message: its SES message id (also the S3 object key when an S3
action stored it), the envelope sender, the To and CC addresses, its headers in order
(SES's own first) and the common ones picked out; ``receipt`` describes this delivery:
the envelope recipients the rule matched, the spam, virus, SPF, DKIM and DMARC verdicts
and the action. The body is never in the event. The SNS notifications of receipt rules
carry the same two objects (and, from an SNS action, the message itself)
(https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html).
Pure functions: ``helpers.front_doors.ses`` delivers what they build. Introduced in
notebook 09.
"""

from __future__ import annotations

import base64
import os
import re
import time
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.utils import formataddr, getaddresses

POWERTOOLS_MODEL = "SesModel"  # aws_lambda_powertools.utilities.parser.models
EVENT_VERSION = "1.0"
HEADERS_LIMIT = 10 * 1024  # headers beyond 10 KB are left out ("headersTruncated")
# commonHeaders: the event's name for each header SES picks out
ADDRESS_HEADERS = {"from": "from", "to": "to", "cc": "cc", "bcc": "bcc", "sender": "sender",
                   "reply-to": "replyTo"}
TEXT_HEADERS = {"date": "date", "message-id": "messageId", "subject": "subject"}
VERDICTS = ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict")

__all__ = [
    "POWERTOOLS_MODEL",
    "VERDICTS",
    "common_headers",
    "header_block",
    "lambda_event",
    "mail_object",
    "new_message_id",
    "notification",
    "parse_headers",
    "receipt_object",
    "timestamp",
]


def new_message_id() -> str:
    """An SES message id: 40 characters of lowercase base32, like SES's own."""
    return base64.b32hexencode(os.urandom(25)).decode().lower()


def timestamp(when: float | None = None) -> str:
    """ISO 8601 in UTC with milliseconds, as SES writes its times."""
    moment = datetime.fromtimestamp(time.time() if when is None else when, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def header_block(raw: bytes) -> bytes:
    """The header section of a message: everything before the first empty line."""
    found = re.search(rb"\r?\n\r?\n", raw)
    return raw[:found.start()] if found else raw


def parse_headers(raw: bytes) -> list[tuple[str, str]]:
    """(name, value) of every header, in order; folded values unfolded."""
    headers: list[list[str]] = []
    for line in re.split(r"\r?\n", header_block(raw).decode("utf-8", "replace")):
        if line[:1] in (" ", "\t") and headers:
            headers[-1][1] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            headers.append([name.strip(), value.strip()])
    return [(name, value) for name, value in headers if name]


def _decoded(value: str) -> str:
    """An RFC 2047 encoded header (``=?utf-8?q?...?=``) as text."""
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def _addresses(values: list[str]) -> list[str]:
    return [formataddr((_decoded(name), address)) for name, address in getaddresses(values)
            if address]


def common_headers(headers: list[tuple[str, str]], return_path: str) -> dict:
    """The headers SES picks out: only those the message has, and ``returnPath``."""
    found: dict[str, list[str]] = {}
    for name, value in headers:
        found.setdefault(name.lower(), []).append(value)
    common: dict = {"returnPath": return_path}
    for header, key in ADDRESS_HEADERS.items():
        if header in found:
            common[key] = _addresses(found[header])
    for header, key in TEXT_HEADERS.items():
        if header in found:
            value = found[header][0]
            common[key] = _decoded(value) if header == "subject" else value
    return common


def _within_limit(headers: list[tuple[str, str]]) -> tuple[list[dict], bool]:
    kept, size = [], 0
    for name, value in headers:
        size += len(name) + len(value) + 4  # "Name: value\r\n"
        if size > HEADERS_LIMIT:
            return kept, True
        kept.append({"name": name, "value": value})
    return kept, False


def mail_object(*, message_id: str, source: str, headers: list[tuple[str, str]],
                received_at: float) -> dict:
    """The ``mail`` object: ``headers`` are the message's, SES's own first."""
    listed, truncated = _within_limit(headers)
    destination = [address for name, value in headers if name.lower() in ("to", "cc")
                   for _, address in getaddresses([value]) if address]
    return {
        "timestamp": timestamp(received_at),
        "source": source,
        "messageId": message_id,
        "destination": destination,
        "headersTruncated": truncated,
        "headers": listed,
        "commonHeaders": common_headers(headers, source),
    }


def receipt_object(*, recipients: list[str], received_at: float, triggered_at: float,
                   verdicts: dict, action: dict, dmarc_policy: str | None = None) -> dict:
    """The ``receipt`` object for one action. ``verdicts`` maps each of ``VERDICTS`` to
    PASS, FAIL, GRAY or PROCESSING_FAILED; ``dmarcPolicy`` appears only when DMARC failed."""
    receipt = {
        "timestamp": timestamp(triggered_at),
        # the time from receiving the message to triggering the action, at least 1 ms
        "processingTimeMillis": max(1, round((triggered_at - received_at) * 1000)),
        "recipients": list(recipients),
    }
    for name in VERDICTS:
        receipt[name] = {"status": verdicts[name]}
    if dmarc_policy and verdicts["dmarcVerdict"] == "FAIL":
        receipt["dmarcPolicy"] = dmarc_policy
    receipt["action"] = action
    return receipt


def lambda_event(mail: dict, receipt: dict) -> dict:
    """The event a Lambda action sends (``receipt.action`` names the function)."""
    return {"Records": [{"eventSource": "aws:ses", "eventVersion": EVENT_VERSION,
                         "ses": {"mail": mail, "receipt": receipt}}]}


def notification(mail: dict, receipt: dict, content: bytes | None = None,
                 encoding: str = "UTF-8") -> dict:
    """An SNS notification of a receipt rule's action; only an SNS action's carries the
    message itself (``content``), as UTF-8 text or base64."""
    body = {"notificationType": "Received", "mail": mail, "receipt": receipt}
    if content is not None:
        body["content"] = (base64.b64encode(content).decode() if encoding.upper() == "BASE64"
                           else content.decode("utf-8", "replace"))
    return body
