"""1,000 SQS messages drained by an event source mapping against a plain consumer loop.

Both on one lab, in one run. The plain loop is what a hand-written consumer does:
``ReceiveMessage`` (10 at a time) and ``DeleteMessageBatch`` until the queue is empty.
The mapping (BatchSize 10, a no-op handler) is timed from ``CreateEventSourceMapping``
until the trace records the 1,000th deleted message: from cold once, then warm, in three
rounds that alternate with the plain loop (medians are compared: other work on the
machine hits both). Target: the warm mapping within 1.5 times the plain loop. Prints a
table; ``BENCH`` lines feed ``tasks.py bench``. Exits 0 whether the target is met or not.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402

import helpers  # noqa: E402

MESSAGES = 1000
NOOP = "def lambda_handler(event, context):\n    return None\n"
TARGET_RATIO = 1.5
ROUNDS = 3


def fill(sqs, name: str) -> str:
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for start in range(0, MESSAGES, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f'{{"order_id": {start + i}}}'} for i in range(10)])
    return url


def plain_loop(sqs, url: str) -> float:
    started = time.perf_counter()
    deleted = 0
    while deleted < MESSAGES:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
        if messages:
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)])
            deleted += len(messages)
    return time.perf_counter() - started


def mapping_drain(lab, lambda_client, sqs, url: str, function: str) -> tuple[float, int, int]:
    """(seconds until every message is deleted, batches, most batches at once)."""
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    deleted = set()
    done = threading.Event()
    uuid = [None]

    def on_event(event):
        if event.kind == "batch.end" and event.get("mapping") == uuid[0]:
            deleted.update(event["deleted"])
            if len(deleted) >= MESSAGES:
                done.set()

    unsubscribe = lab.trace.subscribe(on_event)
    try:
        started = time.perf_counter()
        uuid[0] = lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function, BatchSize=10)["UUID"]
        if not done.wait(300):
            raise SystemExit(f"only {len(deleted)} of {MESSAGES} deleted in 300 s")
        seconds = time.perf_counter() - started
    finally:
        unsubscribe()
    lambda_client.delete_event_source_mapping(UUID=uuid[0])
    changes = sorted([(e.seq, 1) for e in lab.trace.events("batch.start", mapping=uuid[0])]
                     + [(e.seq, -1) for e in lab.trace.events("batch.end", mapping=uuid[0])])
    running = peak = 0
    for _, change in changes:
        running += change
        peak = max(peak, running)
    return seconds, len(changes) // 2, peak


def main() -> int:
    lab = helpers.start_lab()
    try:
        sqs, lambda_client = boto3.client("sqs"), boto3.client("lambda")
        lab.deploy("bench-sqs-cold", NOOP, timeout=3)
        lab.deploy("bench-sqs-warm", NOOP, timeout=3)
        cold_s, cold_batches, _ = mapping_drain(lab, lambda_client, sqs,
                                                fill(sqs, "bench-cold"), "bench-sqs-cold")
        mapping_drain(lab, lambda_client, sqs, fill(sqs, "bench-warm-up"), "bench-sqs-warm")
        plain, warm = [], []
        for run in range(ROUNDS):  # side by side, alternating: the machine's load hits both
            plain.append(plain_loop(sqs, fill(sqs, f"bench-plain-{run}")))
            warm.append(mapping_drain(lab, lambda_client, sqs, fill(sqs, f"bench-warm-{run}"),
                                      "bench-sqs-warm"))
        environments = len(lab.environments("bench-sqs-warm"))
    finally:
        lab.stop()
    plain_s = statistics.median(plain)
    warm_s, warm_batches, peak = sorted(warm)[len(warm) // 2]
    ratio, cold_ratio = warm_s / plain_s, cold_s / plain_s
    status = "PASS" if ratio <= TARGET_RATIO else "MISS"
    rows = [
        ("plain ReceiveMessage + DeleteMessageBatch", plain_s, "-"),
        (f"mapping, warm ({warm_batches} batches)", warm_s, f"{ratio:.2f}x"),
        (f"mapping, cold ({cold_batches} batches)", cold_s, f"{cold_ratio:.2f}x"),
    ]
    print(f"{'drain 1,000 messages (median of ' + str(ROUNDS) + ')':44} {'time':>8} {'msg/s':>7} "
          f"{'vs plain':>9}")
    for label, seconds, versus in rows:
        print(f"{label:44} {seconds:7.2f}s {MESSAGES / seconds:7.0f} {versus:>9}")
    print("each round, plain / mapping (warm): " + ", ".join(
        f"{p:.2f} / {w[0]:.2f} s" for p, w in zip(plain, warm, strict=True)))
    print(f"warm run: at most {peak} batches at once, {environments} environments")
    print(f"target: warm mapping within {TARGET_RATIO}x the plain loop: {status}")
    print(f"BENCH\tplain loop, {MESSAGES} messages\t{plain_s:.2f} s "
          f"({MESSAGES / plain_s:.0f}/s)\t-\t-")
    print(f"BENCH\tmapping (warm), {MESSAGES} messages\t{warm_s:.2f} s "
          f"({MESSAGES / warm_s:.0f}/s)\t<= {TARGET_RATIO}x plain\t{status}")
    print(f"BENCH\tmapping (cold), {MESSAGES} messages\t{cold_s:.2f} s "
          f"({MESSAGES / cold_s:.0f}/s)\t-\t-")
    print(f"BENCH\tmapping (warm) / plain time ratio\t{ratio:.2f}\t<= {TARGET_RATIO:.2f}\t{status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
