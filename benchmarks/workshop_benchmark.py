"""A workshop on one server: memory and CPU per learner, and 20 labs at once.

Prints, in one run:

- per learner: each course notebook run top to bottom in a fresh kernel (as a learner
  opens them, one after another), sampling the memory (PSS, so shared pages count once)
  of the kernel and every process it started (the lab's supervisor and its execution
  environments) and their CPU time; the largest peak is one learner's memory, the sum
  of CPU seconds one learner's course;
- 20 labs in 20 kernels at once (as JupyterHub runs them): each starts, deploys three
  functions and invokes them; then, all 20 running: their memory together and per lab,
  the CPU the starts took, and whether each lab refuses the others' credentials (a lab
  serves only its own clients).

README's "Running a workshop" gives these figures. Benchmarks print; they do not assert.
``BENCH`` lines feed the table of ``python3 tasks.py bench``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import nbformat
from botocore.config import Config
from botocore.exceptions import ClientError
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
LABS = 20
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
KERNEL = """
import json, sys, time, boto3, helpers
lab = helpers.start_lab()
for name, source in (
        ("hello", "def lambda_handler(e, c):\\n    return 'hello'\\n"),
        ("orders", "import json\\ndef lambda_handler(e, c):\\n    return json.dumps(e)\\n"),
        ("listing", "import boto3\\ndef lambda_handler(e, c):\\n"
                    "    return len(boto3.client('s3').list_buckets()['Buckets'])\\n")):
    lab.deploy(name, source, timeout=30)
client = boto3.client("lambda")
for name in ("hello", "orders", "listing") * 2:
    assert "FunctionError" not in client.invoke(FunctionName=name, Payload=b"{}")
key, secret = lab._credentials
print(json.dumps({"endpoint": lab.endpoint_url, "key": key, "secret": secret,
                  "token": lab._session_token, "mode": lab.service.launcher.mode}),
      flush=True)
sys.stdin.readline()
lab.stop()
"""


def tree(pid: int) -> list[int]:
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


def pss_mb(pids) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


class Sampler:
    """Samples a process tree's memory and CPU until stopped (peak PSS, CPU per pid)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_mb = 0.0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.25):
            self.sample()

    def sample(self):
        pids = tree(self.pid)
        self.peak_mb = max(self.peak_mb, pss_mb(pids))
        for pid in pids:
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_seconds(pid))

    def stop(self) -> tuple[float, float]:
        self.sample()
        self._stop.set()
        self._thread.join()
        return self.peak_mb, sum(self.cpu.values())


def per_learner() -> list[tuple[str, float, float]]:
    rows = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        with client.setup_kernel():
            sampler = Sampler(client.km.provisioner.process.pid)
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            peak, cpu = sampler.stop()
        rows.append((path.stem, peak, cpu))
    return rows


def refused(credentials: dict, endpoint: str) -> bool:
    client = boto3.session.Session(
        aws_access_key_id=credentials["key"], aws_secret_access_key=credentials["secret"],
        aws_session_token=credentials["token"], region_name="us-east-1").client(
        "lambda", endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1}))
    try:
        client.invoke(FunctionName="hello")
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return False


def twenty_labs() -> dict:
    started = time.perf_counter()
    kernels = [subprocess.Popen([sys.executable, "-c", KERNEL], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
               for _ in range(LABS)]
    samplers = [Sampler(kernel.pid) for kernel in kernels]
    labs = [json.loads(kernel.stdout.readline()) for kernel in kernels]
    ready_s = time.perf_counter() - started
    results = [sampler.stop() for sampler in samplers]
    together = pss_mb([pid for kernel in kernels for pid in tree(kernel.pid)])
    own_ok = sum(not refused(lab, lab["endpoint"]) for lab in labs)
    others_refused = sum(refused(labs[i], labs[(i + 1) % LABS]["endpoint"])
                         for i in range(LABS))
    for kernel in kernels:
        kernel.stdin.write("\n")
        kernel.stdin.flush()
    for kernel in kernels:
        kernel.wait(timeout=60)
    return {"ready_s": ready_s, "together_mb": together,
            "cpu_s": sum(cpu for _, cpu in results), "own_ok": own_ok,
            "others_refused": others_refused, "mode": labs[0]["mode"]}


def main() -> int:
    run_started = time.perf_counter()
    learner = per_learner()
    labs = twenty_labs()
    rows = [(f"{name}: peak memory (PSS) / CPU", f"{peak:.0f} MB / {cpu:.1f} s")
            for name, peak, cpu in learner]
    rows += [
        ("per learner: memory (largest notebook peak)",
         f"{max(peak for _, peak, _ in learner):.0f} MB"),
        ("per learner: CPU for the whole course", f"{sum(c for *_, c in learner):.0f} s"),
        (f"{LABS} labs at once ({labs['mode']}): ready after", f"{labs['ready_s']:.1f} s"),
        (f"{LABS} labs at once: memory together / per lab",
         f"{labs['together_mb']:.0f} / {labs['together_mb'] / LABS:.0f} MB"),
        (f"{LABS} labs at once: CPU to start and invoke, per lab",
         f"{labs['cpu_s'] / LABS:.1f} s"),
        (f"{LABS} labs at once: own clients served / others refused",
         f"{labs['own_ok']} / {labs['others_refused']} of {LABS}"),
    ]
    width = max(len(figure) for figure, _ in rows)
    for figure, value in rows:
        print(f"{figure:{width}}  {value}")
    print(f"(run took {time.perf_counter() - run_started:.0f} s)")
    for figure, value in rows:
        print(f"BENCH\t{figure}\t{value}\t-\t-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
