"""The lab's own speed: start, cold start, warm invoke, and the floor they stand on.

Prints, in one run:

- lab start: ``helpers.start_lab()`` until it returns, median of 5 start/stop cycles in
  this process (and, once, ``import helpers`` + ``start_lab()`` in a new interpreter,
  what a learner's first setup cell costs);
- cold start: the first ``invoke`` of a freshly deployed function, through boto3, median
  of 10 functions, beside the Init Duration its REPORT line gives;
- warm invoke: ``invoke`` of a no-op handler (``return None``) through boto3;
- the floor: ``get_function`` on the same function, a no-op call to the same lab over
  the same kind of keep-alive connection. Warm invoke and floor are measured
  interleaved (one of each, in turn) so that both see the same machine.

Targets (issue 2, on a 2-core machine): warm invoke <= 1.5 x floor, floor <= 3 ms
median, cold start <= 250 ms, lab start <= 2 s. Benchmarks print; they do not assert:
this script exits 0 whether a target is met or missed. ``BENCH`` lines feed the table
of ``python3 tasks.py bench``.
"""

from __future__ import annotations

import base64
import re
import statistics
import subprocess
import sys
import time

import boto3

import helpers

START_CYCLES = 5
COLD_FUNCTIONS = 10
WARMUP = 50
PAIRS = 1000
NOOP = "def lambda_handler(event, context):\n    return None\n"
INIT_DURATION = re.compile(r"Init Duration: (\d+\.\d+) ms")
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


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def lab_start_times() -> list[float]:
    times = []
    for _ in range(START_CYCLES):
        started = time.perf_counter()
        lab = helpers.start_lab()
        times.append(time.perf_counter() - started)
        lab.stop()
    return times


def first_start_in_a_new_interpreter() -> float | None:
    result = subprocess.run([sys.executable, "-c", FIRST_START], capture_output=True,
                            text=True, timeout=60)
    try:
        return float(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def cold_starts(lab, client) -> tuple[list[float], list[float]]:
    """(client-side seconds of each first invoke, Init Duration ms from each REPORT)."""
    times, inits = [], []
    for n in range(COLD_FUNCTIONS):
        name = f"bench-cold-{n}"
        lab.deploy(name, NOOP)
        started = time.perf_counter()
        response = client.invoke(FunctionName=name, LogType="Tail")
        response["Payload"].read()
        times.append(time.perf_counter() - started)
        if "FunctionError" in response:
            raise SystemExit(f"cold start {n} failed")
        tail = base64.b64decode(response["LogResult"]).decode()
        match = INIT_DURATION.search(tail)
        if match is None:
            raise SystemExit(f"cold start {n}: no Init Duration in the REPORT line")
        inits.append(float(match[1]))
    return times, inits


def warm_and_floor(client, name: str) -> tuple[list[float], list[float]]:
    def invoke_once():
        response = client.invoke(FunctionName=name)
        response["Payload"].read()
        if "FunctionError" in response:
            raise SystemExit(f"warm invoke failed: {response}")

    def floor_once():
        client.get_function(FunctionName=name)

    for _ in range(WARMUP):
        invoke_once()
        floor_once()
    warm, floor = [], []
    for _ in range(PAIRS):
        started = time.perf_counter()
        invoke_once()
        middle = time.perf_counter()
        floor_once()
        warm.append(middle - started)
        floor.append(time.perf_counter() - middle)
    return warm, floor


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    run_started = time.perf_counter()
    first_start = first_start_in_a_new_interpreter()
    starts = lab_start_times()
    lab = helpers.start_lab()
    try:
        client = boto3.client("lambda")
        lab.deploy("bench-warm", NOOP)
        client.invoke(FunctionName="bench-warm")["Payload"].read()  # its cold start
        cold, inits = cold_starts(lab, client)
        warm, floor = warm_and_floor(client, "bench-warm")
        environments = len(lab.environments("bench-warm"))
    finally:
        lab.stop()

    start_median = statistics.median(starts)
    cold_median = statistics.median(cold)
    warm_median, floor_median = statistics.median(warm), statistics.median(floor)
    ratio = warm_median / floor_median
    rows = [
        # (figure, value, target, status)
        (f"lab start (median of {START_CYCLES} cycles)", f"{ms(start_median):.0f} ms",
         "<= 2000 ms", verdict(start_median <= 2.0)),
        ("first start in a new interpreter (import + start)",
         "n/a" if first_start is None else f"{ms(first_start):.0f} ms", "<= 2000 ms",
         "MISS" if first_start is None else verdict(first_start <= 2.0)),
        (f"cold start, first invoke (median of {COLD_FUNCTIONS})",
         f"{ms(cold_median):.1f} ms", "<= 250 ms", verdict(cold_median <= 0.250)),
        ("  Init Duration in REPORT (median)", f"{statistics.median(inits):.1f} ms", "", ""),
        (f"warm invoke, median ({PAIRS} interleaved)", f"{ms(warm_median):.2f} ms", "", ""),
        ("  warm invoke, p90", f"{ms(p90(warm)):.2f} ms", "", ""),
        (f"floor: get_function, median ({PAIRS} interleaved)", f"{ms(floor_median):.2f} ms",
         "<= 3 ms", verdict(floor_median <= 0.003)),
        ("  floor, p90", f"{ms(p90(floor)):.2f} ms", "", ""),
        ("warm invoke / floor (medians)", f"{ratio:.2f}x", "<= 1.5x", verdict(ratio <= 1.5)),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(f"{'figure':{widths[0]}}  {'value':>{widths[1]}}  {'target':{widths[2]}}  status")
    for figure, value, target, status in rows:
        print(f"{figure:{widths[0]}}  {value:>{widths[1]}}  {target:{widths[2]}}  {status}")
    print(f"(warm invokes served by {environments} environment(s); "
          f"run took {time.perf_counter() - run_started:.0f} s)")
    for figure, value, target, status in rows:
        if target:
            print(f"BENCH\t{figure}\t{value}\t{target}\t{status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
