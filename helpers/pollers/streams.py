"""What Lambda's pollers of DynamoDB Streams and Kinesis Data Streams share.

A stream mapping reads every shard of its stream in order, with the stream's own API
(``GetShardIterator``, ``GetRecords``), and invokes the function synchronously with
batches of that shard's records. Per shard:

- a reader (``ShardReader``) follows the shard from the mapping's ``StartingPosition``
  (``TRIM_HORIZON``, ``LATEST``, Kinesis's ``AT_TIMESTAMP``; after a disable, from the
  last checkpoint) and hands each record to one of ``ParallelizationFactor`` slots, chosen
  by the record's partition key, so that the records of one key stay in order;
- each slot (``helpers.pollers.stream_batches``) makes batches (``BatchSize``, the batching
  window, 6 MB, the tumbling window) and processes them one at a time: a failing batch
  blocks its slot until it succeeds, its records grow older than
  ``MaximumRecordAgeInSeconds`` or ``MaximumRetryAttempts`` run out; then the on-failure
  destination gets AWS's record about the batch and the shard moves on.

The shard's checkpoint is the last record before which every record has ended:
processed, filtered out, or discarded (with a trace record saying where it went).
Introduced in notebooks 05 and 13.

https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html

Trace records (besides ``mapping.state``, ``mapping.error`` and ``batch.throttled``):

- ``batch.start``: mapping, batch, number, shard, slot, sequence_numbers, keys (each
  record's partition key), attempt (1, 2, ... for this set of records), trigger, bytes,
  iterator_age_ms, window (tumbling windows: start and end, epoch seconds), final
- ``batch.end``: mapping, batch, request_id, outcome ("success", "partial", "error",
  "invalid response", "throttled", "lab error"), processed and retried (sequence
  numbers), error_type, then ("done", "retry", "bisect", "discard")
- ``batch.filtered``: records that matched no filter (mapping, shard, sequence_numbers)
- ``batch.discarded``: records Lambda gave up on: mapping, shard, sequence_numbers,
  condition ("RetryAttemptsExhausted", "RecordAgeExceeded"), invoke_count, destination,
  delivered, error
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import deque

from ..errors import LambdaApiError
from .base import Poller, Source
from .stream_batches import Slot

STARTING_POSITIONS = ("LATEST", "AT_TIMESTAMP", "TRIM_HORIZON")
MIN_RECORD_AGE_S = 60
SHARD_REFRESH_S = 5.0  # how often new shards are looked for
READ_ERROR_WAIT_S = 1.0
GATHERING_READ_S = 0.1  # between reads while a slot's batching window is open
STREAM_SETTINGS = {  # the request's field: (setting in mapping.source, default)
    "ParallelizationFactor": ("parallelization", 1),
    "BisectBatchOnFunctionError": ("bisect", False),
    "MaximumRetryAttempts": ("max_retries", -1),
    "MaximumRecordAgeInSeconds": ("max_age", -1),
    "TumblingWindowInSeconds": ("tumbling_window", 0),
}

__all__ = ["ShardReader", "StreamPoller", "StreamSource"]


def _invalid(message: str) -> LambdaApiError:
    return LambdaApiError(400, "InvalidParameterValueException", message)


class StreamSource(Source):
    """A stream: its mapping's settings and what GetEventSourceMapping shows of them."""

    default_batch_size = 100
    starting_positions = ("TRIM_HORIZON", "LATEST")

    def check_stream(self, mapping) -> dict:
        """What the poller needs to know of the stream (raise if there is none)."""
        raise NotImplementedError

    def prepare(self, mapping, body: dict, spec, update: bool) -> None:
        settings = mapping.source
        if not update:
            position = body.get("StartingPosition")
            if not position:
                raise _invalid("1 validation error detected: Value null at 'startingPosition' "
                               "failed to satisfy constraint: Member must not be null.")
            if position not in STARTING_POSITIONS:
                raise LambdaApiError(
                    400, "ValidationException",
                    f"1 validation error detected: Value '{position}' at 'startingPosition' "
                    "failed to satisfy constraint: Member must satisfy enum value set: "
                    f"[{', '.join(STARTING_POSITIONS)}]")
            if position not in self.starting_positions:
                raise _invalid(f"Unsupported starting position for arn type: "
                               f"{mapping.source_arn}")
            timestamp = body.get("StartingPositionTimestamp")
            if position == "AT_TIMESTAMP" and timestamp is None:
                raise _invalid("StartingPositionTimestamp must be specified with the "
                               "AT_TIMESTAMP starting position.")
            settings.update(starting_position=position, starting_timestamp=timestamp,
                            checkpoints={}, last_result="No records processed",
                            **{name: default for name, default in STREAM_SETTINGS.values()})
            settings.update(self.check_stream(mapping))
        for field, (name, _) in STREAM_SETTINGS.items():
            if field in body and body[field] is not None:
                settings[name] = body[field]
        age = settings["max_age"]
        if age != -1 and age < MIN_RECORD_AGE_S:
            raise _invalid(f"MaximumRecordAgeInSeconds must be -1 or at least "
                           f"{MIN_RECORD_AGE_S} seconds (it was {age}).")
        if "DestinationConfig" in body:
            settings["on_failure"] = self._destination(body["DestinationConfig"] or {})
        settings.setdefault("on_failure", None)
        settings["role"] = self._role(spec)

    @staticmethod
    def _destination(config: dict) -> str | None:
        if "OnSuccess" in config:
            raise _invalid("Unsupported DestinationConfig parameter for given event source "
                           "mapping type.")
        arn = (config.get("OnFailure") or {}).get("Destination")
        if arn and arn.split(":")[2:3] not in (["sqs"], ["sns"]):
            raise _invalid("The lab's stream mappings send failure records to SQS queues and "
                           f"SNS topics; {arn} is neither.")
        return arn or None

    def _role(self, spec) -> str:
        try:
            return self.mappings.clients.client("lambda").get_function_configuration(
                FunctionName=spec.arn)["Role"]
        except Exception:  # noqa: BLE001 - the role only labels the event
            return f"arn:aws:iam::{spec.account_id}:role/lambda-role"

    def configuration(self, mapping) -> dict:
        s = mapping.source
        config = {
            "StartingPosition": s["starting_position"],
            "ParallelizationFactor": s["parallelization"],
            "BisectBatchOnFunctionError": s["bisect"],
            "MaximumRetryAttempts": s["max_retries"],
            "MaximumRecordAgeInSeconds": s["max_age"],
            "TumblingWindowInSeconds": s["tumbling_window"],
            "DestinationConfig": {"OnFailure": {"Destination": s["on_failure"]}
                                  if s["on_failure"] else {}},
            "LastProcessingResult": s["last_result"],
        }
        if s["starting_position"] == "AT_TIMESTAMP":
            config["StartingPositionTimestamp"] = s["starting_timestamp"]
        return config


class StreamPoller(Poller):
    """One mapping's readers, one per shard; subclasses speak the stream's API."""

    idle_read_s = 1.0  # AWS seconds between reads of a shard with nothing new
    read_limit = 1000
    batch_info_key = ""

    def __init__(self, service, mapping, clients, on_running=None):
        super().__init__(service, mapping, clients, on_running)
        self.readers: dict[str, ShardReader] = {}
        self.lock = threading.Lock()
        self.payload_bytes = 0

    # -- what a stream's poller says ------------------------------------------------------

    def shard_ids(self) -> list[str]:
        raise NotImplementedError

    def iterator(self, shard_id: str, kind: str, sequence: str | None = None,
                 timestamp=None) -> str:
        raise NotImplementedError

    def read(self, iterator: str, limit: int) -> tuple[list[dict], str | None]:
        """(records as the event carries them, the next iterator or None: shard closed)."""
        raise NotImplementedError

    def sequence(self, record: dict) -> str:
        raise NotImplementedError

    def partition_key(self, record: dict) -> str:
        raise NotImplementedError

    def arrival(self, record: dict) -> float:
        raise NotImplementedError

    def filter_view(self, record: dict) -> dict:
        return record

    def batch_info(self, shard_id: str, records: list[dict]) -> dict:
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Fix each shard's starting point now: LATEST means after what is there already."""
        try:
            for shard_id in self.shard_ids():
                self._add_reader(shard_id, first=True)
        except Exception as error:  # the stream is gone: the thread keeps trying
            self.record_error("DescribeStream", error)
        super().start()

    def _add_reader(self, shard_id: str, first: bool) -> None:
        checkpoint = self.mapping.source["checkpoints"].get(shard_id)
        settings = self.mapping.source
        if checkpoint is not None:
            iterator = self.iterator(shard_id, "AFTER_SEQUENCE_NUMBER", checkpoint)
        elif first:
            iterator = self.iterator(shard_id, settings["starting_position"],
                                     timestamp=settings.get("starting_timestamp"))
        else:  # a shard made after the mapping (resharding) is read from its start
            iterator = self.iterator(shard_id, "TRIM_HORIZON")
        reader = ShardReader(self, shard_id, iterator)
        with self.lock:
            self.readers[shard_id] = reader
        if self._thread.is_alive():
            reader.start()

    def _run(self) -> None:
        for reader in list(self.readers.values()):
            reader.start()
        self._on_running(self.mapping)
        while not self._stop.is_set():
            try:
                for shard_id in self.shard_ids():
                    if shard_id not in self.readers:
                        self._add_reader(shard_id, first=not self.readers)
            except Exception as error:  # the stream was deleted, the lab is stopping, ...
                self.record_error("DescribeStream", error)
            self._stop.wait(SHARD_REFRESH_S)

    def settings_changed(self) -> None:
        for reader in list(self.readers.values()):
            reader.wake()

    def stop(self) -> None:
        self._stop.set()
        for reader in list(self.readers.values()):
            reader.wake()

    def join(self, timeout: float, finish_batches: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        done = not self._thread.is_alive()
        for reader in list(self.readers.values()):
            done = reader.join(max(deadline - time.monotonic(), 0.05)) and done
        return done

    def next_number(self) -> int:
        with self.lock:
            self.mapping.batches += 1
            return self.mapping.batches

    def wait(self, aws_seconds: float) -> bool:
        """Sleep ``aws_seconds`` (scaled by the lab's speedup); True if stopping."""
        return self._stop.wait(self.service.clock.lab_seconds(aws_seconds))


class ShardReader:
    """Follows one shard in order and feeds its slots; keeps the shard's checkpoint."""

    def __init__(self, poller: StreamPoller, shard_id: str, iterator: str):
        self.poller = poller
        self.shard_id = shard_id
        self.iterator = iterator
        self.slots = [Slot(self, 0)]
        self._make_slot = lambda number: Slot(self, number)
        self.parallelization = 1
        self._order: deque[str] = deque()  # sequence numbers read and not yet ended
        self._ended: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"lab-shard-{shard_id[-8:]}")
        self.last_read = None  # time.time() of the last GetRecords
        self.closed = False

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._order)

    @property
    def checkpoint(self) -> str | None:
        return self.poller.mapping.source["checkpoints"].get(self.shard_id)

    def start(self) -> None:
        if self._thread.ident is None:
            for slot in list(self.slots):
                slot.start()
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()
        for slot in self.slots:
            slot.wake()

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if self._thread.ident is not None:
            self._thread.join(timeout)
        alive = self._thread.is_alive()
        for slot in self.slots:
            alive = not slot.join(max(deadline - time.monotonic(), 0.05)) or alive
        return not alive

    def ended(self, sequence_numbers) -> None:
        """These records ended (processed, filtered, discarded): move the checkpoint."""
        with self._lock:
            self._ended.update(sequence_numbers)
            checkpoint = None
            while self._order and self._order[0] in self._ended:
                checkpoint = self._order.popleft()
                self._ended.discard(checkpoint)
            if checkpoint is not None:
                self.poller.mapping.source["checkpoints"][self.shard_id] = checkpoint

    def _slot_for(self, key: str):
        return self.slots[zlib.crc32(key.encode()) % self.parallelization]

    def _resize(self) -> bool:
        """Apply a new ParallelizationFactor once every slot is idle; True if read may go on."""
        wanted = max(1, int(self.poller.mapping.source["parallelization"]))
        if wanted == self.parallelization:
            return True
        if self.pending:  # a key must not move to another slot with records in flight
            return False
        while len(self.slots) < wanted:
            slot = self._make_slot(len(self.slots))
            self.slots.append(slot)
            slot.start()
        self.parallelization = wanted
        return True

    def _run(self) -> None:
        poller = self.poller
        while not poller._stop.is_set():
            limit = max(2000, 3 * poller.mapping.batch_size * self.parallelization)
            if not self._resize() or self.pending >= limit:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            try:
                records, self.iterator = poller.read(self.iterator, poller.read_limit)
            except Exception as error:  # the stream is gone, the lab is stopping, ...
                poller.record_error("GetRecords", error)
                poller.wait(READ_ERROR_WAIT_S)
                continue
            self.last_read = time.time()
            if records:
                self._hand_out(records)
            if self.iterator is None:  # a closed shard, read to its end
                self.closed = True
                return
            if not records:  # a batching window still open keeps the reader close behind
                gathering = any(slot.gathering for slot in self.slots)
                poller.wait(GATHERING_READ_S if gathering else poller.idle_read_s)

    def _hand_out(self, records: list[dict]) -> None:
        poller = self.poller
        with self._lock:
            self._order.extend(poller.sequence(record) for record in records)
        by_slot: dict[int, list] = {}
        for record in records:
            by_slot.setdefault(id(self._slot_for(poller.partition_key(record))), []).append(
                record)
        for slot in self.slots:
            if id(slot) in by_slot:
                slot.put(by_slot[id(slot)])
