"""S3 event notifications: what a notification costs the S3 request, how fast events
reach the function, and how long a recursive loop runs before Lambda stops it.

Side by side in one run, on one lab, through plain boto3:

- 300 PutObject calls to a bucket without notifications, then 300 to a bucket whose
  configuration invokes a no-op function (warm). Target: the median PutObject with a
  notification takes at most 1.5 times the median without (S3 never waits for Lambda).
- The same 300 events, from the first PutObject to the last ``event.completed``, against
  300 ``InvocationType="Event"`` invokes of the same function. Target: S3's path drains
  within 1.5 times the direct path's time.
- Queue wait (``s3.notification`` to ``attempt.start`` in the trace). Target: median
  under 50 ms (AWS: "typically ... in seconds").
- A function that writes into its own trigger bucket: seconds until the 17th event is
  stopped. Target: under 5 s.

Prints a table; ``BENCH`` lines feed ``tasks.py bench``. Exits 0 whether targets are met.
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

OBJECTS = 300
ACCOUNT = "123456789012"
NOOP = "def lambda_handler(event, context):\n    return None\n"
LOOP = """
import boto3
s3 = boto3.client("s3")

def lambda_handler(event, context):
    record = event["Records"][0]
    s3.put_object(Bucket=record["s3"]["bucket"]["name"],
                  Key=record["s3"]["object"]["key"] + "x", Body=b"again")
"""


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


def watch_bucket(s3, lambda_client, bucket: str, function: str) -> None:
    lambda_client.add_permission(FunctionName=function, StatementId=f"s3-{bucket}",
                                 Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                                 SourceArn=f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function_arn(function),
                                          "Events": ["s3:ObjectCreated:*"]}]})


def put_many(s3, bucket: str, prefix: str) -> tuple[list[float], set[str]]:
    """PutObject latencies (seconds) and the S3 request ids."""
    latencies, ids = [], set()
    for n in range(OBJECTS):
        started = time.perf_counter()
        response = s3.put_object(Bucket=bucket, Key=f"{prefix}/{n}", Body=b"x" * 100)
        latencies.append(time.perf_counter() - started)
        ids.add(response["ResponseMetadata"]["RequestId"])
    return latencies, ids


class Completions:
    """Counts ``event.completed`` records for a set of request ids, as they happen."""

    def __init__(self, lab):
        self.lab = lab
        self.lock = threading.Lock()
        self.expected: set[str] = set()
        self.done: dict[str, float] = {}
        self.unsubscribe = lab.trace.subscribe(self._on_event)

    def _on_event(self, event):
        if event.kind == "event.completed":
            with self.lock:
                self.done[event["request_id"]] = time.perf_counter()

    def wait(self, ids: set[str], timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                finished = [self.done[i] for i in ids if i in self.done]
            if len(finished) == len(ids):
                return max(finished)
            time.sleep(0.01)
        raise SystemExit(f"only {len(finished)} of {len(ids)} events completed")


def main() -> int:
    lab = helpers.start_lab()
    s3, lambda_client = boto3.client("s3"), boto3.client("lambda")
    completions = Completions(lab)
    try:
        lab.deploy("bench-s3-noop", NOOP)
        lambda_client.invoke(FunctionName="bench-s3-noop")["Payload"].read()  # warm
        for bucket in ("bench-plain", "bench-notified", "bench-loop"):
            s3.create_bucket(Bucket=bucket)
        watch_bucket(s3, lambda_client, "bench-notified", "bench-s3-noop")
        put_many(s3, "bench-plain", "warm-up")

        plain, _ = put_many(s3, "bench-plain", "run")
        started = time.perf_counter()
        notified, s3_ids = put_many(s3, "bench-notified", "run")
        lambda_ids = {n["request_id"] for n in lab.trace.events("s3.notification")
                      if n["s3_request_id"] in s3_ids}
        if len(lambda_ids) != OBJECTS:
            raise SystemExit(f"{len(lambda_ids)} notifications for {OBJECTS} objects")
        s3_drain = completions.wait(lambda_ids) - started

        started = time.perf_counter()
        direct_ids = set()
        for n in range(OBJECTS):
            response = lambda_client.invoke(FunctionName="bench-s3-noop", InvocationType="Event",
                                            Payload=b'{"n": %d}' % n)
            direct_ids.add(response["ResponseMetadata"]["RequestId"])
        direct_drain = completions.wait(direct_ids) - started

        waits = []
        for notice in lab.trace.events("s3.notification"):
            if notice.get("request_id") in lambda_ids:
                start = lab.trace.events("attempt.start", request_id=notice["request_id"])[0]
                waits.append(start.time - notice.time)

        lab.deploy("bench-s3-loop", LOOP, timeout=10)
        watch_bucket(s3, lambda_client, "bench-loop", "bench-s3-loop")
        started = time.perf_counter()
        s3.put_object(Bucket="bench-loop", Key="k", Body=b"start")
        deadline = time.monotonic() + 60
        while not [e for e in lab.trace.events("event.completed")
                   if e.get("reason", "").startswith("recursive loop detected")]:
            if time.monotonic() > deadline:
                raise SystemExit("the loop was not stopped within 60 s")
            time.sleep(0.01)
        loop_s = time.perf_counter() - started
        lab.wait_for_events(30)  # the 16th run ends after the 17th event was stopped
        loop_runs = len(lab.trace.events("attempt.start", function=function_arn("bench-s3-loop")))
    finally:
        completions.unsubscribe()
        lab.stop()

    plain_ms = statistics.median(plain) * 1000
    notified_ms = statistics.median(notified) * 1000
    put_ratio = notified_ms / plain_ms
    drain_ratio = s3_drain / direct_drain
    wait_ms = statistics.median(waits) * 1000
    checks = {
        "put": "PASS" if put_ratio <= 1.5 else "MISS",
        "drain": "PASS" if drain_ratio <= 1.5 else "MISS",
        "wait": "PASS" if wait_ms < 50 else "MISS",
        "loop": "PASS" if loop_s < 5 and loop_runs == 16 else "MISS",
    }
    p95 = sorted(notified)[int(OBJECTS * 0.95)] * 1000
    print(f"{'measure':52} {'value':>12}  target")
    rows = [
        ("PutObject median, no notification", f"{plain_ms:.2f} ms", ""),
        ("PutObject median, Lambda notification", f"{notified_ms:.2f} ms", ""),
        ("PutObject p95, Lambda notification", f"{p95:.2f} ms", ""),
        ("  ratio with / without", f"{put_ratio:.2f}", f"<= 1.50  {checks['put']}"),
        (f"{OBJECTS} events drained, S3 path", f"{s3_drain:.2f} s",
         f"{OBJECTS / s3_drain:.0f} /s"),
        (f"{OBJECTS} events drained, direct Event invokes", f"{direct_drain:.2f} s",
         f"{OBJECTS / direct_drain:.0f} /s"),
        ("  ratio S3 / direct", f"{drain_ratio:.2f}", f"<= 1.50  {checks['drain']}"),
        ("queue wait median (notification to attempt)", f"{wait_ms:.2f} ms",
         f"< 50 ms  {checks['wait']}"),
        ("recursive loop stopped after", f"{loop_s:.2f} s",
         f"< 5 s, 16 runs ({loop_runs})  {checks['loop']}"),
    ]
    for label, value, target in rows:
        print(f"{label:52} {value:>12}  {target}")
    print(f"BENCH\tS3 PutObject median, notification / none\t{notified_ms:.2f} / "
          f"{plain_ms:.2f} ms = {put_ratio:.2f}\t<= 1.50\t{checks['put']}")
    print(f"BENCH\tS3 {OBJECTS} events drained / direct Event invokes\t{s3_drain:.2f} / "
          f"{direct_drain:.2f} s = {drain_ratio:.2f}\t<= 1.50\t{checks['drain']}")
    print(f"BENCH\tS3 notification queue wait, median\t{wait_ms:.2f} ms\t< 50 ms\t"
          f"{checks['wait']}")
    print(f"BENCH\tS3 recursive loop stopped after\t{loop_s:.2f} s ({loop_runs} runs)\t"
          f"< 5 s\t{checks['loop']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
