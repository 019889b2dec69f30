"""The event S3 sends for a change to an object (Powertools' ``S3Model``).

When an object is created or removed in a bucket whose notification configuration asks
for it, S3 builds one event (``{"Records": [...]}``) per matching configuration; the
record follows AWS's event message structure
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html):
``eventVersion`` 2.5, ``eventName`` without the ``s3:`` prefix, the object key
URL-encoded as a form value (``"red flower.jpg"`` becomes ``"red+flower.jpg"``; ``/``
stays as it is), no ``size`` and ``eTag`` on removals, ``versionId`` only in versioned
buckets, a ``sequencer`` that grows with every change to a key, and the request ids the
S3 request itself answered with. ``helpers.push.s3`` delivers it. Introduced in
notebook 04.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote_plus

POWERTOOLS_MODEL = "S3Model"  # aws_lambda_powertools.utilities.parser.models
EVENT_VERSION = "2.5"
SCHEMA_VERSION = "1.0"
REMOVED = "ObjectRemoved"

__all__ = [
    "EVENT_VERSION",
    "POWERTOOLS_MODEL",
    "Destination",
    "ObjectChange",
    "S3RequestInfo",
    "build_event",
    "build_record",
    "encode_key",
    "event_time",
    "new_host_id",
    "new_request_id",
    "next_sequencer",
    "owner_id",
    "principal_id",
    "test_event",
]


# -- identifiers -------------------------------------------------------------------------


def new_request_id() -> str:
    """An S3 request id: 16 upper-case hex digits, like ``D82B88E5F771F645``."""
    return uuid.uuid4().hex[:16].upper()


def new_host_id() -> str:
    """An S3 extended request id (``x-amz-id-2``): base64, 76 characters."""
    return base64.b64encode(os.urandom(56)).decode()


def principal_id(access_key: str | None, user_id: str | None = None) -> str:
    """``userIdentity.principalId``: ``AWS:`` and the caller's IAM unique id.

    With IAM users (``start_lab(enforce_iam=True)``) that is the user's id; otherwise a
    stable id derived from the access key, in the ``AIDA...`` form of an IAM user.
    """
    if user_id:
        return f"AWS:{user_id}"
    digest = hashlib.sha256((access_key or "anonymous").encode()).digest()
    return "AWS:AIDA" + base64.b32encode(digest).decode()[:17]


def owner_id(account_id: str) -> str:
    """The bucket owner's id (``ownerIdentity.principalId``), stable per account."""
    digest = hashlib.sha256(f"owner:{account_id}".encode()).digest()
    return "A" + base64.b32encode(digest).decode()[:13]


_sequencer_lock = threading.Lock()
_last_sequencer = 0


def next_sequencer() -> str:
    """A hex sequencer larger than every one before it (so also per key), as S3's grow."""
    global _last_sequencer
    with _sequencer_lock:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns())
        return f"{_last_sequencer:018X}"


def encode_key(key: str) -> str:
    """The key as S3 writes it in an event: form-encoded, ``/`` left as it is."""
    return quote_plus(key, safe="/")


def event_time(when: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if when is None else when, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# -- what S3 captured, and about which request ---------------------------------------------


@dataclass(frozen=True)
class ObjectChange:
    """One change S3 made to a key, captured the moment it was made."""

    event_name: str  # as configured: "s3:ObjectCreated:Put"
    bucket: str
    region: str
    account_id: str
    key: str
    size: int | None
    etag: str | None
    version_id: str | None
    sequencer: str


@dataclass(frozen=True)
class Destination:
    kind: str  # "lambda" or "sqs"
    arn: str
    configuration_id: str


@dataclass
class S3RequestInfo:
    """The S3 request that caused the changes (its response headers included)."""

    request_id: str = field(default_factory=new_request_id)
    host_id: str = field(default_factory=new_host_id)
    source_ip: str = "127.0.0.1"
    principal_id: str = field(default_factory=lambda: principal_id(None))
    trace_header: str | None = None
    operation: str = ""


def build_record(change: ObjectChange, configuration_id: str, request: S3RequestInfo,
                 when: float | None = None) -> dict:
    """One record of an S3 event notification."""
    obj = {"key": encode_key(change.key)}
    if REMOVED not in change.event_name:
        obj["size"] = change.size
        obj["eTag"] = change.etag
    if change.version_id is not None:
        obj["versionId"] = change.version_id
    obj["sequencer"] = change.sequencer
    return {
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:s3",
        "awsRegion": change.region,
        "eventTime": event_time(when),
        "eventName": change.event_name.removeprefix("s3:"),
        "userIdentity": {"principalId": request.principal_id},
        "requestParameters": {"sourceIPAddress": request.source_ip},
        "responseElements": {
            "x-amz-request-id": request.request_id,
            "x-amz-id-2": request.host_id,
        },
        "s3": {
            "s3SchemaVersion": SCHEMA_VERSION,
            "configurationId": configuration_id,
            "bucket": {
                "name": change.bucket,
                "ownerIdentity": {"principalId": owner_id(change.account_id)},
                "arn": f"arn:aws:s3:::{change.bucket}",
            },
            "object": obj,
        },
    }


def build_event(change: ObjectChange, configuration_id: str, request: S3RequestInfo,
                when: float | None = None) -> dict:
    return {"Records": [build_record(change, configuration_id, request, when)]}


def test_event(bucket: str, request: S3RequestInfo | None = None) -> dict:
    """The ``s3:TestEvent`` S3 sends to SQS and SNS destinations when a configuration
    is saved (never to Lambda functions)."""
    request = request or S3RequestInfo()
    return {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": event_time(),
        "Bucket": bucket,
        "RequestId": request.request_id,
        "HostId": request.host_id,
    }
