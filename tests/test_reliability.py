"""Faults a learner can cause: the lab answers as AWS does, keeps going, leaves nothing.

Complements test_invoke.py (the documented error for each kind of failure) with what
happens around it: the kernel exiting or being killed, an interrupted invoke, handlers
that leave threads and processes behind, recursion, and many callers at once.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import invoke
from process_tools import children, processes_running

NO_RETRIES = Config(retries={"total_max_attempts": 1}, max_pool_connections=64,
                    read_timeout=120)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "State:\tZ" not in status.read()
    except FileNotFoundError:
        return False


def _wait_gone(pids, within=5.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


KERNEL = textwrap.dedent("""
    import json, sys, time, boto3, helpers
    from process_tools import processes_running
    lab = helpers.start_lab()
    lab.deploy("child", "import os, subprocess\\n"
               "def lambda_handler(e, c):\\n"
               "    p = subprocess.Popen(['sleep', '120'], start_new_session=True)\\n")
    boto3.client("lambda").invoke(FunctionName="child")
    [root] = [env.process.pid for env in lab.environments("child")]
    print(json.dumps([root, *processes_running(root, "sleep")]), flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)          # atexit stops the lab
    time.sleep(60)           # killed by the test
""")


@pytest.mark.parametrize("how", ["exit", "SIGKILL", "SIGTERM"])
def test_nothing_outlives_the_kernel(tmp_path, how):
    script = tmp_path / "kernel.py"
    script.write_text(KERNEL)
    process = subprocess.Popen([sys.executable, str(script), how.lower()],
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)})
    runtime_pid, child_pid = json.loads(process.stdout.readline())
    assert _alive(runtime_pid) and _alive(child_pid)
    if how != "exit":
        process.send_signal(getattr(signal, how))
    process.wait(timeout=20)
    assert _wait_gone([runtime_pid, child_pid]), "an execution environment outlived the kernel"


STUCK_KERNEL = textwrap.dedent("""
    import json, time, boto3, helpers
    lab = helpers.start_lab()
    lab.deploy("stuck", "import ctypes\\ndef lambda_handler(e, c):\\n"
               "    ctypes.PyDLL(None).sleep(300)\\n", timeout=900)
    boto3.client("lambda").invoke(FunctionName="stuck", InvocationType="Event")
    while not lab.trace.events("attempt.start"):
        time.sleep(0.05)
    time.sleep(0.3)  # inside the C call, holding the GIL
    print(json.dumps([env.process.pid for env in lab.environments("stuck")]), flush=True)
    time.sleep(60)
""")


def test_a_handler_stuck_in_a_long_c_call_ends_with_the_kernel():
    # PyDLL keeps the GIL: no thread of the runtime runs until the call returns, so only
    # the kernel (PR_SET_PDEATHSIG, the supervisor) can end it.
    process = subprocess.Popen([sys.executable, "-c", STUCK_KERNEL], stdout=subprocess.PIPE,
                               text=True)
    pids = json.loads(process.stdout.readline())
    assert pids and all(_alive(pid) for pid in pids)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=20)
    assert _wait_gone(pids), "a stuck environment outlived the kernel"


def test_interrupting_a_long_invoke_returns_control_and_the_lab_keeps_working(tmp_path):
    script = tmp_path / "interrupt.py"
    script.write_text(textwrap.dedent("""
        import time, boto3, helpers
        lab = helpers.start_lab()
        lab.deploy("slow", "import time\\ndef lambda_handler(e, c):\\n    time.sleep(20)\\n",
                   timeout=30)
        lab.deploy("quick", "def lambda_handler(e, c):\\n    return 'still here'\\n")
        client = boto3.client("lambda")
        print("ready", flush=True)
        started = time.monotonic()
        try:
            client.invoke(FunctionName="slow")
        except KeyboardInterrupt:
            print(f"interrupted after {time.monotonic() - started:.1f}", flush=True)
        print(client.invoke(FunctionName="quick")["Payload"].read().decode(), flush=True)
        lab.stop()
    """))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)  # what Jupyter's "interrupt kernel" sends
    out, _ = process.communicate(timeout=30)
    lines = out.splitlines()
    assert lines[0].startswith("interrupted after") and float(lines[0].split()[-1]) < 5
    assert lines[1] == '"still here"'
    assert process.returncode == 0


def test_threads_and_processes_left_by_a_handler(lab, lambda_client, deploy):
    name = deploy(
        "import os, subprocess, threading, time\n"
        "def chatter():\n"
        "    while True:\n"
        "        print('background thread still running', flush=True)\n"
        "        time.sleep(0.05)\n"
        "def lambda_handler(event, context):\n"
        "    if event.get('start'):\n"
        "        threading.Thread(target=chatter, daemon=True).start()\n"
        "        subprocess.Popen(['sleep', '120'], start_new_session=True)\n"
        "    return 'ok'\n"
    )
    invoke(lambda_client, name, {"start": True})
    [root] = [env.process.pid for env in lab.environments(name)]
    [child] = processes_running(root, "sleep")  # in a session of its own
    time.sleep(0.3)
    response, body, tail = invoke(lambda_client, name, LogType="Tail")
    assert json.loads(body) == "ok" and "FunctionError" not in response
    assert "background thread still running" in tail  # output between invokes is kept
    runtime_pids = [env.process.pid for env in lab.environments(name)]
    lab.stop()
    assert _wait_gone([child, *runtime_pids])


def test_busy_loop_without_sleeping_times_out(lambda_client, deploy):
    name = deploy("def lambda_handler(e, c):\n    while True:\n        pass\n", timeout=1)
    started = time.monotonic()
    response, body, _ = invoke(lambda_client, name)
    assert time.monotonic() - started < 3
    assert json.loads(body)["errorType"] == "Sandbox.Timedout"


def test_a_handler_that_invokes_itself(lab, lambda_client, deploy):
    source = (
        "import json, boto3\n"
        "from botocore.config import Config\n"
        "client = boto3.client('lambda', config=Config(retries={'total_max_attempts': 1}))\n"
        "def lambda_handler(event, context):\n"
        "    depth = event['depth']\n"
        "    if depth == event['stop']:\n"
        "        return depth\n"
        "    deeper = json.dumps({'depth': depth + 1, 'stop': event['stop']})\n"
        "    answer = client.invoke(FunctionName=context.function_name, Payload=deeper)\n"
        "    if answer.get('FunctionError'):\n"
        "        raise RuntimeError(answer['Payload'].read().decode())\n"
        "    return json.loads(answer['Payload'].read())\n"
    )
    name = deploy(source, timeout=10)
    assert json.loads(invoke(lambda_client, name, {"depth": 0, "stop": 4})[1]) == 4
    assert len(lab.environments(name)) == 5  # each level waits, so each needs its own
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    started = time.monotonic()
    response, body, _ = invoke(lambda_client, name, {"depth": 0, "stop": 1000})
    assert time.monotonic() - started < 10
    assert response["FunctionError"] == "Unhandled"
    assert "TooManyRequestsException" in json.loads(body)["errorMessage"]
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert json.loads(invoke(lambda_client, name, {"depth": 0, "stop": 1})[1]) == 1


def test_fifty_callers_against_reserved_concurrency_ten(lab, deploy):
    name = deploy(
        "import time\ndef lambda_handler(e, c):\n    time.sleep(1.5)\n    return 'ok'\n",
        timeout=10,
    )
    client = boto3.client("lambda", config=NO_RETRIES)
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=10)
    outcomes, barrier = [], threading.Barrier(50)

    def call():
        barrier.wait()
        try:
            client.invoke(FunctionName=name)
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"] + ":" + error.response.get(
                "Reason", ""))

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    client.get_function(FunctionName=name)  # the lab answers while it is busy
    assert time.monotonic() - started < 1.0
    for thread in threads:
        thread.join(60)
    assert outcomes.count("ok") == 10
    assert outcomes.count(
        "TooManyRequestsException:ReservedFunctionConcurrentInvocationLimitExceeded") == 40


def test_ten_thousand_async_events_drain_with_the_invariant_intact(lab, deploy):
    name = deploy("def lambda_handler(e, c):\n    return None\n")
    client = boto3.client("lambda", config=NO_RETRIES)
    before = len(lab.trace.events("event.queued"))
    started = time.monotonic()
    ids = set()
    for number in range(10_000):
        response = client.invoke(FunctionName=name, InvocationType="Event",
                                 Payload=json.dumps({"n": number}))
        ids.add(response["ResponseMetadata"]["RequestId"])
    assert lab.wait_for_events(timeout=300)
    elapsed = time.monotonic() - started
    queued = [e["request_id"] for e in lab.trace.events("event.queued")[before:]]
    completed = [e for e in lab.trace.events("event.completed") if e["request_id"] in ids]
    assert len(ids) == len(queued) == 10_000
    assert len(completed) == 10_000 and {e["request_id"] for e in completed} == ids
    assert {e["outcome"] for e in completed} == {"succeeded"}
    print(f"10,000 asynchronous events drained in {elapsed:.1f} s")


def _listening_addresses_of_this_process(networks=("self",)) -> list[str]:
    """Local addresses of every TCP socket this process listens on (Linux /proc), in the
    network of each process named in ``networks`` (a sandbox has a network of its own)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = []
    tables = [f"/proc/{pid}/net/{name}" for pid in networks for name in ("tcp", "tcp6")]
    for table in tables:
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # LISTEN, ours
                    host = fields[1].split(":")[0]
                    addresses.append(host)
    return addresses


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_every_endpoint_the_lab_opens_listens_on_loopback_only(lab, lambda_client, deploy):
    name = deploy("def lambda_handler(e, c):\n    return 1\n")
    invoke(lambda_client, name)  # an execution environment and its Runtime API
    gateway = lab.api_gateway  # the API Gateway front door
    assert gateway is not None
    sandboxes = [children(env.process.pid)[0] for env in lab.environments(name)
                 if env.mode == "sandbox"]  # a process inside each sandbox's own network
    addresses = _listening_addresses_of_this_process(["self", *sandboxes])
    assert len(addresses) >= 3, addresses  # moto, a Runtime API, API Gateway at least
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1
    assert set(addresses) <= loopback, addresses
