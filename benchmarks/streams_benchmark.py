"""10,000 DynamoDB writes streamed to a no-op function (BatchSize 100), against a plain loop.

Both on one lab, in one run, over the same table's stream:

1. *last write to last invoke*: a mapping (StartingPosition LATEST) follows the stream
   while 10,000 items are written (BatchWriteItem, 25 at a time); timed from the last
   write's answer to the end of the last batch's invoke, from the trace.
2. *poller overhead*: a plain loop (``GetShardIterator`` TRIM_HORIZON, ``GetRecords``
   with Limit 100, a synchronous ``Invoke`` per page, until all 10,000 are read) against a
   second mapping (TRIM_HORIZON) reading the same records, each timed from its start to
   its last invoke; rounds alternate and medians are compared. Target: the mapping within
   1.5 times the plain loop. Prints a table; ``BENCH`` lines feed ``tasks.py bench``.
   Exits 0 whether the target is met or not.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402

import helpers  # noqa: E402

WRITES = 10_000
BATCH = 100
NOOP = "def lambda_handler(event, context):\n    return None\n"
TARGET_RATIO = 1.5
ROUNDS = 3


def processed(lab, uuid_: str) -> tuple[int, float]:
    ends = lab.trace.events("batch.end", mapping=uuid_)
    return sum(len(e["processed"]) for e in ends), max((e.time for e in ends), default=0.0)


def wait_all(lab, uuid_: str, timeout: float = 300.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count, last = processed(lab, uuid_)
        if count >= WRITES:
            return last
        time.sleep(0.02)
    raise SystemExit(f"the mapping processed {processed(lab, uuid_)[0]} of {WRITES} records "
                     f"in {timeout:.0f} s")


def write(ddb, table: str) -> float:
    for start in range(0, WRITES, 25):
        ddb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"pk": {"S": f"item-{n}"}, "n": {"N": str(n)}}}}
            for n in range(start, start + 25)]})
    return time.time()


def plain_loop(streams, lambda_client, arn: str) -> float:
    started = time.perf_counter()
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    seen = 0
    for shard in shards:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while seen < WRITES:
            page = streams.get_records(ShardIterator=iterator, Limit=BATCH)
            iterator = page["NextShardIterator"]
            if page["Records"]:
                seen += len(page["Records"])
                lambda_client.invoke(FunctionName="bench-streams-plain", Payload=json.dumps(
                    {"Records": page["Records"]}, default=str).encode())
    return time.perf_counter() - started


def mapping_drain(lab, lambda_client, arn: str) -> float:
    started = time.time()
    uuid_ = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="bench-streams-mapping", BatchSize=BATCH,
        StartingPosition="TRIM_HORIZON")["UUID"]
    last = wait_all(lab, uuid_)
    lambda_client.delete_event_source_mapping(UUID=uuid_)
    return last - started


def main() -> int:
    lab = helpers.start_lab()
    try:
        ddb, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
        lambda_client = boto3.client("lambda")
        for name in ("bench-streams-live", "bench-streams-plain", "bench-streams-mapping"):
            lab.deploy(name, NOOP)
        arn = ddb.create_table(
            TableName="bench-streams", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        live = lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName="bench-streams-live", BatchSize=BATCH,
            StartingPosition="LATEST")["UUID"]
        time.sleep(0.5)
        write_started = time.time()
        last_write = write(ddb, "bench-streams")
        last_invoke = wait_all(lab, live)
        lambda_client.delete_event_source_mapping(UUID=live)
        batches = len(lab.trace.events("batch.end", mapping=live))
        plain, mapped = [], []
        for _ in range(ROUNDS):
            plain.append(plain_loop(streams, lambda_client, arn))
            mapped.append(mapping_drain(lab, lambda_client, arn))
    finally:
        lab.stop()
    lag = last_invoke - last_write
    writing = last_write - write_started
    plain_s, mapped_s = statistics.median(plain), statistics.median(mapped)
    ratio = mapped_s / plain_s
    status = "PASS" if ratio <= TARGET_RATIO else "MISS"
    print(f"{WRITES:,} writes in {writing:.2f} s ({WRITES / writing:.0f}/s); the live mapping "
          f"invoked {batches} batches")
    print(f"last write to last invoke: {lag:.3f} s")
    print(f"{'read 10,000 records, invoke per 100 (median of ' + str(ROUNDS) + ')':52} "
          f"{'time':>8} {'rec/s':>7} {'vs plain':>9}")
    print(f"{'plain GetRecords loop':52} {plain_s:7.2f}s {WRITES / plain_s:7.0f} {'-':>9}")
    print(f"{'event source mapping':52} {mapped_s:7.2f}s {WRITES / mapped_s:7.0f} "
          f"{ratio:8.2f}x")
    print("each round, plain / mapping: " + ", ".join(
        f"{p:.2f} / {m:.2f} s" for p, m in zip(plain, mapped, strict=True)))
    print(f"target: mapping within {TARGET_RATIO}x the plain loop: {status}")
    print(f"BENCH\tlast write to last invoke, {WRITES} writes\t{lag:.3f} s\t-\t-")
    print(f"BENCH\tplain GetRecords loop, {WRITES} records\t{plain_s:.2f} s\t-\t-")
    print(f"BENCH\tmapping, {WRITES} records\t{mapped_s:.2f} s\t<= {TARGET_RATIO}x plain\t"
          f"{status}")
    print(f"BENCH\tmapping / plain time ratio\t{ratio:.2f}\t<= {TARGET_RATIO:.2f}\t{status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
