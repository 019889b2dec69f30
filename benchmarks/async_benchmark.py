"""1,000 asynchronous events to a no-op handler against the same 1,000 invoked synchronously.

Both through plain boto3, in one run, on one lab. The synchronous loop waits for each
answer before sending the next; the asynchronous run is timed from the first
``InvocationType="Event"`` call until the trace records the 1,000th ``event.completed``.
Target: the asynchronous run takes at most 0.6 times the synchronous loop (the events run
in parallel while the caller sends). Prints a table; ``BENCH`` lines feed ``tasks.py
bench``. Exits 0 whether the target is met or not.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402

import helpers  # noqa: E402

EVENTS = 1000
NOOP = "def lambda_handler(event, context):\n    return None\n"
TARGET_RATIO = 0.6
TARGET = f"async takes at most {TARGET_RATIO} x the sync loop"


def sync_loop(client, name: str) -> float:
    started = time.perf_counter()
    for n in range(EVENTS):
        response = client.invoke(FunctionName=name, Payload=b'{"n": %d}' % n)
        response["Payload"].read()
        if response["StatusCode"] != 200 or "FunctionError" in response:
            raise SystemExit(f"synchronous invoke {n} failed: {response}")
    return time.perf_counter() - started


def async_drain(lab, client, name: str) -> tuple[float, float, dict]:
    """(seconds to the last completion, seconds to send the 1,000 events, outcomes)."""
    ids: set[str] = set()
    outcomes: dict[str, str] = {}
    finished = threading.Event()
    last_completion = [0.0]
    lock = threading.Lock()

    def on_event(event):
        if event.kind == "event.completed":
            with lock:
                outcomes[event["request_id"]] = event["outcome"]
                last_completion[0] = time.perf_counter()
                if len(outcomes) >= EVENTS:
                    finished.set()

    unsubscribe = lab.trace.subscribe(on_event)
    try:
        started = time.perf_counter()
        for n in range(EVENTS):
            response = client.invoke(FunctionName=name, InvocationType="Event",
                                     Payload=b'{"n": %d}' % n)
            response["Payload"].read()  # (empty) read, so the connection is used again
            if response["StatusCode"] != 202:
                raise SystemExit(f"asynchronous invoke {n} failed: {response}")
            ids.add(response["ResponseMetadata"]["RequestId"])
        sent = time.perf_counter() - started
        if not finished.wait(300):
            raise SystemExit(f"only {len(outcomes)} of {EVENTS} events completed in 300 s")
    finally:
        unsubscribe()
    with lock:
        mine = {rid: outcome for rid, outcome in outcomes.items() if rid in ids}
        drained = last_completion[0] - started
    return drained, sent, mine


def main() -> int:
    lab = helpers.start_lab()
    try:
        lab.deploy("bench-noop", NOOP)
        client = boto3.client("lambda")
        client.invoke(FunctionName="bench-noop")["Payload"].read()  # the first cold start
        sync_s = sync_loop(client, "bench-noop")
        async_s, sent_s, outcomes = async_drain(lab, client, "bench-noop")
        environments = len(lab.environments("bench-noop"))
    finally:
        lab.stop()
    if len(outcomes) != EVENTS or set(outcomes.values()) != {"succeeded"}:
        print(f"unexpected outcomes: {len(outcomes)} events, {set(outcomes.values())}")
        return 1
    ratio = async_s / sync_s
    status = "PASS" if ratio <= TARGET_RATIO else "MISS"
    rows = [
        ("sync loop, 1,000 invokes", f"{sync_s:.2f} s", f"{EVENTS / sync_s:.0f} /s"),
        ("async, 1,000 events sent (202s)", f"{sent_s:.2f} s", f"{EVENTS / sent_s:.0f} /s"),
        ("async, first invoke to last completion", f"{async_s:.2f} s",
         f"{EVENTS / async_s:.0f} /s"),
    ]
    print(f"{'run':42} {'time':>9} {'events/s':>9}")
    for label, seconds, rate in rows:
        print(f"{label:42} {seconds:>9} {rate:>9}")
    print(f"async / sync time ratio: {ratio:.2f}  (environments used by async: {environments})")
    print(f"target: {TARGET}: {status}")
    print(f"BENCH\tsync loop, {EVENTS} invokes\t{sync_s:.2f} s ({EVENTS / sync_s:.0f}/s)\t-\t-")
    print(f"BENCH\tasync, {EVENTS} events to last completion\t{async_s:.2f} s "
          f"({EVENTS / async_s:.0f}/s)\t-\t-")
    print(f"BENCH\tasync / sync time ratio\t{ratio:.2f}\t<= {TARGET_RATIO}\t{status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
