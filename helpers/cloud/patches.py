"""Every change the lab makes inside moto, in one table that installs, checks and undoes it.

The lab answers what moto cannot at its front, and watches what moto does with the
requests it passes on; only what neither can reach is changed inside moto. Each row
names the moto attribute it replaces, why, and the parameters the original must still
have. ``Patches.check()`` verifies every row against the installed moto (a moved
attribute is named, with what to do); ``install`` applies the rows of a service the
first time the front passes moto a request for it; ``uninstall`` puts every original
back, so moto's own ``mock_aws()`` works in the kernel after ``lab.stop()``.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import LabError
from .cloudwatch import exact_metric_data, exact_metric_statistics

__all__ = ["PATCHES", "Patch", "Patches"]


@dataclass(frozen=True)
class Patch:
    service: str  # installed before moto handles this service's first request ("*": any)
    owner: str  # dotted path of the module or class
    name: str  # the attribute replaced
    parameters: tuple | None  # the original's first parameters, as the replacement expects
    why: str
    make: Callable  # make(original, seams) -> the replacement


# -- the replacements -----------------------------------------------------------------------


def _lab_invokes(original, seams):
    """moto's services call LambdaFunction.invoke to run a function; the lab runs it."""

    def invoke(fn, body, request_headers, response_headers):
        return seams.invoke_from_moto(fn, body, request_headers or {}, response_headers)

    return invoke


def _through_the_lab_backend(original, seams):
    """The simple backend keeps no functions of its own: ask the real one (the lab's)."""
    from moto.awslambda.models import lambda_backends

    def invoke(backend, function_name, qualifier, body, headers, response_headers):
        real = lambda_backends[backend.account_id][backend.region_name]
        return real.invoke(function_name, qualifier, body, headers, response_headers)

    return invoke


def _nothing(original, seams):
    def disabled(*args, **kwargs):
        return None

    return disabled


def _locked(queue_of):
    """Hold the queue's own lock around the call (moto's SQS is not safe for pollers)."""

    def make(original, seams):
        def call(owner, *args, **kwargs):
            # Condition() wraps an RLock: a long poll's wait inside still releases it.
            with queue_of(owner, *args, **kwargs)._messages_lock:
                return original(owner, *args, **kwargs)

        return call

    return make


def _queue_by_name(backend, *args, **kwargs):
    return backend.get_queue(args[0] if args else kwargs["queue_name"])


def _receive_in_order(original, seams):
    def receive_message(backend, queue_name, count, wait_seconds_timeout, visibility_timeout,
                        message_attribute_names=None, *args, **kwargs):
        queue = backend.get_queue(queue_name)
        deadline = time.monotonic() + float(wait_seconds_timeout or 0)
        with queue._messages_lock:
            while True:
                queue._pending_messages.difference_update(
                    [message for message in queue._pending_messages if message.visible])
                messages = original(backend, queue_name, count, 0, visibility_timeout,
                                    message_attribute_names, *args, **kwargs)
                left = deadline - time.monotonic()
                if messages or left <= 0:
                    return messages
                queue._messages_lock.wait(min(left, 0.1))  # SendMessage notifies

    return receive_message


def _retention_only(original, seams):
    def retained(backend, queue_name, message):
        retention = float(backend.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > time.time()

    return retained


def _visible_now(original, seams):  # moto's times are epoch milliseconds
    return property(lambda message: time.time() * 1000 > message.visible_at)


def _delayed_now(original, seams):
    return property(lambda message: time.time() * 1000 < message.delayed_until)


def _numbered_fifo(original, seams):
    sequence = itertools.count(1)

    def send_message(backend, queue_name, *args, **kwargs):
        message = original(backend, queue_name, *args, **kwargs)
        if backend.get_queue(queue_name).fifo_queue:
            message.sequence_number = str(10**19 + next(sequence))
        return message

    return send_message


def _lab_delivers_to(protocols):
    """SNS's Subscription.publish, except for the protocols the lab delivers itself."""

    def make(original, seams):
        def publish(subscription, *args, **kwargs):
            if subscription.protocol in protocols:
                return None
            return original(subscription, *args, **kwargs)

        return publish

    return make
def _stream_records_only(original, seams):
    """A DynamoDB stream keeps every change while it is enabled, numbered in order."""

    def add(shard, old, new):
        spec = shard.table.stream_specification or {}
        if not spec.get("StreamEnabled"):
            return  # a disabled stream stays readable and takes no new records
        from moto.dynamodb.models.table import StreamRecord

        with _STREAM_LOCK:
            number = shard.starting_sequence_number + len(shard.items)
            shard.items.append(StreamRecord(shard.table, spec["StreamViewType"],
                                            "INSERT" if old is None else
                                            "REMOVE" if new is None else "MODIFY",
                                            old, new, number))

    return add


def _streams_enabled_and_disabled(original, seams):
    def update_table_streams(backend, table, specification):
        enable = bool(specification.get("StreamEnabled"))
        current = table.stream_specification or {}
        if enable and current.get("StreamEnabled"):
            from moto.dynamodb.exceptions import StreamAlreadyEnabledException

            raise StreamAlreadyEnabledException
        if enable:  # a new stream, with a new label and ARN
            table.set_stream_specification(dict(specification))
        elif current.get("StreamEnabled"):
            table.stream_specification = {**current, "StreamEnabled": False}

    return update_table_streams


_STREAM_LOCK = threading.Lock()
_KINESIS_FIRST = 49_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000
_kinesis_numbers = itertools.count(1)


def _kinesis_numbered(original, seams):
    """Sequence numbers as Kinesis gives them: long, unique in the stream, increasing."""

    def put_record(shard, partition_key, data, explicit_hash_key):
        from moto.kinesis.models import Record

        with _STREAM_LOCK:
            number = _KINESIS_FIRST + next(_kinesis_numbers)
            shard.records[number] = Record(partition_key, data, number, explicit_hash_key)
        return str(number)

    return put_record


def _kinesis_read_locked(original, seams):
    def get_records(shard, last_sequence_id, limit):
        with _STREAM_LOCK:
            return original(shard, last_sequence_id, limit)

    return get_records
def _statement_as_aws_writes_it(original, seams):
    """AddPermission's statement as AWS writes it: FunctionUrlAuthType and
    InvokedViaFunctionUrl become conditions, an account or IAM ARN principal ``{"AWS": ...}``."""

    def decode_policy(policy, obj):
        auth_type = obj.pop("FunctionUrlAuthType", None)
        via_url = obj.pop("InvokedViaFunctionUrl", None)
        decoded = original(policy, obj)
        statement = decoded.statements[0]
        principal = statement.get("Principal")
        if isinstance(principal, str) and principal != "*":
            statement["Principal"] = {"AWS": f"arn:aws:iam::{principal}:root"
                                      if principal.isdigit() else principal}
        if auth_type is not None or via_url:
            condition = statement.setdefault("Condition", {})
            if auth_type is not None:
                condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = auth_type
            if via_url:
                condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
        return decoded

    return decode_policy


def _associations_kept(original, seams):
    """The cache behaviour class, keeping the LambdaFunctionAssociations it was given
    (moto's replaces them with an empty list); the front has checked them already
    (front_doors/cloudfront_control.py)."""

    class KeepsAssociations(original):
        def __init__(self, config):
            super().__init__(config)
            given = config.get("LambdaFunctionAssociations") or {}
            items = [dict(item, IncludeBody=bool(item.get("IncludeBody", False)))
                     for item in given.get("Items") or []]
            self.lambda_function_associations = (
                {"Quantity": len(items), "Items": items} if items else {"Quantity": 0})

    KeepsAssociations.__name__ = KeepsAssociations.__qualname__ = original.__name__
    return KeepsAssociations


_LAMBDA = "moto.awslambda.models"
_CLOUDWATCH = "moto.cloudwatch.models.CloudWatchBackend"
_SQS = "moto.sqs.models"
_SNS = "moto.sns.models"
PATCHES = (
    Patch("*", f"{_LAMBDA}.LambdaFunction", "invoke",
          ("self", "body", "request_headers", "response_headers"),
          "moto runs functions only in Docker; the lab runs them in its own environments",
          _lab_invokes),
    Patch("*", "moto.awslambda_simple.models.LambdaSimpleBackend", "invoke",
          ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
          "with moto's config lambda.use_docker=false, moto answers with canned text",
          _through_the_lab_backend),
    Patch("*", "moto.iam.access_control.IAMRequestBase", "check_signature", ("self",),
          "the front checks every signature itself (helpers/cloud/signatures.py); moto's own "
          "check hashes a GET's headers as if they were its body", _nothing),
    Patch("s3", "moto.s3.notifications", "send_event",
          ("account_id", "event_name", "bucket", "key"),
          "the lab sends S3's event notifications itself (push/s3.py), asynchronously",
          _nothing),
    Patch("s3", "moto.s3.notifications", "send_test_event", ("account_id", "bucket"),
          "the lab sends s3:TestEvent itself, with the request's own ids", _nothing),
    Patch("sqs", f"{_SQS}.SQSBackend", "receive_message",
          ("self", "queue_name", "count", "wait_seconds_timeout", "visibility_timeout"),
          "receives hold the queue's lock, forget expired visibility first (FIFO order) "
          "and long-poll every 0.1 s", _receive_in_order),
    Patch("sqs", f"{_SQS}.SQSBackend", "change_message_visibility",
          ("self", "queue_name", "receipt_handle", "visibility_timeout"),
          "moto changes visibility without the queue's lock", _locked(_queue_by_name)),
    Patch("sqs", f"{_SQS}.SQSBackend", "send_message_batch", ("self", "queue_name", "entries"),
          "a batch reaches receivers whole", _locked(_queue_by_name)),
    Patch("sqs", f"{_SQS}.Queue", "delete_message", ("self", "receipt_handle"),
          "moto's delete replaces the message list while a send may append to it",
          _locked(lambda queue, *args, **kwargs: queue)),
    Patch("sqs", f"{_SQS}.SQSBackend", "send_message", ("self", "queue_name"),
          "FIFO messages get a SequenceNumber, increasing in send order", _numbered_fifo),
    Patch("sqs", f"{_SQS}.SQSBackend", "is_message_valid_based_on_retention_period",
          ("self", "queue_name", "message"),
          "moto computes every queue attribute for each message it returns", _retention_only),
    Patch("sqs", f"{_SQS}.Message", "visible", None,
          "moto reads the clock with datetime arithmetic for every message", _visible_now),
    Patch("sqs", f"{_SQS}.Message", "delayed", None,
          "moto reads the clock with datetime arithmetic for every message", _delayed_now),
    Patch("sns", f"{_SNS}.Subscription", "publish", ("self", "message", "message_id"),
          "moto invokes a subscribed function synchronously inside Publish, with placeholder "
          "values, and filters with a matcher of its own; the lab delivers to functions and "
          "queues itself (push/sns.py), asynchronously, with one matcher",
          _lab_delivers_to(("lambda", "sqs"))),
    Patch("sns", f"{_SNS}.SNSBackend", "_validate_filter_policy", ("self", "value", "scope"),
          "moto refuses valid filter policies (cidr, for one); the lab checks them at the "
          "front before moto stores them (push/sns.py)", _nothing),
    Patch("dynamodb", "moto.dynamodb.models.table.StreamShard", "add", ("self", "old", "new"),
          "moto invokes the functions it maps itself inside PutItem and then forgets the "
          "shard's records (sequence numbers start again); the lab's pollers read the stream "
          "with GetRecords, and a disabled stream takes no new records", _stream_records_only),
    Patch("dynamodb", "moto.dynamodb.models.DynamoDBBackend", "update_table_streams",
          ("self", "table", "stream_specification"),
          "moto forgets a disabled stream's view type (DescribeStream and PutItem then fail) "
          "and refuses to enable a stream again", _streams_enabled_and_disabled),
    Patch("kinesis", "moto.kinesis.models.Shard", "put_record",
          ("self", "partition_key", "data", "explicit_hash_key"),
          "moto numbers a shard's records 1, 2, ... without a lock: concurrent writers can "
          "get the same number, and a reader can fail while a writer appends",
          _kinesis_numbered),
    Patch("kinesis", "moto.kinesis.models.Shard", "get_records",
          ("self", "last_sequence_id", "limit"),
          "GetRecords reads the shard under the lock its writers hold", _kinesis_read_locked),
    Patch("cloudwatch", _CLOUDWATCH, "get_metric_statistics",
          ("self", "namespace", "metric_name", "start_time", "end_time", "period", "stats",
           "dimensions"),
          "moto adds up every metric whose dimensions include those asked for (FunctionName "
          "would count each invocation once per dimension set); CloudWatch matches them "
          "exactly (cloud/cloudwatch.py)", exact_metric_statistics),
    Patch("cloudwatch", _CLOUDWATCH, "get_metric_data",
          ("self", "queries", "start_time", "end_time"),
          "moto matches a query without dimensions to every metric of that name, ignores "
          "the namespace of one with dimensions, and does no metric math", exact_metric_data),
    Patch("*", "moto.awslambda.policy.Policy", "decode_policy", ("self", "obj"),
          "moto keeps AddPermission's FunctionUrlAuthType and InvokedViaFunctionUrl as stray "
          "keys and an account or IAM ARN principal as a bare string; AWS writes conditions "
          "and {\"AWS\": ...}, which function URLs check (front_doors/function_url_access.py). "
          "No hook can: moto decodes every object of the request's JSON as a statement",
          _statement_as_aws_writes_it),
    Patch("cloudfront", "moto.cloudfront.models", "DefaultCacheBehaviour", None,
          "moto drops a cache behaviour's LambdaFunctionAssociations (Quantity comes back 0); "
          "the lab's edge runs them (front_doors/cloudfront.py). No hook can: moto builds the "
          "returned distribution from its own objects", _associations_kept),
    Patch("cloudfront", "moto.cloudfront.models", "CacheBehaviour", None,
          "the same for the behaviours with a path pattern (a subclass of the default one)",
          _associations_kept),
)

# Attributes of moto objects the replacements above use.
RELIED_ON = {
    f"{_SQS}.Queue": ("_messages_lock", "_pending_messages", "fifo_queue",
                      "message_retention_period"),
    f"{_SQS}.Message": ("visible_at", "delayed_until", "sent_timestamp", "sequence_number"),
    "moto.kinesis.models.Shard": ("records",),
}


# -- the table at work ----------------------------------------------------------------------


def resolve(dotted: str):
    """The module or class at ``dotted``; AttributeError if it is not there."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for part in parts[end:]:
            found = getattr(found, part)
        return found
    raise AttributeError(dotted)


def _check_row(patch: Patch) -> str | None:
    where = f"{patch.owner}.{patch.name}"
    try:
        owner = resolve(patch.owner)
        target = inspect.getattr_static(owner, patch.name)
    except AttributeError:
        return f"{where}: missing"
    if patch.parameters is None:
        return None
    function = getattr(target, "__func__", target)
    try:
        found = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return None
    if found[:len(patch.parameters)] != list(patch.parameters):
        return (f"{where}: parameters ({', '.join(found)}), expected "
                f"({', '.join(patch.parameters)}, ...)")
    return None


class Patches:
    """The table's rows, installed per service and undone together."""

    def __init__(self, seams, table=PATCHES):
        self.seams = seams
        self.table = table
        self._originals: list[tuple[object, str, object]] = []
        self._services: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def check(table=PATCHES) -> list[str]:
        """What moved in moto since the lab was written (an empty list: nothing)."""
        problems = [problem for problem in map(_check_row, table) if problem]
        for owner, names in RELIED_ON.items():
            try:
                cls = resolve(owner)
            except AttributeError:
                problems.append(f"{owner}: missing")
                continue
            sample = _sample(cls)
            problems += [f"{owner}.{name} (an attribute of its objects): missing"
                         for name in names if sample is not None and not hasattr(sample, name)]
        return problems

    def install(self, service: str) -> None:
        """Apply the rows for ``service`` (and those for every service), once."""
        if service in self._services:
            return
        with self._lock:
            if service in self._services:
                return
            rows = [p for p in self.table if p.service not in self._services
                    and p.service in (service, "*")]
            problems = [problem for problem in map(_check_row, rows) if problem]
            if problems:
                import moto

                raise LabError(
                    f"moto {moto.__version__} no longer has what the lab changes in it:\n  - "
                    + "\n  - ".join(problems) + "\nReinstall the project (python3 tasks.py "
                    "lab) for the tested moto, or update helpers/cloud/patches.py.")
            for patch in rows:
                owner = resolve(patch.owner)
                original = inspect.getattr_static(owner, patch.name)
                callable_original = getattr(owner, patch.name)
                self._originals.append((owner, patch.name, original))
                setattr(owner, patch.name, patch.make(callable_original, self.seams))
            self._services.update({service, "*"})

    @property
    def installed(self) -> list[str]:
        return [f"{getattr(owner, '__name__', owner)}.{name}"
                for owner, name, _ in self._originals]

    def uninstall(self) -> None:
        """Put every original back, newest first."""
        with self._lock:
            while self._originals:
                owner, name, original = self._originals.pop()
                setattr(owner, name, original)
            self._services.clear()


def _sample(cls):
    """An object of ``cls`` made as moto makes one, to check its attributes; None if the
    lab does not know how."""
    if cls.__name__ == "Queue":
        return cls("lab-self-check", "us-east-1", "123456789012")
    if cls.__name__ == "Message":
        return cls("lab-self-check", "body")
    if cls.__name__ == "Shard":
        return cls(0, 0, 2**128)
    return None
