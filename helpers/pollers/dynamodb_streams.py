"""The poller of a DynamoDB Streams event source mapping.

Reads the table's stream with the DynamoDB Streams API (``DescribeStream``,
``GetShardIterator``, ``GetRecords``), four times a second per shard when there is
nothing new, as Lambda does, and hands the records to the stream poller
(``helpers.pollers.streams``). A record's partition key, for ``ParallelizationFactor``,
is its item's key; filters see the record as the event carries it (``eventName``,
``dynamodb.NewImage`` in DynamoDB JSON, ...). Introduced in notebook 05.

https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
"""

from __future__ import annotations

import json

from ..aws import parse_arn
from ..errors import LambdaApiError
from ..events import dynamodb as events
from .streams import StreamPoller, StreamSource

__all__ = ["DynamoDBStreamsPoller", "DynamoDBStreamsSource"]


def _streams_client(clients):
    return clients.client("dynamodbstreams", max_pool_connections=50,
                          retries={"total_max_attempts": 2, "mode": "standard"})


class DynamoDBStreamsSource(StreamSource):
    """DynamoDB streams: ``arn:aws:dynamodb:...:table/NAME/stream/LABEL``."""

    kind = "dynamodb"

    def check_stream(self, mapping) -> dict:
        arn = parse_arn(mapping.source_arn)
        if arn is None or "/stream/" not in arn.resource:
            raise LambdaApiError(400, "InvalidParameterValueException",
                                 "Unrecognized event source, must be kafka or specify a valid "
                                 "EventSourceArn.")
        try:
            _streams_client(self.mappings.clients).describe_stream(
                StreamArn=mapping.source_arn, Limit=1)
        except Exception:
            raise LambdaApiError(
                400, "InvalidParameterValueException",
                f"Stream not found: {mapping.source_arn}") from None
        return {}


class DynamoDBStreamsPoller(StreamPoller):
    source_name = "dynamodb"
    idle_read_s = 0.25  # four reads a second per shard
    read_limit = 1000
    batch_info_key = events.BATCH_INFO

    def __init__(self, service, mapping, clients, on_running=None):
        super().__init__(service, mapping, clients, on_running)
        self._streams = _streams_client(clients)

    def shard_ids(self) -> list[str]:
        description = self._streams.describe_stream(StreamArn=self.mapping.source_arn)
        return [shard["ShardId"] for shard in description["StreamDescription"]["Shards"]]

    def iterator(self, shard_id, kind, sequence=None, timestamp=None) -> str:
        options = {"SequenceNumber": sequence} if sequence else {}
        return self._streams.get_shard_iterator(
            StreamArn=self.mapping.source_arn, ShardId=shard_id, ShardIteratorType=kind,
            **options)["ShardIterator"]

    def read(self, iterator, limit):
        response = self._streams.get_records(ShardIterator=iterator, Limit=limit)
        region = self.mapping.region
        records = [events.dynamodb_record(record, self.mapping.source_arn, region)
                   for record in response.get("Records", [])]
        return records, response.get("NextShardIterator")

    def sequence(self, record) -> str:
        return record["dynamodb"]["SequenceNumber"]

    def partition_key(self, record) -> str:
        return json.dumps(record["dynamodb"]["Keys"], sort_keys=True)

    def arrival(self, record) -> float:
        return float(record["dynamodb"].get("ApproximateCreationDateTime", 0))

    def batch_info(self, shard_id, records) -> dict:
        return events.batch_info(shard_id, records, self.mapping.source_arn)


DynamoDBStreamsSource.poller = DynamoDBStreamsPoller
