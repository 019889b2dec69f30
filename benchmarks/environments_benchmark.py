"""Execution environments: cold starts in each mode, a slow cold start beside warm
invokes, and what 200 callers of one function cost.

Prints, in one run:

- cold start, from the request to the handler being called (the handler reports the
  time it was entered), for a no-op handler and one that imports boto3, in each mode the
  machine can run: ``sandbox`` (bubblewrap), ``fork`` (the fork server, no sandbox),
  ``spawn`` (a new interpreter, no sandbox). Modes are interleaved function by function
  so that all see the same machine; medians of ``COLD_ROUNDS``;
- warm invokes of function B while function A has a 1 s cold start (a 1 s import), and
  while A unpacks a large package: B's worst, p99 and median latency, beside B's own
  without A, measured in alternation (on a shared machine, the worst of B alone says how
  much of a worst case is the machine's);
- 200 concurrent callers of one function (each call lasting 5 s), in a fresh lab with
  the default account concurrency: environments started, callers throttled (as AWS
  throttles past the account's concurrency), processes, the lab's threads and the memory
  (PSS) of the kernel and of every environment at the peak, in the sandbox and with the
  fork server.

Targets (issue 13): cold start <= 15 ms for the no-op handler with the fork server
unsandboxed, and as close as the sandbox allows with it; B's worst latency during A's
cold start <= 50 ms. Benchmarks print; they do not assert. ``BENCH`` lines feed the table
of ``python3 tasks.py bench``.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

import helpers
from helpers.lambda_ import sandbox

COLD_ROUNDS = 9
NOOP = "import time\ndef lambda_handler(event, context):\n    return time.time()\n"
BOTO3 = "import time\nimport boto3\ndef lambda_handler(event, context):\n    return time.time()\n"
SLOW_IMPORT = "import time\ntime.sleep(1)\ndef lambda_handler(e, c):\n    return 1\n"
WARM = "def lambda_handler(event, context):\n    return 1\n"
CALLERS = 200
CALL_SECONDS = 5


def ms(seconds: float) -> float:
    return seconds * 1000.0


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[-1] if len(values) > 1 else values[0]


def modes() -> list[str]:
    available = ["fork", "spawn"]
    return (["sandbox"] if sandbox.probe().available else []) + available


def cold_start(lab, client, source: str, mode: str, n: int) -> float:
    """Seconds from sending the invoke to the handler running, on a new environment."""
    lab.service.launcher.mode = mode
    name = f"cold-{mode}-{n}-{len(source)}"
    lab.deploy(name, source, timeout=30)
    sent = time.time()
    response = client.invoke(FunctionName=name)
    entered = json.loads(response["Payload"].read())
    if "FunctionError" in response or not isinstance(entered, float):
        raise SystemExit(f"cold start in {mode} failed: {entered}")
    client.delete_function(FunctionName=name)
    return entered - sent


def cold_starts(lab, client) -> dict:
    results = {}
    original = lab.service.launcher.mode
    try:
        for n in range(COLD_ROUNDS):
            for source, label in ((NOOP, "no-op"), (BOTO3, "boto3")):
                for mode in modes():
                    results.setdefault((label, mode), []).append(
                        cold_start(lab, client, source, mode, n))
    finally:
        lab.service.launcher.mode = original
    return {key: statistics.median(values) for key, values in results.items()}


def large_package() -> bytes:
    """About 200 MB of files (stored, not compressed: unpacking is all writing), to be
    uploaded to S3 (a direct upload is limited to 50 MB)."""
    buffer = io.BytesIO()
    block = os.urandom(4 * 1024 * 1024)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("lambda_function.py", WARM)
        for index in range(50):
            archive.writestr(f"data/{index}.bin", block)
    return buffer.getvalue()


def warm_latencies(client, name: str, until: threading.Event, seconds: float) -> list[float]:
    latencies, deadline = [], time.perf_counter() + seconds
    while not until.is_set() and time.perf_counter() < deadline:
        started = time.perf_counter()
        client.invoke(FunctionName=name)["Payload"].read()
        latencies.append(time.perf_counter() - started)
    return latencies


def beside_a_cold_start(lab, client) -> dict:
    """B's latencies alone, and during A's slow cold start (import; large package)."""
    lab.deploy("bench-b", WARM)
    client.invoke(FunctionName="bench-b")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bench-packages")
    s3.upload_fileobj(io.BytesIO(large_package()), "bench-packages", "large.zip")
    results = {"alone": [], "slow import": [], "large package": []}
    for round_ in range(3):
        results["alone"] += warm_latencies(client, "bench-b", threading.Event(), 1.0)
        for kind in ("slow import", "large package"):
            name = f"bench-a-{kind.replace(' ', '-')}-{round_}"
            if kind == "slow import":
                lab.deploy(name, SLOW_IMPORT, timeout=30)
            else:
                boto3.client("lambda").create_function(
                    FunctionName=name, Runtime="python3.12", Role=_role(),
                    Handler="lambda_function.lambda_handler",
                    Code={"S3Bucket": "bench-packages", "S3Key": "large.zip"})
            done = threading.Event()
            cold = threading.Thread(target=lambda n=name, d=done: (
                client.invoke(FunctionName=n)["Payload"].read(), d.set()))
            cold.start()
            results[kind] += warm_latencies(client, "bench-b", done, 30)
            cold.join()
            client.delete_function(FunctionName=name)
    return results


def _role() -> str:
    from helpers.deploy import execution_role_arn

    return execution_role_arn()


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as listing:
                    todo.extend(int(child) for child in listing.read().split())
        except OSError:
            pass
    return found


def many_callers(lab) -> dict:
    """CALLERS threads invoke one function at once; count and measure at the peak."""
    name = f"bench-callers-{lab.service.launcher.mode}"
    lab.deploy(name, f"import time\ndef lambda_handler(e, c):\n"
                     f"    time.sleep({CALL_SECONDS})\n", timeout=30)
    client = boto3.client("lambda", config=Config(max_pool_connections=CALLERS,
                                                  retries={"total_max_attempts": 1},
                                                  read_timeout=60))
    outcomes = []

    def call(_):
        try:
            client.invoke(FunctionName=name)["Payload"].read()
            return "ok"
        except client.exceptions.TooManyRequestsException:
            return "throttled"

    peak = {"environments": 0}
    kernel = os.getpid()
    supervisor = lab.service.launcher._supervisor
    others = [supervisor.process.pid] if supervisor else []
    with ThreadPoolExecutor(CALLERS) as pool:
        futures = [pool.submit(call, n) for n in range(CALLERS)]
        started = time.perf_counter()
        while time.perf_counter() - started < CALL_SECONDS - 0.5:  # all busy: the peak
            environments = [env for env in lab.environments(name) if env.process]
            if len(environments) >= peak["environments"]:
                processes = [pid for env in environments for pid in _tree(env.process.pid)]
                peak = {
                    "environments": len(environments),
                    "processes": len(processes),
                    "threads": threading.active_count(),
                    "environments_mb": sum(_pss_kb(pid) for pid in processes) / 1024,
                    "kernel_mb": sum(_pss_kb(pid) for pid in [kernel, *others]) / 1024,
                }
            time.sleep(0.2)
        outcomes = [future.result() for future in futures]
    peak["throttled"] = outcomes.count("throttled")
    peak["ok"] = outcomes.count("ok")
    client.delete_function(FunctionName=name)
    return peak


def main() -> int:
    run_started = time.perf_counter()
    probe = sandbox.probe()
    rows = []
    callers = {}
    for mode in [m for m in ("sandbox", "fork") if m in modes()]:
        lab = helpers.start_lab(environments=mode)
        try:
            callers[mode] = many_callers(lab)
        finally:
            lab.stop()
    lab = helpers.start_lab(environments="sandbox" if probe.available else "fork")
    try:
        client = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))
        colds = cold_starts(lab, client)
        beside = beside_a_cold_start(lab, client)
    finally:
        lab.stop()

    for (label, mode), value in sorted(colds.items()):
        target, status = "", ""
        if label == "no-op" and mode == "fork":
            target, status = "<= 15 ms", "PASS" if value <= 0.015 else "MISS"
        rows.append((f"cold start, {label} handler, {mode} (median of {COLD_ROUNDS})",
                     f"{ms(value):.1f} ms", target, status))
    for mode in modes():
        if mode != "spawn" and ("no-op", "spawn") in colds:
            ratio = colds[("no-op", "spawn")] / colds[("no-op", mode)]
            rows.append((f"  spawn / {mode}, no-op cold start", f"{ratio:.1f}x", "", ""))
    alone = beside["alone"]
    rows.append(("warm invoke of B alone, median / p99 / worst",
                 f"{ms(statistics.median(alone)):.1f} / {ms(p99(alone)):.1f} / "
                 f"{ms(max(alone)):.1f} ms", "", ""))
    for kind in ("slow import", "large package"):
        values = beside[kind]
        worst = max(values)
        rows.append((f"warm invoke of B during A's cold start ({kind}), worst",
                     f"{ms(worst):.1f} ms", "<= 50 ms", "PASS" if worst <= 0.050 else "MISS"))
        rows.append((f"  same, median / p99 ({len(values)} invokes)",
                     f"{ms(statistics.median(values)):.1f} / {ms(p99(values)):.1f} ms", "", ""))
    for mode, peak in callers.items():
        rows.append((f"{CALLERS} callers, {mode}: environments / throttled",
                     f"{peak['environments']} / {peak['throttled']}", "", ""))
        rows.append((f"{CALLERS} callers, {mode}: processes / lab threads",
                     f"{peak['processes']} / {peak['threads']}", "", ""))
        rows.append((f"{CALLERS} callers, {mode}: memory (PSS) environments + kernel",
                     f"{peak['environments_mb']:.0f} + {peak['kernel_mb']:.0f} MB", "", ""))
        if peak["environments"]:
            rows.append((f"  per environment, {mode}",
                         f"{peak['environments_mb'] / peak['environments']:.1f} MB", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(f"{'figure':{widths[0]}}  {'value':>{widths[1]}}  {'target':{widths[2]}}  status")
    for figure, value, target, status in rows:
        print(f"{figure:{widths[0]}}  {value:>{widths[1]}}  {target:{widths[2]}}  {status}")
    if not probe.available:
        print(f"(no sandbox on this machine: {probe.reason})")
    print(f"(run took {time.perf_counter() - run_started:.0f} s)")
    for figure, value, target, status in rows:
        print(f"BENCH\t{figure.strip()}\t{value}\t{target or '-'}\t{status or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
