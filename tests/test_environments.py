"""Execution environments as Lambda builds them, in each way the lab runs them
(helpers/lambda_/environments.py, processes.py, supervisor.py, sandbox.py).

Each test runs in the sandbox, from the fork server and as a new interpreter, unless
it is about one of them. What differs between the modes (what a function can reach)
is in test_sandbox.py.
"""

import json
import os
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from conftest import invoke
from process_tools import processes_running, wait_gone
from sandbox_support import MODES, start_lab_in

from helpers.lambda_ import sandbox

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


@pytest.fixture(scope="module", params=MODES)
def mode_lab(request):
    lab = start_lab_in(request.param)
    yield lab
    lab.stop()


@pytest.fixture
def client(mode_lab):
    return boto3.client("lambda", config=Config(read_timeout=60,
                                                retries={"total_max_attempts": 1}))


def deploy(lab, source, **options):
    name = f"env-{uuid.uuid4().hex[:10]}"
    lab.deploy(name, source, **options)
    return name


# -- 5. environment variables ----------------------------------------------------------------

VARIABLES = """
import os, sys, time
def lambda_handler(event, context):
    return {"env": dict(os.environ), "zone": time.strftime("%Z"), "path": sys.path,
            "cwd": os.getcwd()}
"""


def test_the_function_s_unreserved_variables_win(mode_lab, client, monkeypatch):
    # Unreserved variables "can be extended in your function configuration":
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-runtime.html
    monkeypatch.setenv("KERNEL_SECRET", "do-not-leak")
    own = {"TZ": "Asia/Tokyo", "LANG": "C.UTF-8", "PATH": "/opt/bin:/usr/bin:/bin",
           "LD_LIBRARY_PATH": "/opt/lib", "PYTHONPATH": "/opt/python", "ORDERS": "t1",
           "AWS_ENDPOINT_URL": "https://lambda.us-east-1.amazonaws.com"}
    name = deploy(mode_lab, VARIABLES, environment=own)
    result = json.loads(invoke(client, name)[1])
    env = result["env"]
    for key in ("TZ", "LANG", "PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "ORDERS"):
        assert env[key] == own[key], key
    assert result["zone"] == "JST"  # TZ really applies
    assert "/opt/python" in result["path"]  # PYTHONPATH really applies
    assert env["AWS_ENDPOINT_URL"] == mode_lab.endpoint_url  # the lab's endpoint, always
    assert "KERNEL_SECRET" not in env
    assert result["cwd"] == env["LAMBDA_TASK_ROOT"] == result["path"][0]
    default = json.loads(invoke(client, deploy(mode_lab, VARIABLES))[1])
    assert (default["env"]["TZ"], default["env"]["LANG"], default["zone"]) == (
        ":UTC", "en_US.UTF-8", "UTC")  # Lambda's defaults


# -- 6. a private /tmp -----------------------------------------------------------------------

TMP = """
import os, tempfile
def lambda_handler(event, context):
    here = tempfile.gettempdir()
    before = sorted(os.listdir(here))
    if event.get("write"):
        with open(os.path.join(here, event["write"]), "w") as f:
            f.write("secret")
    return {"dir": here, "before": before, "tmpdir": os.environ.get("TMPDIR")}
"""


def test_each_environment_has_its_own_empty_tmp(mode_lab, client, tmp_path):
    # "Each execution environment provides ... /tmp": an environment's own, kept between
    # warm invokes: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
    first, second = deploy(mode_lab, TMP), deploy(mode_lab, TMP)
    secret = f"order-{uuid.uuid4().hex[:6]}"
    written = json.loads(invoke(client, first, {"write": secret})[1])
    [env] = mode_lab.environments(first)
    # empty at a cold start; in a sandbox, Python installed under /tmp (a checkout there)
    # is bound read-only into it, and nothing else
    empty = sorted({d.split("/")[2] for d in sandbox._python_dirs() if d.startswith("/tmp/")}
                   ) if env.mode == "sandbox" else []
    assert written["before"] == empty
    again = json.loads(invoke(client, first)[1])
    assert again["before"] == sorted([*empty, secret])  # kept by the warm environment
    other = json.loads(invoke(client, second)[1])
    assert other["before"] == empty  # another function's /tmp is another /tmp
    assert not os.path.exists(f"/tmp/{secret}")  # and none of it is the host's /tmp
    import tempfile

    assert not os.path.exists(os.path.join(tempfile.gettempdir(), secret))
    if env.mode == "sandbox":
        assert written["dir"] == "/tmp" and written["tmpdir"] is None  # as in Lambda
    else:
        assert written["dir"] == written["tmpdir"] != "/tmp"
        kept = written["dir"]
        assert os.path.exists(os.path.join(kept, secret))
    mode_lab.deploy(first, TMP)  # new code: new environments, an empty /tmp
    assert json.loads(invoke(client, first)[1])["before"] == empty
    if env.mode != "sandbox":
        deadline = time.monotonic() + 3
        while os.path.exists(kept) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(kept)  # removed when the environment retired


def test_ephemeral_storage_bounds_tmp_in_the_sandbox(mode_lab, client):
    # EphemeralStorage.Size: 512 to 10,240 MB:
    # https://docs.aws.amazon.com/lambda/latest/api/API_EphemeralStorage.html
    name = deploy(mode_lab, "import errno\n"
                  "def lambda_handler(event, context):\n"
                  "    try:\n"
                  "        with open('/tmp/big', 'wb') as f:\n"
                  "            for _ in range(event['mb']):\n"
                  "                f.write(bytes(1024 * 1024))\n"
                  "    except OSError as error:\n"
                  "        return errno.errorcode[error.errno]\n"
                  "    finally:\n"
                  "        import os\n"
                  "        os.remove('/tmp/big') if os.path.exists('/tmp/big') else None\n"
                  "    return 'written'\n", timeout=30, memory_size=256)
    configured = client.get_function_configuration(FunctionName=name)["EphemeralStorage"]
    assert configured == {"Size": 512}
    [result] = [json.loads(invoke(client, name, {"mb": 520})[1])]
    [env] = mode_lab.environments(name)
    if env.mode == "sandbox" and mode_lab.service.launcher.probe.sized_tmp:
        assert result == "ENOSPC"  # "No space left on device", as past /tmp's size in Lambda
        assert json.loads(invoke(client, name, {"mb": 500})[1]) == "written"
    else:
        assert result == "written"  # not enforced outside the sandbox (notebook 01 says so)


def test_a_package_is_unpacked_once_and_deleted_with_its_environments(mode_lab, client):
    # Issue 22, item 5: unpacked code of retired environments is deleted.
    name = deploy(mode_lab, "import time\ndef lambda_handler(e, c):\n    time.sleep(0.3)\n")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: invoke(client, name), range(3)))
    assert len(mode_lab.environments(name)) == 3
    roots = {str(env.task_root) for env in mode_lab.environments(name)}
    assert len(roots) == 1  # one shared, read-only copy
    [root] = roots
    client.delete_function(FunctionName=name)
    deadline = time.monotonic() + 3
    while os.path.exists(root) and time.monotonic() < deadline:  # the processes end first
        time.sleep(0.05)
    assert not os.path.exists(root)


# -- 7. out of memory, child processes included --------------------------------------------

CHILD_HOG = """
import subprocess, sys, time
def lambda_handler(event, context):
    child = subprocess.Popen([sys.executable, "-c",
                              "import time; x = bytearray(400 * 1024 * 1024); time.sleep(30)"])
    child.wait()
    return "finished"
"""


def test_memory_of_child_processes_counts_toward_memory_size(mode_lab, client):
    # The function's memory is its execution environment's, processes included; past it
    # the runtime is killed: payload Runtime.ExitError "signal: killed" (observed:
    # https://github.com/awslabs/amazon-s3-find-and-forget/pull/283), REPORT
    # "Error Type: Runtime.OutOfMemory" (https://github.com/nasa-gcn/gcn.nasa.gov/pull/3628)
    name = deploy(mode_lab, CHILD_HOG, memory_size=128, timeout=20)
    started = time.monotonic()
    response, body, tail = invoke(client, name, LogType="Tail")
    assert time.monotonic() - started < 10
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(body) == {
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: "
                        "killed", "errorType": "Runtime.ExitError"}
    report = [line for line in tail.splitlines() if line.startswith("REPORT")][0]
    assert "Status: error\tError Type: Runtime.OutOfMemory" in report
    used = int(report.split("Max Memory Used: ")[1].split(" MB")[0])
    assert used >= 128


# -- 9. a slow cold start delays nobody else ----------------------------------------------


def test_a_slow_cold_start_does_not_hold_other_functions(mode_lab, client):
    slow = deploy(mode_lab, "import time\ntime.sleep(1.5)\n"
                            "def lambda_handler(e, c):\n    return 'slow'\n", timeout=10)
    quick = deploy(mode_lab, "def lambda_handler(e, c):\n    return 'quick'\n")
    invoke(client, quick)  # warm
    finished = []
    cold = threading.Thread(target=lambda: finished.append(invoke(client, slow)[1]))
    cold.start()
    deadline = time.monotonic() + 5
    while not mode_lab.trace.events("attempt.start", function=FUNCTION_ARN + slow):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    answers = [invoke(client, quick)[1] for _ in range(10)]  # during the slow Init
    assert finished == []  # the cold start was still going on all along
    cold.join()
    assert answers == [b'"quick"'] * 10 and finished == [b'"slow"']


# -- 10. the fork server ------------------------------------------------------------------

INSIDE = """
import os, sys
def lambda_handler(event, context):
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    targets = {}
    for fd in fds:
        try:
            targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return {"targets": targets, "pid": os.getpid(), "session": os.getsid(0),
            "group": os.getpgid(0),
            "modules": sorted(m for m in sys.modules
                              if m.split(".")[0] in ("helpers", "boto3", "moto", "pytest")),
            "lab_dir_on_path": any(p.endswith(os.path.join("helpers", "lambda_"))
                                   for p in sys.path)}
"""


def test_an_environment_starts_clean_in_every_mode(mode_lab, client):
    # Nothing of the kernel reaches a function: modules, descriptors, session. Lambda's
    # runtime starts a fresh process: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
    result = json.loads(invoke(client, deploy(mode_lab, INSIDE))[1])
    assert result["modules"] == []  # no helpers, boto3, moto, pytest
    assert not result["lab_dir_on_path"]
    # its own session and process group: led by the runtime, or by the sandbox's init
    leaders = (result["pid"], 1) if mode_lab.service.launcher.sandboxed else (result["pid"],)
    assert result["session"] in leaders and result["group"] in leaders
    targets = {int(fd): target for fd, target in result["targets"].items()}
    assert targets[0] == "/dev/null"
    assert targets[1] == targets[2] and targets[1].startswith("pipe:")  # its output
    others = [target for fd, target in targets.items() if fd > 2]
    assert others and all(target.startswith("socket:") for target in others), targets


@pytest.mark.parametrize("mode_lab", ["fork"], indirect=True)
def test_the_fork_server_is_used_where_it_can_be_and_spawn_elsewhere(mode_lab, client):
    plain = deploy(mode_lab, "def lambda_handler(e, c):\n    return 1\n")
    special = deploy(mode_lab, "def lambda_handler(e, c):\n    return 1\n",
                     environment={"PYTHONWARNINGS": "error"})
    invoke(client, plain)
    invoke(client, special)
    modes = {event["function"]: event["mode"] for event in mode_lab.trace.events(
        "environment", state="initializing") if "mode" in event.fields}
    assert modes[FUNCTION_ARN + plain] == "fork"
    assert modes[FUNCTION_ARN + special] == "spawn"  # a variable the template cannot honour


def test_init_duration_is_the_handler_s_own_import_time(mode_lab, client):
    # Init Duration: "the time it took to load the function and run code outside the handler"
    # https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
    name = deploy(mode_lab, "import time\ntime.sleep(0.6)\n"
                            "def lambda_handler(e, c):\n    return 1\n")
    tail = invoke(client, name, LogType="Tail")[2]
    init_ms = float(tail.split("Init Duration: ")[1].split(" ms")[0])
    assert init_ms >= 600


def test_random_numbers_differ_between_environments(mode_lab, client):
    name = deploy(mode_lab, "import random, time\npicked = random.random()\n"
                            "def lambda_handler(e, c):\n    time.sleep(0.3)\n"
                            "    return picked\n")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        picked = set(pool.map(lambda _: json.loads(invoke(client, name)[1]), range(3)))
    assert len(picked) == 3


# -- bounded processes and descriptors (issue 22, item 4) -----------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_create_invoke_delete_cycles_leave_no_descriptors_or_threads(mode_lab, client):
    name = deploy(mode_lab, "def lambda_handler(e, c):\n    return 1\n")
    invoke(client, name)  # the first of each kind of thread is made once
    client.delete_function(FunctionName=name)
    time.sleep(0.5)
    fds, threads = _open_fds(), threading.active_count()
    for _ in range(5):
        name = deploy(mode_lab, "def lambda_handler(e, c):\n    return 1\n")
        invoke(client, name)
        client.delete_function(FunctionName=name)
    deadline = time.monotonic() + 5
    while (_open_fds() > fds or threading.active_count() > threads) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    assert _open_fds() <= fds
    assert threading.active_count() <= threads


def test_processes_a_handler_starts_end_with_its_environment(mode_lab, client):
    name = deploy(mode_lab, "import subprocess\n"
                  "def lambda_handler(event, context):\n"
                  "    subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
                  "    subprocess.Popen(['sh', '-c', 'sleep 300 & sleep 300'])\n")
    invoke(client, name)
    [env] = mode_lab.environments(name)
    sleepers = processes_running(env.process.pid, "sleep", at_least=3)
    assert len(sleepers) == 3
    mode_lab.deploy(name, "def lambda_handler(e, c):\n    return 1\n")  # retires it
    invoke(client, name)
    assert wait_gone([env.process.pid, *sleepers], within=5)


def test_a_handler_stuck_in_a_long_c_call_still_times_out(mode_lab, client):
    # PyDLL keeps the GIL: nothing in the runtime's process can run meanwhile.
    name = deploy(mode_lab, "import ctypes\n"
                  "def lambda_handler(event, context):\n"
                  "    ctypes.PyDLL(None).sleep(300)\n", timeout=1)
    started = time.monotonic()
    response, body, _ = invoke(client, name)
    assert time.monotonic() - started < 5
    assert json.loads(body)["errorType"] == "Sandbox.Timedout"
