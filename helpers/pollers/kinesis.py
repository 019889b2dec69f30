"""The poller of a Kinesis Data Streams event source mapping.

Reads every shard with the Kinesis API (``ListShards``, ``GetShardIterator``,
``GetRecords``), once a second per shard when there is nothing new, as Lambda's standard
iterators do, and hands the records to the stream poller (``helpers.pollers.streams``).
``ParallelizationFactor`` keeps each partition key's records in order; filters see the
record's ``data`` as JSON when it is a JSON object. Introduced in notebook 13.

https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
"""

from __future__ import annotations

import base64
import json

from ..aws import parse_arn
from ..errors import LambdaApiError
from ..events import kinesis as events
from .streams import StreamPoller, StreamSource

__all__ = ["KinesisPoller", "KinesisSource"]


def _kinesis_client(clients):
    return clients.client("kinesis", max_pool_connections=50,
                          retries={"total_max_attempts": 2, "mode": "standard"})


class KinesisSource(StreamSource):
    """Kinesis data streams: ``arn:aws:kinesis:...:stream/NAME``."""

    kind = "kinesis"
    starting_positions = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")

    def check_stream(self, mapping) -> dict:
        arn = parse_arn(mapping.source_arn)
        if arn is None or not arn.resource.startswith("stream/"):
            raise LambdaApiError(400, "InvalidParameterValueException",
                                 "Unrecognized event source, must be kafka or specify a valid "
                                 "EventSourceArn.")
        try:
            _kinesis_client(self.mappings.clients).describe_stream_summary(
                StreamARN=mapping.source_arn)
        except Exception:
            raise LambdaApiError(
                400, "InvalidParameterValueException",
                f"Stream not found: {mapping.source_arn}") from None
        return {}


class KinesisPoller(StreamPoller):
    source_name = "kinesis"
    idle_read_s = 1.0  # one read a second per shard (a standard iterator)
    read_limit = 10000
    batch_info_key = events.BATCH_INFO

    def __init__(self, service, mapping, clients, on_running=None):
        super().__init__(service, mapping, clients, on_running)
        self._kinesis = _kinesis_client(clients)
        self._shard_of: dict[str, str] = {}  # iterator -> shard id

    def shard_ids(self) -> list[str]:
        shards = self._kinesis.list_shards(StreamARN=self.mapping.source_arn)["Shards"]
        return [shard["ShardId"] for shard in shards]

    def iterator(self, shard_id, kind, sequence=None, timestamp=None) -> str:
        options = {}
        if sequence:
            options["StartingSequenceNumber"] = sequence
        if timestamp is not None:
            options["Timestamp"] = timestamp
        iterator = self._kinesis.get_shard_iterator(
            StreamARN=self.mapping.source_arn, ShardId=shard_id, ShardIteratorType=kind,
            **options)["ShardIterator"]
        self._shard_of[iterator] = shard_id
        return iterator

    def read(self, iterator, limit):
        shard_id = self._shard_of[iterator]
        response = self._kinesis.get_records(ShardIterator=iterator, Limit=limit,
                                             StreamARN=self.mapping.source_arn)
        del self._shard_of[iterator]
        mapping = self.mapping
        records = [events.kinesis_record(record, shard_id, mapping.source_arn, mapping.region,
                                         mapping.source["role"])
                   for record in response.get("Records", [])]
        following = response.get("NextShardIterator")
        if following:
            self._shard_of[following] = shard_id
        return records, following

    def sequence(self, record) -> str:
        return record["kinesis"]["sequenceNumber"]

    def partition_key(self, record) -> str:
        return record["kinesis"]["partitionKey"]

    def arrival(self, record) -> float:
        return record["kinesis"]["approximateArrivalTimestamp"]

    def filter_view(self, record) -> dict:
        try:
            data = json.loads(base64.b64decode(record["kinesis"]["data"]))
        except ValueError:
            return record
        if not isinstance(data, dict):
            return record
        return {**record, "data": data, "kinesis": {**record["kinesis"], "data": data}}

    def batch_info(self, shard_id, records) -> dict:
        return events.batch_info(shard_id, records, self.mapping.source_arn)


KinesisSource.poller = KinesisPoller
