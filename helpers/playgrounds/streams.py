"""The shard view's logic: a stream, a function that reads it, and each shard's story.

Plain classes, no widgets: ``helpers.shard_view`` and ``helpers.table_stream_view`` draw
them, notebooks and tests drive them directly. ``StreamViewModel`` is what both sources
share: with plain boto3 it sets up a function that fails every batch holding a "poison"
record, an SQS queue for the mapping's on-failure destination, and the event source
mapping. ``put()`` writes records (one of them poison, if asked); ``shard_rows()`` says
per shard what was read, where the checkpoint is, what is being invoked, and how often;
``batch_rows()`` lists the batches, read from the lab's trace. Its sources:

- ``ShardViewModel``: a Kinesis stream of two shards; a record is poison when its text
  says so (notebook 13);
- ``TableStreamViewModel``: a DynamoDB table of orders with a stream (one shard in the
  lab); an order of quantity 0 is poison (notebook 05).

Shaped like the other playground models (``_setup``, ``_resources_exist``,
``ensure_ready``, ``function_arns``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from ..errors import LabError
from .base import wait_until

MAX_PUT = 50
SHARDS = 2
KINESIS_FUNCTION = '''
import base64
import json


def lambda_handler(event, context):
    texts = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    print(f"Batch of {len(texts)}: {texts}")
    if any("poison" in text for text in texts):
        raise ValueError("a poison record is in this batch")
'''
TABLE_FUNCTION = '''
def lambda_handler(event, context):
    orders = [(r["dynamodb"]["Keys"]["order_id"]["S"],
               int(r["dynamodb"].get("NewImage", {}).get("quantity", {}).get("N", "1")))
              for r in event["Records"]]
    print(f"Batch of {len(orders)}: {orders}")
    if any(quantity == 0 for _, quantity in orders):
        raise ValueError("an order of quantity 0 is in this batch")
'''

__all__ = ["ShardViewError", "ShardViewModel", "StreamSettings", "StreamViewModel",
           "TableStreamViewModel", "record_ends", "stream_batches"]


def stream_batches(lab, mapping_uuid: str, label=None) -> list[dict]:
    """The batches a stream mapping has invoked so far, and the records it gave up on.

    Each row, oldest first: ``number`` (1, 2, ...; ``"-"`` for discarded records),
    ``shard``, ``records`` (``label(sequence_number)`` of each, the sequence number itself
    by default), ``attempt``, ``outcome`` (``success``, ``error``, ``partial``, ...;
    ``invoking…`` while it runs; for discarded records the condition) and ``then`` (what
    Lambda did next: ``done``, ``retry``, ``bisect``, ``discard``, or where discarded
    records went). Read from the lab's trace. Introduced in notebook 05.
    """
    label = label or (lambda sequence: sequence)
    rows, by_batch = [], {}
    for event in lab.trace.events("batch", mapping=mapping_uuid):
        if event.kind == "batch.start":
            row = {"number": event["number"], "shard": event["shard"],
                   "records": [label(s) for s in event["sequence_numbers"]],
                   "attempt": event["attempt"], "outcome": "invoking…", "then": "",
                   "start": event.time, "end": None, "request_id": None}
            by_batch[event["batch"]] = row
            rows.append(row)
        elif event.kind == "batch.end" and event["batch"] in by_batch:
            by_batch[event["batch"]].update(outcome=event["outcome"], then=event["then"],
                                            end=event.time, request_id=event["request_id"])
        elif event.kind == "batch.discarded":
            rows.append({"number": "-", "shard": event["shard"],
                         "records": [label(s) for s in event["sequence_numbers"]],
                         "attempt": event["invoke_count"], "outcome": event["condition"],
                         "then": "to the on-failure destination" if event["delivered"]
                         else "discarded (no destination)", "start": event.time,
                         "end": event.time, "request_id": None})
    return rows


def record_ends(lab, mapping_uuid: str) -> dict[str, str]:
    """How each record a stream mapping has finished with ended, by sequence number:
    ``"processed"``, ``"filtered out"``, or the condition it was discarded under
    (``"RetryAttemptsExhausted"``, ``"RecordAgeExceeded"``). Read from the lab's trace.
    Introduced in notebook 05."""
    ends = {}
    for event in lab.trace.events("batch", mapping=mapping_uuid):
        if event.kind == "batch.end":
            ends.update(dict.fromkeys(event["processed"], "processed"))
        elif event.kind == "batch.filtered":
            ends.update(dict.fromkeys(event["sequence_numbers"], "filtered out"))
        elif event.kind == "batch.discarded":
            ends.update(dict.fromkeys(event["sequence_numbers"], event["condition"]))
    return ends


class ShardViewError(LabError):
    """Bad input in the shard view, with a message for the learner."""


@dataclass
class StreamSettings:
    batch_size: int = 4
    bisect: bool = True
    max_retries: int = 2


class StreamViewModel:
    """Settings, ``put()`` and per-shard views of one stream's mapping. A subclass names
    its source: ``_create_source`` (its stream's ARN), ``_source_exists`` and ``_write``."""

    function_source = ""
    source_word = "stream"

    def __init__(self, lab, name: str):
        self.lab = lab
        self.stream_name = name
        self.function_name = f"{name}-processor"
        self.queue_name = f"{name}-failures"
        self.settings = StreamSettings()
        self.written: dict[str, str] = {}  # sequence number -> the record's text
        self.next_record = 1
        self._lock = threading.RLock()
        self._lambda = boto3.client("lambda")
        self._sqs = boto3.client("sqs")
        self.stream_arn = self.mapping_uuid = self.function_arn = self.queue_url = None
        self._setup()

    # -- what a source says ----------------------------------------------------------------

    def _create_source(self) -> str:
        raise NotImplementedError

    def _source_exists(self) -> None:
        """Raises ClientError if the source is gone."""
        raise NotImplementedError

    def _write(self, number: int, poison: bool, key: str | None) -> None:
        """Write record ``number``; record its sequence number and text in ``written``."""
        raise NotImplementedError

    def _written_all(self) -> None:
        """After a put's writes (a source that learns its sequence numbers later)."""

    # -- set-up --------------------------------------------------------------------------

    def _setup(self) -> None:
        self.stream_arn = self._create_source()
        self.queue_url = self._sqs.create_queue(QueueName=self.queue_name)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        config = self.lab.deploy(self.function_name, self.function_source, timeout=3)
        self.function_arn = config["FunctionArn"].rsplit(":$LATEST", 1)[0]
        existing = self._lambda.list_event_source_mappings(
            EventSourceArn=self.stream_arn, FunctionName=self.function_name)["EventSourceMappings"]
        if existing:
            self.mapping_uuid = existing[0]["UUID"]
        else:
            self.mapping_uuid = self._lambda.create_event_source_mapping(
                EventSourceArn=self.stream_arn, FunctionName=self.function_name,
                StartingPosition="LATEST", MaximumBatchingWindowInSeconds=1,
                DestinationConfig={"OnFailure": {"Destination": queue_arn}},
                **self._mapping_settings())["UUID"]
        self._wait_enabled()

    def _resources_exist(self) -> bool:
        try:
            self._source_exists()
            self._lambda.get_function_configuration(FunctionName=self.function_name)
            state = self._lambda.get_event_source_mapping(UUID=self.mapping_uuid)["State"]
        except ClientError:
            return False
        return state not in ("Deleting", "Disabled", "Disabling")

    def ensure_ready(self) -> bool:
        """Set the resources up again if the notebook's clean-up deleted them."""
        with self._lock:
            try:
                if self._resources_exist():
                    return False
            except Exception:  # noqa: BLE001 - the lab stopped: set up again
                pass
            self.written.clear()  # records of the old mapping: the new one never ends them
            self._setup()
            return True

    def function_arns(self) -> list[str]:
        return [self.function_arn]

    def _mapping_settings(self) -> dict:
        s = self.settings
        return {"BatchSize": s.batch_size, "BisectBatchOnFunctionError": s.bisect,
                "MaximumRetryAttempts": s.max_retries}

    def _wait_enabled(self, timeout: float = 10.0) -> None:
        wait_until(lambda: self._lambda.get_event_source_mapping(
            UUID=self.mapping_uuid)["State"] == "Enabled", timeout,
            f"the mapping of {self.stream_name} to be Enabled")

    # -- input ---------------------------------------------------------------------------

    def apply(self) -> None:
        """Send the settings to Lambda (UpdateEventSourceMapping)."""
        s = self.settings
        if not 1 <= s.batch_size <= 100 or not -1 <= s.max_retries <= 10:
            raise ShardViewError("Batch size 1 to 100, retries -1 (forever) to 10.")
        self._lambda.update_event_source_mapping(UUID=self.mapping_uuid,
                                                 **self._mapping_settings())
        self._wait_enabled()

    def put(self, count: int = 6, poison_at: int | None = None, key: str | None = None
            ) -> list[str]:
        """Write ``count`` records (``poison_at``: which one, from 1, is poison); their
        sequence numbers. ``key``: one partition key for all (where the source has them)."""
        if not 1 <= count <= MAX_PUT:
            raise ShardViewError(f"Put between 1 and {MAX_PUT} records at once.")
        self.ensure_ready()
        self.apply()
        with self._lock:
            before = set(self.written)
            for index in range(1, count + 1):
                self._write(self.next_record, index == poison_at, key)
                self.next_record += 1
            self._written_all()
            return [sequence for sequence in self.written if sequence not in before]

    # -- what happened -------------------------------------------------------------------

    def _label(self, sequence: str) -> str:
        return self.written.get(sequence, sequence[-6:])

    def batch_rows(self, limit: int = 30) -> list[dict]:
        """The latest batches: shard, records, attempt, outcome and what Lambda did next."""
        rows = stream_batches(self.lab, self.mapping_uuid, self._label)[-limit:]
        for row in rows:
            row["shard"] = self._shard_label(row["shard"])
        return rows

    @staticmethod
    def _shard_label(shard_id: str) -> str:
        return shard_id[-3:]  # Kinesis: shardId-000000000001 is 001

    def shard_rows(self) -> list[dict]:
        """Per shard: records read, the checkpoint, the batch in flight and its attempt,
        and the iterator age of the latest batch (ms)."""
        poller = self.lab.event_source_mappings.poller(self.mapping_uuid)
        if poller is None:
            return []
        rows = []
        for shard_id, reader in sorted(poller.readers.items()):
            flight = [s for slot in reader.slots for s in slot.in_flight]
            attempts = [slot.retries + 1 for slot in reader.slots if slot.in_flight]
            starts = self.lab.trace.events("batch.start", mapping=self.mapping_uuid,
                                           shard=shard_id)
            rows.append({
                "shard": shard_id, "waiting": reader.pending,
                "checkpoint": self._label(reader.checkpoint) if reader.checkpoint else "-",
                "in_flight": [self._label(s) for s in flight],
                "attempt": max(attempts) if attempts else "-",
                "blocked": bool(attempts) and max(attempts) > 1,
                "iterator_age_ms": starts[-1]["iterator_age_ms"] if starts else "-"})
        return rows

    def failure_records(self) -> list[dict]:
        """What the on-failure destination (an SQS queue) holds, without consuming it."""
        messages = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                             VisibilityTimeout=0).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def settled(self) -> bool:
        """True once every record put from here has ended (processed or discarded)."""
        ends = record_ends(self.lab, self.mapping_uuid)
        with self._lock:
            return all(sequence in ends for sequence in self.written)

    def wait(self, timeout: float = 30.0) -> bool:
        """Until every record written has ended (processed or discarded); False after
        ``timeout`` seconds."""
        try:
            return wait_until(self.settled, timeout, "every shard to catch up", 0.1)
        except TimeoutError:
            return False


class ShardViewModel(StreamViewModel):
    """A Kinesis stream of two shards; a record is poison when its text says so."""

    function_source = KINESIS_FUNCTION

    def __init__(self, lab, name: str = "shard-demo"):
        self._kinesis = boto3.client("kinesis")
        super().__init__(lab, name)

    def _create_source(self) -> str:
        try:
            self._kinesis.create_stream(StreamName=self.stream_name, ShardCount=SHARDS)
        except self._kinesis.exceptions.ResourceInUseException:
            pass  # a notebook cell run twice
        return self._kinesis.describe_stream_summary(StreamName=self.stream_name)[
            "StreamDescriptionSummary"]["StreamARN"]

    def _source_exists(self) -> None:
        self._kinesis.describe_stream_summary(StreamName=self.stream_name)

    def _write(self, number: int, poison: bool, key: str | None) -> None:
        text = f"record {number}" + (" poison" if poison else "")
        answer = self._kinesis.put_record(StreamName=self.stream_name, Data=text.encode(),
                                          PartitionKey=key or f"key-{number}")
        self.written[answer["SequenceNumber"]] = text


class TableStreamViewModel(StreamViewModel):
    """A DynamoDB table of orders (``order_id``, ``quantity``) with a stream; an order of
    quantity 0 is poison. PutItem answers no sequence number: after the writes, the model
    reads the new records with the DynamoDB Streams API, as any consumer can."""

    function_source = TABLE_FUNCTION
    source_word = "table"

    def __init__(self, lab, name: str = "orders-view"):
        self._dynamodb = boto3.client("dynamodb")
        self._streams = boto3.client("dynamodbstreams")
        self._texts: dict[str, str] = {}  # order id -> text, until its record is read
        self._read_up_to: dict[str, str] = {}  # shard id -> last sequence number read
        super().__init__(lab, name)

    @property
    def table_name(self) -> str:
        return self.stream_name

    def _create_source(self) -> str:
        try:
            self._dynamodb.create_table(
                TableName=self.table_name, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        except self._dynamodb.exceptions.ResourceInUseException:
            pass  # a notebook cell run twice
        arn = self._dynamodb.describe_table(TableName=self.table_name)["Table"][
            "LatestStreamArn"]
        if arn != self.stream_arn:
            self._read_up_to.clear()  # a new table: a new stream
        return arn

    def _source_exists(self) -> None:
        self._dynamodb.describe_table(TableName=self.table_name)

    @staticmethod
    def _shard_label(shard_id: str) -> str:
        return shard_id.rsplit("-", 1)[-1]  # shardId-00000001541626099285-f35f62ef

    def _write(self, number: int, poison: bool, key: str | None) -> None:
        order, quantity = f"o-{number}", 0 if poison else number % 3 + 1
        self._dynamodb.put_item(TableName=self.table_name, Item={
            "order_id": {"S": order}, "quantity": {"N": str(quantity)}})
        self._texts[order] = f"{order} qty {quantity}"

    def _written_all(self) -> None:
        wait_until(self._read_new_records, 10.0, f"the stream of {self.table_name}")

    def _read_new_records(self) -> bool:
        """Read each shard past what was read before; True once every write is seen."""
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)[
            "StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            after = self._read_up_to.get(shard_id)
            where = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                     if after else {"ShardIteratorType": "TRIM_HORIZON"})
            iterator = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, **where)["ShardIterator"]
            while iterator:
                answer = self._streams.get_records(ShardIterator=iterator)
                for record in answer["Records"]:
                    sequence = record["dynamodb"]["SequenceNumber"]
                    order = record["dynamodb"]["Keys"]["order_id"]["S"]
                    if order in self._texts:
                        self.written[sequence] = self._texts.pop(order)
                    self._read_up_to[shard_id] = sequence
                if not answer["Records"]:
                    break
                iterator = answer.get("NextShardIterator")
        return not self._texts
