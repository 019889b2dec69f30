"""S3 event notifications: S3 invokes Lambda asynchronously when objects change.

The lab watches S3 requests at its front (moto keeps the buckets):

- every S3 answer carries S3's own request ids (``x-amz-request-id``, ``x-amz-id-2``),
  in its headers and in an error's XML; the event's ``responseElements`` name them;
- ``PutBucketNotificationConfiguration`` is checked as S3 checks it: each function must
  exist and let ``s3.amazonaws.com`` invoke it for this bucket (unless
  ``x-amz-skip-destination-validation``), configurations may not overlap; once saved,
  queues and topics get S3's ``s3:TestEvent``;
- after a change (PutObject, CopyObject, CompleteMultipartUpload, DeleteObject,
  DeleteObjects, tagging, ACL, restore) each matching configuration gets one event
  (``helpers.events.s3``): a function through Lambda's asynchronous queue, a queue or a
  topic as a message; a bucket with EventBridge turned on sends to the default bus.

Filters match the key as S3 writes it in the event (URL-encoded). A function's
request carries its trace header, whose lineage lets Lambda stop a recursive loop
(``helpers.lambda_.recursion``). Introduced in notebook 04.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html

Trace records:

- ``s3.notification``: an S3 request produced an event for a destination:
  s3_request_id, bucket, key, event_name, destination, configuration_id, outcome
  ("queued", "sent", "not delivered"); for functions also request_id (the asynchronous
  event's), chain_count (recursive loop detection) and the event itself (notebook 04)
"""

from __future__ import annotations

import json
import re
import time
from xml.etree import ElementTree

from ..aws import function_name_parts, policy_allows
from ..errors import AwsError
from ..events import s3 as events
from ..lambda_ import recursion
from .base import PushSource

OVERLAP_MESSAGE = ("Configurations overlap. Configurations on the same bucket cannot share "
                   "a common event type.")
DESTINATION_MESSAGE = "Unable to validate the following destination configurations"
CREATED = {"PutObject": "s3:ObjectCreated:Put", "CopyObject": "s3:ObjectCreated:Copy",
           "CompleteMultipartUpload": "s3:ObjectCreated:CompleteMultipartUpload",
           "PutObjectTagging": "s3:ObjectTagging:Put",
           "DeleteObjectTagging": "s3:ObjectTagging:Delete",
           "PutObjectAcl": "s3:ObjectAcl:Put", "RestoreObject": "s3:ObjectRestore:Post"}
EVENTBRIDGE_TYPES = {"ObjectCreated": "Object Created", "ObjectRemoved": "Object Deleted",
                     "ObjectTagging:Put": "Object Tags Added",
                     "ObjectTagging:Delete": "Object Tags Deleted",
                     "ObjectAcl": "Object ACL Updated",
                     "ObjectRestore:Post": "Object Restore Initiated",
                     "ObjectRestore:Completed": "Object Restore Completed"}

__all__ = ["S3Notifications"]


def _strip(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def configured(body: bytes) -> list[tuple[str, str, list, dict]]:
    """(kind, ARN, events, filter rules) of every configuration in the request's XML."""
    try:
        root = ElementTree.fromstring(body or b"<NotificationConfiguration/>")
    except ElementTree.ParseError:
        raise AwsError(400, "MalformedXML", "The XML you provided was not well-formed or did "
                       "not validate against our published schema") from None
    result = []
    for element in root:
        kind = {"CloudFunctionConfiguration": ("lambda", "CloudFunction"),
                "QueueConfiguration": ("sqs", "Queue"),
                "TopicConfiguration": ("sns", "Topic")}.get(_strip(element.tag))
        if kind is None:
            continue
        arn, names, rules = "", [], []
        for child in element.iter():
            tag = _strip(child.tag)
            if tag == kind[1]:
                arn = (child.text or "").strip()
            elif tag == "Event":
                names.append((child.text or "").strip())
            elif tag == "FilterRule":
                rule = {_strip(part.tag): (part.text or "") for part in child}
                rules.append((rule.get("Name", "").lower(), rule.get("Value", "")))
        for name in ("prefix", "suffix"):
            if [rule[0] for rule in rules].count(name) > 1:
                raise AwsError(400, "InvalidArgument",
                               f"Cannot specify more than one {name} rule in a filter.")
        result.append((kind[0], arn, names, dict(rules)))
    return result


def _event_types_overlap(first: list, second: list) -> bool:
    def covers(a, b):
        return a == b or (a.endswith(":*") and b.startswith(a[:-1]))

    return any(covers(a, b) or covers(b, a) for a in first for b in second)


def _filters_overlap(first: dict, second: dict) -> bool:
    p1, p2 = first.get("prefix", ""), second.get("prefix", "")
    s1, s2 = first.get("suffix", ""), second.get("suffix", "")
    return (p1.startswith(p2) or p2.startswith(p1)) and (s1.endswith(s2) or s2.endswith(s1))


def event_matches(configured_events, event_name: str) -> bool:
    """``s3:ObjectCreated:Put`` matches itself and ``s3:ObjectCreated:*``."""
    wildcard = ":".join(event_name.split(":")[:2]) + ":*"
    return event_name in configured_events or wildcard in configured_events


class S3Notifications(PushSource):
    name = "s3"
    record = "s3.notification"

    def __init__(self, service, functions, sender, state):
        super().__init__(service, functions, sender)
        self.state = state  # helpers.cloud.s3_state.S3State

    def register(self, front) -> None:
        front.before("s3", "*", self._request_ids)
        front.after("s3", "*", self._answer_ids)
        front.before("s3", "PutBucketNotificationConfiguration", self._validate)
        front.after("s3", "PutBucketNotificationConfiguration", self._test_event)
        front.before("s3", "DeleteObject", self._note_version)
        for operation in (*CREATED, "DeleteObject", "DeleteObjects"):
            front.after("s3", operation, self._changed)

    # -- S3's request ids -------------------------------------------------------------------

    @staticmethod
    def _request_ids(request) -> None:
        request.request_id = events.new_request_id()
        request.host_id = events.new_host_id()

    @staticmethod
    def _answer_ids(request, response) -> None:
        response.headers = [(k, v) for k, v in response.headers
                            if k.lower() not in ("x-amzn-requestid", "x-amz-request-id",
                                                 "x-amz-id-2")]
        response.headers += [("x-amz-request-id", request.request_id),
                             ("x-amz-id-2", request.host_id)]
        if response.status >= 400 and response.body.lstrip().startswith(b"<"):
            body = re.sub(rb"(?<=<RequestId>)[^<]*(?=</RequestId>)",
                          request.request_id.encode(), response.body)
            response.body = re.sub(rb"(?<=<HostId>)[^<]*(?=</HostId>)",
                                   request.host_id.encode(), body)

    # -- the configuration ------------------------------------------------------------------

    def _validate(self, request) -> None:
        bucket = request.params.get("Bucket", "")
        configurations = configured(request.body)
        for index, (_, _, names, rules) in enumerate(configurations):
            for _, _, other_names, other_rules in configurations[index + 1:]:
                if _event_types_overlap(names, other_names) and _filters_overlap(rules,
                                                                                 other_rules):
                    raise AwsError(400, "InvalidArgument", OVERLAP_MESSAGE)
        if (request.header("x-amz-skip-destination-validation") or "").lower() == "true":
            return
        failing = [arn for kind, arn, _, _ in configurations
                   if kind == "lambda" and not self._may_invoke(arn, bucket, request.account_id)]
        if failing:
            extra = {}
            for index, arn in enumerate(failing, 1):  # S3 numbers them
                extra[f"ArgumentName{index}"] = f"{arn}, null"
                extra[f"ArgumentValue{index}"] = f"Not authorized to invoke function [{arn}]"
            raise AwsError(400, "InvalidArgument", DESTINATION_MESSAGE, **extra)

    def _may_invoke(self, function_arn: str, bucket: str, bucket_account: str) -> bool:
        """Does the function exist, and does its policy let S3 (this bucket) invoke it?"""
        named = function_name_parts(function_arn)
        if named is None or named.account is None:
            return False
        account, region, name, qualifier = (named.account, named.region, named.name,
                                            named.qualifier)
        if not self.functions.exists(function_arn, account, region):
            return False
        statements = self.functions.policy_statements(name, qualifier, account, region)
        return policy_allows(statements, action="lambda:InvokeFunction", resource=function_arn,
                             service="s3.amazonaws.com",
                             context={"aws:SourceArn": f"arn:aws:s3:::{bucket}",
                                      "aws:SourceAccount": bucket_account})

    def _test_event(self, request, response) -> None:
        if response.status >= 300:
            return
        bucket = request.params.get("Bucket", "")
        info = events.S3RequestInfo(request_id=request.request_id, host_id=request.host_id)
        body = json.dumps(events.test_event(bucket, info))
        targets = {t.arn for t in self.state.targets(bucket, request.account_id)
                   if t.kind in ("sqs", "sns")}
        for arn in sorted(targets):
            self.send(arn, body, subject="Amazon S3 Notification", s3_request_id=info.request_id,
                      bucket=bucket, key=None, event_name="s3:TestEvent", destination=arn,
                      configuration_id=None, operation=f"{request.method} {request.path}")

    # -- changes ----------------------------------------------------------------------------

    def _note_version(self, request) -> None:
        """Before a DeleteObject of one version: did that version exist? (S3 sends no
        event for a version that was not there.)"""
        version_id = request.query("versionId")
        request.version_existed = version_id is None or self.state.version_exists(
            request.params.get("Bucket", ""), request.params.get("Key", ""), version_id,
            request.account_id)

    def _changed(self, request, response) -> None:
        if response.status >= 300:
            return
        bucket = request.params.get("Bucket", "")
        account = request.account_id
        versioned = self.state.versioned(bucket, account)
        changes = []
        if request.operation == "DeleteObjects":
            changes = self._deleted_in_batch(request, response, versioned)
        elif request.operation == "DeleteObject":
            changes = self._deleted(request, response, versioned)
        else:
            key = request.params.get("Key", "")
            version = response.header("x-amz-version-id") if versioned else None
            found = self.state.object_info(bucket, key, version or request.query("versionId"),
                                           account)
            changes.append((CREATED[request.operation], key, found,
                            version or (found.version_id if found and versioned else None)))
            if request.operation == "RestoreObject":
                changes.append(("s3:ObjectRestore:Completed", key, found, changes[0][3]))
        if not changes:
            return
        region = self.state.bucket_region(bucket, account) or request.region
        info = events.S3RequestInfo(
            request_id=request.request_id, host_id=request.host_id,
            source_ip=request.http.client[0],
            principal_id=events.principal_id(request.access_key,
                                             self.state.user_id(request.access_key, account)),
            trace_header=request.header("x-amzn-trace-id"),
            operation=f"{request.method} {request.path}")
        targets = self.state.targets(bucket, account)
        for event_name, key, found, version in changes:
            removal = "ObjectRemoved" in event_name
            change = events.ObjectChange(
                event_name=event_name, bucket=bucket, region=region, account_id=account,
                key=key, size=None if removal or found is None else found.size,
                etag=None if removal or found is None else found.etag,
                version_id=version, sequencer=events.next_sequencer())
            self._deliver(change, targets, info)
            if self.state.event_bridge(bucket, account):
                self._to_event_bridge(change, info)

    def _deleted(self, request, response, versioned: bool) -> list:
        key = request.params.get("Key", "")
        version_id = request.query("versionId")
        if version_id is None and versioned:
            return [("s3:ObjectRemoved:DeleteMarkerCreated", key, None,
                     response.header("x-amz-version-id"))]
        if version_id is not None:
            if not getattr(request, "version_existed", True):
                return []  # no such version: S3 sends nothing
            return [("s3:ObjectRemoved:Delete", key, None, version_id)]
        return [("s3:ObjectRemoved:Delete", key, None, None)]

    @staticmethod
    def _deleted_in_batch(request, response, versioned: bool) -> list:
        try:
            root = ElementTree.fromstring(response.body)
        except ElementTree.ParseError:
            return []
        changes = []
        for element in root:
            if _strip(element.tag) != "Deleted":
                continue
            fields = {_strip(part.tag): part.text for part in element}
            key = fields.get("Key") or ""
            if fields.get("DeleteMarker") == "true" and not fields.get("VersionId"):
                changes.append(("s3:ObjectRemoved:DeleteMarkerCreated", key, None,
                                fields.get("DeleteMarkerVersionId")))
            else:
                changes.append(("s3:ObjectRemoved:Delete", key, None,
                                fields.get("VersionId") if versioned else None))
        return changes

    def _deliver(self, change, targets, info) -> None:
        encoded = events.encode_key(change.key)
        when = time.time()
        for target in targets:
            if not (event_matches(target.events, change.event_name)
                    and encoded.startswith(target.prefix) and encoded.endswith(target.suffix)):
                continue
            body = events.build_event(change, target.configuration_id, info, when)
            details = {"s3_request_id": info.request_id, "bucket": change.bucket,
                       "key": change.key, "event_name": change.event_name.removeprefix("s3:"),
                       "destination": target.arn, "configuration_id": target.configuration_id,
                       "operation": info.operation}
            if target.kind == "lambda":
                self.invoke_async(target.arn, body, change.account_id, change.region,
                                  lineage=recursion.lineage_from_trace_header(info.trace_header),
                                  **details)
            else:
                self.send(target.arn, json.dumps(body), subject="Amazon S3 Notification",
                          **details)

    def _to_event_bridge(self, change, info) -> None:
        """S3's event on the default bus (bucket with EventBridge notifications on)."""
        kind = change.event_name.removeprefix("s3:")
        detail_type = next((value for prefix, value in EVENTBRIDGE_TYPES.items()
                            if kind.startswith(prefix)), kind)
        detail = {"version": "0", "bucket": {"name": change.bucket},
                  "object": {"key": change.key, "sequencer": change.sequencer},
                  "request-id": info.request_id, "requester": change.account_id,
                  "source-ip-address": info.source_ip, "reason": info.operation}
        if change.size is not None:
            detail["object"].update(size=change.size, etag=change.etag)
        if change.version_id is not None:
            detail["object"]["version-id"] = change.version_id
        bus = f"arn:aws:events:{change.region}:{change.account_id}:event-bus/default"
        self.send(bus, json.dumps(detail), source="aws.s3", detail_type=detail_type,
                  resources=[f"arn:aws:s3:::{change.bucket}"], s3_request_id=info.request_id,
                  bucket=change.bucket, key=change.key, event_name=kind, destination=bus,
                  configuration_id=None, operation=info.operation)
