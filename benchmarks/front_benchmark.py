"""The front's cost: a warm invoke through boto3 against botocore's own cost, and more.

Prints, in one run:

- warm synchronous invoke of a no-op handler through boto3, against a boto3 Invoke to a
  do-nothing keep-alive HTTP server in another process (what botocore itself costs);
  measured interleaved, one of each in turn. Target: ratio <= 1.6;
- how many TCP connections the front accepts for 100 calls of one boto3 client
  (target: 1, keep-alive);
- a 5 MB synchronous invoke against a 1 KB one (medians, interleaved);
- the first ``start_lab()`` in a fresh interpreter, imports included (median of 5
  interpreters). Target: <= 1 s.

Benchmarks print; they do not assert: this script exits 0 whether a target is met or
missed. ``BENCH`` lines feed the table of ``python3 tasks.py bench``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

import helpers  # noqa: E402

PAIRS = 1000
WARMUP = 50
BIG_ROUNDS = 10
NOOP = "def lambda_handler(event, context):\n    return None\n"
RATIO_TARGET = 1.6
START_TARGET_S = 1.0
# A keep-alive HTTP/1.1 server that answers every request as Invoke would, doing nothing.
NULL_SERVER = r"""
import socket, sys, threading
REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
         b"X-Amz-Executed-Version: $LATEST\r\nx-amzn-RequestId: 0\r\n"
         b"Content-Length: 4\r\n\r\nnull")
def serve(connection):
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = connection.makefile("rb")
    while True:
        length = 0
        line = reader.readline()
        if not line:
            return
        while True:
            line = reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        reader.read(length)
        connection.sendall(REPLY)
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
"""
FIRST_START = """
import time
started = time.perf_counter()
import helpers
lab = helpers.start_lab()
print(time.perf_counter() - started)
lab.stop()
"""


def ms(seconds: float) -> float:
    return seconds * 1000.0


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def first_starts() -> list[float]:
    times = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", FIRST_START], capture_output=True,
                             text=True, timeout=120, check=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return times


def main() -> int:
    starts = first_starts()
    null = subprocess.Popen([sys.executable, "-c", NULL_SERVER], stdout=subprocess.PIPE,
                            text=True)
    try:
        port = int(null.stdout.readline())
        lab = helpers.start_lab()
        try:
            lab.deploy("bench-front", NOOP)
            client = boto3.client("lambda")
            floor = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}",
                                 config=Config(retries={"total_max_attempts": 1}))

            def lab_invoke(payload=b"{}"):
                client.invoke(FunctionName="bench-front", Payload=payload)["Payload"].read()

            def null_invoke():
                floor.invoke(FunctionName="bench-front", Payload=b"{}")["Payload"].read()

            for _ in range(WARMUP):
                lab_invoke()
                null_invoke()
            lab_times, null_times = [], []
            for _ in range(PAIRS):
                lab_times.append(timed(lab_invoke))
                null_times.append(timed(null_invoke))

            counter = lab.cloud.front.server
            fresh = boto3.client("lambda")
            before = counter.connections_accepted
            for _ in range(100):
                fresh.get_function(FunctionName="bench-front")
            connections = counter.connections_accepted - before

            big = b'{"data": "' + b"x" * (5 * 1024 * 1024 - 20) + b'"}'
            small = b'{"data": "' + b"x" * (1024 - 20) + b'"}'
            big_times, small_times = [], []
            for _ in range(BIG_ROUNDS):
                big_times.append(timed(lambda: lab_invoke(big)))
                small_times.append(timed(lambda: lab_invoke(small)))
        finally:
            lab.stop()
    finally:
        null.kill()
        null.wait()

    lab_ms, null_ms = ms(statistics.median(lab_times)), ms(statistics.median(null_times))
    ratio = lab_ms / null_ms
    big_ms, small_ms = ms(statistics.median(big_times)), ms(statistics.median(small_times))
    start_s = statistics.median(starts)
    invoke_status = "PASS" if ratio <= RATIO_TARGET else "MISS"
    connection_status = "PASS" if connections == 1 else "MISS"
    start_status = "PASS" if start_s <= START_TARGET_S else "MISS"
    print(f"warm invoke through the front: {lab_ms:.2f} ms median "
          f"(p90 {ms(statistics.quantiles(lab_times, n=10)[-1]):.2f} ms)")
    print(f"boto3 Invoke to a do-nothing keep-alive server: {null_ms:.2f} ms median")
    print(f"ratio {ratio:.2f} (target <= {RATIO_TARGET}): {invoke_status}")
    print(f"TCP connections accepted for 100 calls of one client: {connections} "
          f"({connection_status})")
    print(f"5 MB invoke {big_ms:.1f} ms, 1 KB invoke {small_ms:.2f} ms "
          f"(5 MB costs {big_ms - small_ms:.1f} ms more)")
    print("first start_lab() in a fresh interpreter, imports included: "
          + ", ".join(f"{s:.2f}" for s in starts) + f" s (median {start_s:.2f} s): "
          + start_status)
    print(f"BENCH\twarm invoke / do-nothing server\t{ratio:.2f} ({lab_ms:.2f} / {null_ms:.2f} ms)"
          f"\t<= {RATIO_TARGET}\t{invoke_status}")
    print(f"BENCH\tTCP connections for 100 calls\t{connections}\t1\t{connection_status}")
    print(f"BENCH\t5 MB invoke vs 1 KB invoke\t{big_ms:.1f} ms vs {small_ms:.2f} ms\t-\t-")
    print(f"BENCH\tfirst start_lab(), imports included\t{start_s:.2f} s\t<= {START_TARGET_S} s"
          f"\t{start_status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
