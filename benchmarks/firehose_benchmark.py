"""10,000 records of 1 KB through Amazon Data Firehose and a no-op transformation into S3,
against ``PutObject`` of the same bytes in the same batches.

Both on one lab, in one run. Firehose: 20 ``PutRecordBatch`` calls of 500 records; the
processor and the S3 buffer have an interval of 0 (each call becomes one invocation of a
function that returns every record ``Ok`` as it came, and one object), timed from the
first call until the trace records the last record delivered. The plain path: 20
``PutObject`` calls of the same 500 KB. A warm-up run first (the function's cold
start), then three rounds that alternate the two (medians are compared: other work on
the machine hits both). No target: the figures say what the transformation costs.
Prints a table; ``BENCH`` lines feed ``tasks.py bench``.
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

RECORDS = 10_000
RECORD_BYTES = 1024
BATCH = 500
ROUNDS = 3
ROLE = "arn:aws:iam::123456789012:role/firehose-bench"
NOOP = '''
def lambda_handler(event, context):
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]}
                        for r in event["records"]]}
'''


def batches() -> list[list[bytes]]:
    record = b"x" * (RECORD_BYTES - 1) + b"\n"
    return [[record] * BATCH for _ in range(RECORDS // BATCH)]


def make_stream(name: str, bucket: str, function_arn: str) -> None:
    parameters = {"LambdaArn": function_arn, "BufferIntervalInSeconds": "0",
                  "BufferSizeInMBs": "1"}
    boto3.client("firehose").create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": f"{name}/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{
                "Type": "Lambda", "Parameters": [{"ParameterName": k, "ParameterValue": v}
                                                 for k, v in parameters.items()]}]}})


def through_firehose(lab, name: str) -> tuple[float, int, int]:
    """(seconds from the first call to the last record in S3, invocations, objects)."""
    firehose = boto3.client("firehose")
    delivered, done = [0], threading.Event()

    def on_event(event):
        if event.kind == "firehose.delivered" and event.get("stream") == name:
            delivered[0] += len(event["record_ids"])
            if delivered[0] >= RECORDS:
                done.set()

    unsubscribe = lab.trace.subscribe(on_event)
    try:
        started = time.perf_counter()
        for records in batches():
            answer = firehose.put_record_batch(DeliveryStreamName=name,
                                               Records=[{"Data": r} for r in records])
            if answer["FailedPutCount"]:
                raise SystemExit(f"{answer['FailedPutCount']} records refused")
        if not done.wait(300):
            raise SystemExit(f"only {delivered[0]} of {RECORDS} records in S3 after 300 s")
        seconds = time.perf_counter() - started
    finally:
        unsubscribe()
    invocations = len(lab.trace.events("firehose.invocation", stream=name))
    objects = len(lab.trace.events("firehose.delivered", stream=name))
    return seconds, invocations, objects


def plain_put_object(bucket: str, prefix: str) -> float:
    s3 = boto3.client("s3")
    started = time.perf_counter()
    for number, records in enumerate(batches()):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{number}", Body=b"".join(records))
    return time.perf_counter() - started


def main() -> int:
    lab = helpers.start_lab()
    try:
        boto3.client("s3").create_bucket(Bucket="firehose-bench")
        arn = lab.deploy("firehose-bench-noop", NOOP, timeout=30)["FunctionArn"]
        make_stream("bench-warm-up", "firehose-bench", arn)
        through_firehose(lab, "bench-warm-up")
        plain, firehose = [], []
        for run in range(ROUNDS):  # side by side, alternating: the machine's load hits both
            plain.append(plain_put_object("firehose-bench", f"plain-{run}"))
            make_stream(f"bench-{run}", "firehose-bench", arn)
            firehose.append(through_firehose(lab, f"bench-{run}"))
        environments = len(lab.environments("firehose-bench-noop"))
    finally:
        lab.stop()
    plain_s = statistics.median(plain)
    firehose_s, invocations, objects = sorted(firehose)[len(firehose) // 2]
    ratio = firehose_s / plain_s
    megabytes = RECORDS * RECORD_BYTES / 1024 / 1024
    print(f"{'10,000 records of 1 KB (median of ' + str(ROUNDS) + ')':48} {'time':>8} "
          f"{'records/s':>10} {'MB/s':>6} {'vs plain':>9}")
    for label, seconds, versus in (
            (f"PutObject, {RECORDS // BATCH} objects of {BATCH} records", plain_s, "-"),
            (f"Firehose, {invocations} invocations, {objects} objects", firehose_s,
             f"{ratio:.2f}x")):
        print(f"{label:48} {seconds:7.2f}s {RECORDS / seconds:10.0f} "
              f"{megabytes / seconds:6.1f} {versus:>9}")
    print("each round, PutObject / Firehose: " + ", ".join(
        f"{p:.2f} / {f[0]:.2f} s" for p, f in zip(plain, firehose, strict=True)))
    print(f"environments of the no-op function at the end: {environments}")
    print(f"BENCH\tPutObject, {RECORDS} records in {RECORDS // BATCH} objects\t{plain_s:.2f} s "
          f"({RECORDS / plain_s:.0f}/s)\t-\t-")
    print(f"BENCH\tFirehose end to end, {RECORDS} records, no-op transformation\t"
          f"{firehose_s:.2f} s ({RECORDS / firehose_s:.0f}/s)\t-\t-")
    print(f"BENCH\tFirehose / PutObject time ratio\t{ratio:.2f}\t-\t-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
