"""The Firehose buffer view's logic: clicks sent to a delivery stream, and where each went.

A plain class, no widgets: ``helpers.firehose_view`` draws it, notebooks and tests drive
it directly. It sets up, with plain boto3, a bucket, a function that cleans clickstream
records (bots ``Dropped``, malformed ones ``ProcessingFailed``, the rest enriched and
``Ok``) and a delivery stream that invokes it. ``send()`` puts a batch of clicks with
``PutRecordBatch``; what followed is read from the lab's trace: the records waiting in
the processor buffer (against its size and interval), each invocation with its Ok /
Dropped / ProcessingFailed counts, and the objects written to S3. Introduced in
notebook 11.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field

import boto3
from botocore.exceptions import ClientError

from .base import PlaygroundBase, PlaygroundInputError, wait_until

MIB = 1024 * 1024
MAX_RECORDS = 500  # one PutRecordBatch
PAGES = ("home", "shoes", "cart", "checkout")
ROLE = "arn:aws:iam::{account}:role/firehose-delivery"

CLEANER_SOURCE = '''
import base64
import json


def lambda_handler(event, context):
    records = []
    for record in event["records"]:
        try:
            click = json.loads(base64.b64decode(record["data"]))
            page = click["page"]
        except (ValueError, KeyError, TypeError):
            records.append({"recordId": record["recordId"], "result": "ProcessingFailed",
                            "data": record["data"]})
            continue
        if click.get("agent") == "bot":
            records.append({"recordId": record["recordId"], "result": "Dropped",
                            "data": record["data"]})
            continue
        click["section"] = "shop" if page in ("cart", "checkout") else "browse"
        data = base64.b64encode((json.dumps(click) + "\\n").encode()).decode()
        records.append({"recordId": record["recordId"], "result": "Ok", "data": data})
    print(f"{len(records)} records from {event['deliveryStreamArn'].rsplit('/', 1)[-1]}")
    return {"records": records}
'''

__all__ = ["FirehoseBufferModel", "FirehoseBufferError", "Sent", "firehose_invocations",
           "firehose_record_ends"]


def firehose_invocations(lab, stream: str, since: float = 0.0) -> list[dict]:
    """One row per invocation of the transformation function by delivery stream
    ``stream`` (since ``since``, a ``time.time()``): its batch, what ended the buffer
    ("size" or "interval"), records, bytes, attempt, outcome and the Ok / Dropped /
    ProcessingFailed counts. Introduced in notebook 11."""
    batches = {b["batch"]: b for b in lab.trace.events("firehose.batch", stream=stream)}
    rows = []
    for event in lab.trace.events("firehose.invocation", stream=stream):
        if event.time < since:
            continue
        batch = batches.get(event["batch"])
        counts = {k: len(v) for k, v in event["results"].items()}
        rows.append({"when": event.time, "batch": event["batch"],
                     "trigger": batch["trigger"] if batch else "",
                     "records": len(batch["record_ids"]) if batch else 0,
                     "bytes": batch["bytes"] if batch else 0, "attempt": event["attempt"],
                     "outcome": event["outcome"] + (f" ({event['error_code']})"
                                                    if event.get("error_code") else ""),
                     "ok": counts.get("Ok", 0), "dropped": counts.get("Dropped", 0),
                     "failed": counts.get("ProcessingFailed", 0)})
    return rows


def firehose_record_ends(lab, stream: str) -> dict[str, str]:
    """How each record of delivery stream ``stream`` has ended so far, by record id:
    "delivered to KEY", "failed, under KEY" (the error output), "dropped" (by the
    function) or "lost: why". A record not there yet is still in a buffer. Introduced in
    notebook 11."""
    ends = {}
    for event in lab.trace.events("firehose", stream=stream):
        if event.kind == "firehose.delivered":
            end = (f"delivered to {event['key']}" if event["output"] == "data"
                   else f"failed, under {event['key']}")
            ends.update(dict.fromkeys(event["record_ids"], end))
        elif event.kind == "firehose.lost":
            ends.update(dict.fromkeys(event["record_ids"], f"lost: {event['reason']}"))
        elif event.kind == "firehose.invocation":
            ends.update(dict.fromkeys(event["results"].get("Dropped", []), "dropped"))
    return ends


class FirehoseBufferError(PlaygroundInputError):
    """Bad input in the Firehose buffer view, with a message for the learner."""


@dataclass
class Sent:
    """One PutRecordBatch the view made."""

    count: int
    record_ids: list = field(default_factory=list)
    failed: int = 0
    error: str | None = None
    at: float = field(default_factory=time.time)


class FirehoseBufferModel(PlaygroundBase):
    """Settings, ``send()`` that uses them, and views of the buffer, the invocations and
    the objects."""

    def __init__(self, lab, name: str = "clicks-demo"):
        super().__init__(lab)
        self.name = name
        self.bucket = f"{name}-lake"
        self.function_name = f"{name}-clean"
        self.buffer_mb = 1.0
        self.interval_s = 5
        self.count = 20
        self.record_bytes = 200
        self.bots = 0.2  # the share of clicks from bots
        self.malformed = 0.1  # ... and of records that are not JSON
        self.sent: list[Sent] = []
        self._applied = None
        self._firehose = boto3.client("firehose")
        self._s3 = boto3.client("s3")
        self._lambda = boto3.client("lambda")
        self.function_arn = None
        self._setup()

    # -- set-up ----------------------------------------------------------------------------

    def _processing(self) -> dict:
        parameters = {"LambdaArn": self.function_arn, "BufferSizeInMBs": f"{self.buffer_mb:g}",
                      "BufferIntervalInSeconds": str(self.interval_s)}
        return {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
            {"ParameterName": k, "ParameterValue": v} for k, v in parameters.items()]}]}

    def _setup(self) -> None:
        self._s3.create_bucket(Bucket=self.bucket)
        config = self.lab.deploy(self.function_name, CLEANER_SOURCE, timeout=30)
        self.function_arn = config["FunctionArn"].rsplit(":$LATEST", 1)[0]
        account = self.function_arn.split(":")[4]
        try:
            self._firehose.delete_delivery_stream(DeliveryStreamName=self.name)
        except ClientError:
            pass  # there was none
        self._firehose.create_delivery_stream(
            DeliveryStreamName=self.name, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE.format(account=account),
                "BucketARN": f"arn:aws:s3:::{self.bucket}", "Prefix": "clicks/",
                "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
                "ProcessingConfiguration": self._processing()})
        self._applied = (self.buffer_mb, self.interval_s)

    def _resources_exist(self) -> bool:
        try:
            self._s3.head_bucket(Bucket=self.bucket)
            self._lambda.get_function_configuration(FunctionName=self.function_name)
            self._firehose.describe_delivery_stream(DeliveryStreamName=self.name)
        except ClientError:
            return False
        return True

    def function_arns(self) -> list[str]:
        return [self.function_arn]

    def timeline_labels(self) -> dict:
        return {i["request_id"]: f"batch {i['batch']}" for i in self._invocations()
                if i.get("request_id")}

    # -- sending ---------------------------------------------------------------------------

    def check(self) -> None:
        """A FirehoseBufferError if a setting is out of range."""
        if not 0.2 <= float(self.buffer_mb) <= 3:
            raise FirehoseBufferError("The processor's buffer size is 0.2 to 3 MB.")
        if not (isinstance(self.interval_s, int) and 0 <= self.interval_s <= 900):
            raise FirehoseBufferError("The processor's buffer interval is 0 to 900 seconds.")
        if not (isinstance(self.count, int) and 1 <= self.count <= MAX_RECORDS):
            raise FirehoseBufferError(f"Send 1 to {MAX_RECORDS} records at a time "
                                      "(one PutRecordBatch).")
        if not (isinstance(self.record_bytes, int) and 50 <= self.record_bytes <= 8000):
            raise FirehoseBufferError("A record is 50 to 8,000 bytes here.")
        if not (0 <= self.bots <= 1 and 0 <= self.malformed <= 1):
            raise FirehoseBufferError("The shares of bots and malformed records are 0 to 1.")

    def clicks(self) -> list[bytes]:
        """``count`` records as the settings say: clicks, some of bots, some malformed."""
        chooser = random.Random(len(self.sent))
        records = []
        for n in range(self.count):
            draw = chooser.random()
            if draw < self.malformed:
                body = f"user=u{n};page=home"
                records.append((body + " " * max(self.record_bytes - len(body), 0)).encode())
                continue
            click = {"user": f"u{chooser.randrange(1000)}", "page": chooser.choice(PAGES),
                     "agent": "bot" if draw < self.malformed + self.bots else "browser"}
            pad = self.record_bytes - len(json.dumps({**click, "pad": ""}))
            click["pad"] = "x" * max(pad, 0)
            records.append(json.dumps(click).encode())
        return records

    def send(self) -> Sent:
        """PutRecordBatch with the records the settings describe."""
        self.check()
        self.ensure_ready()
        self._apply()
        sent = Sent(self.count)
        try:
            answer = self._firehose.put_record_batch(
                DeliveryStreamName=self.name, Records=[{"Data": d} for d in self.clicks()])
        except ClientError as error:
            sent.error = f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
        else:
            sent.failed = answer["FailedPutCount"]
            sent.record_ids = [e["RecordId"] for e in answer["RequestResponses"]
                               if "RecordId" in e]
        with self._lock:
            self.sent.append(sent)
        return sent

    def _apply(self) -> None:
        """A new buffer size or interval: UpdateDestination (a new stream version)."""
        with self._lock:
            if self._applied == (self.buffer_mb, self.interval_s):
                return
            described = self._firehose.describe_delivery_stream(
                DeliveryStreamName=self.name)["DeliveryStreamDescription"]
            self._firehose.update_destination(
                DeliveryStreamName=self.name,
                CurrentDeliveryStreamVersionId=described["VersionId"],
                DestinationId=described["Destinations"][0]["DestinationId"],
                ExtendedS3DestinationUpdate={"ProcessingConfiguration": self._processing()})
            self._applied = (self.buffer_mb, self.interval_s)

    # -- what happened (from the trace) ---------------------------------------------------

    def _invocations(self) -> list:
        return self.lab.trace.events("firehose.invocation", stream=self.name)

    def _ids(self) -> set:
        with self._lock:
            return {i for sent in self.sent for i in sent.record_ids}

    def buffer(self) -> dict:
        """The processor buffer now: records, bytes, seconds waited, and its limits."""
        batched = {i for b in self.lab.trace.events("firehose.batch", stream=self.name)
                   for i in b["record_ids"]}
        waiting = [(e.time, i, e["bytes"] / len(e["record_ids"]))
                   for e in self.lab.trace.events("firehose.received", stream=self.name)
                   for i in e["record_ids"] if i not in batched]
        oldest = min((t for t, _, _ in waiting), default=None)
        size, interval = self._applied or (self.buffer_mb, self.interval_s)
        return {"records": len(waiting), "bytes": int(sum(b for _, _, b in waiting)),
                "limit_bytes": int(size * MIB), "waited_s": 0.0 if oldest is None else
                max(time.time() - oldest, 0.0), "interval_s": interval}

    def invocation_rows(self) -> list[dict]:
        """One row per invocation: its batch, why it started, how it ended, the counts."""
        return firehose_invocations(self.lab, self.name)

    def object_rows(self) -> list[dict]:
        """One row per object written to S3: key, data or errors, records, bytes."""
        return [{"when": e.time, "key": e["key"], "output": e["output"],
                 "records": len(e["record_ids"]), "bytes": e["bytes"]}
                for e in self.lab.trace.events("firehose.delivered", stream=self.name)]

    def record_ends(self) -> dict[str, str]:
        """How each record sent has ended so far: "delivered", "dropped", "failed" (under
        the error prefix) or "lost: why"."""
        return {record_id: "delivered" if end.startswith("delivered") else
                "failed" if end.startswith("failed") else end
                for record_id, end in firehose_record_ends(self.lab, self.name).items()}

    def pending(self) -> int:
        """Records sent that have not ended yet."""
        ends = self.record_ends()
        return sum(1 for i in self._ids() if i not in ends)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every record sent has ended; False if one has not after ``timeout``
        seconds (by default the buffer interval and a minute)."""
        limit = timeout if timeout is not None else self.interval_s + 60
        try:
            return wait_until(lambda: not self.pending(), limit,
                              "the records sent to end in S3 or as dropped")
        except TimeoutError:
            return False

    def describe(self) -> str:
        """What happened, as text (for code cells)."""
        ends = self.record_ends()
        lines = [f"Sent {sum(s.count for s in self.sent)} records in {len(self.sent)} "
                 f"batch(es); ended: " + ", ".join(
                     f"{v} {k}" for k, v in sorted(_count(ends[i] for i in self._ids()
                                                          if i in ends).items()))]
        for row in self.invocation_rows():
            lines.append(f"invocation of batch {row['batch']} ({row['records']} records, "
                         f"{row['trigger']}): Ok {row['ok']}, Dropped {row['dropped']}, "
                         f"ProcessingFailed {row['failed']}")
        for row in self.object_rows():
            lines.append(f"s3://{self.bucket}/{row['key'].rsplit('/', 1)[0]}/... "
                         f"({row['records']} records)")
        return "\n".join(lines)


def _count(values) -> dict:
    counts: dict = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
