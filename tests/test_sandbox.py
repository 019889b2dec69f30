"""What a function can reach, in a sandbox and as a plain process (README, "What a function
can reach"). The sandbox: its own code read-only, its own /tmp, its own processes, its own
Runtime API and the lab's AWS endpoint; nothing else. A plain process reaches what the
learner's user can reach: the tests below say so, so the README stays true.
"""

import json
import os
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from conftest import invoke
from sandbox_support import start_lab_in

import helpers
from helpers.lambda_ import sandbox

PROBE = """
import errno, json, os, socket
def lambda_handler(event, context):
    def reach(path):
        try:
            with open(path, "rb") as f:
                return f.read(64).decode("latin-1")
        except OSError as error:
            return errno.errorcode[error.errno]
    def connect(port):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            return "connected"
        except OSError as error:
            return errno.errorcode.get(error.errno, str(error))
        finally:
            s.close()
    def write(path):
        try:
            with open(path, "w") as f:
                f.write("changed")
            return "written"
        except OSError as error:
            return errno.errorcode[error.errno]
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    return {
        "files": {path: reach(path) for path in event["files"]},
        "ports": {str(port): connect(port) for port in event["ports"]},
        "own_code": write(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "lambda_function.py")),
        "other_code": write(event["other_code"]),
        "pids": len(pids),
        "pid": os.getpid(),
        "kernel_environ": reach(f"/proc/{event['kernel_pid']}/environ"),
    }
"""


def probe_from_inside(lab, tmp_path):
    """Deploy two functions and let the first try to reach the second and the kernel."""
    secret = tmp_path / "kernel-file.txt"
    secret.write_text("the kernel's file")
    client = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))
    other = f"other-{uuid.uuid4().hex[:8]}"
    lab.deploy(other, "import time\ndef lambda_handler(e, c):\n    return 1\n")
    invoke(client, other)
    [other_env] = lab.environments(other)
    prober = f"probe-{uuid.uuid4().hex[:8]}"
    lab.deploy(prober, PROBE, timeout=20)
    gateway_port = lab.api_gateway.port
    other_api = [] if other_env.mode == "sandbox" else [
        int(other_env.server.address.rsplit(":", 1)[1])]
    home = Path.home()
    files = [str(secret), str(home / ".aws" / "credentials"), str(home / ".bash_history"),
             str(Path(lab.workdir) / "owner")]
    event = {"files": files, "ports": [gateway_port, *other_api],
             "other_code": str(other_env.task_root / "lambda_function.py"),
             "kernel_pid": os.getpid()}
    response, body, _ = invoke(client, prober, event)
    assert "FunctionError" not in response, body
    return json.loads(body), event, other_env


@pytest.fixture
def sandbox_lab():
    lab = start_lab_in("sandbox")
    yield lab
    lab.stop()


@pytest.fixture
def plain_lab():
    lab = start_lab_in("fork" if os.name == "posix" and os.uname().sysname == "Linux"
                       else "spawn")
    yield lab
    lab.stop()


def test_in_the_sandbox_a_function_reaches_only_its_own(sandbox_lab, tmp_path):
    result, event, other_env = probe_from_inside(sandbox_lab, tmp_path)
    assert other_env.mode == "sandbox"
    for path, answer in result["files"].items():
        assert answer == "ENOENT", (path, answer)  # the kernel's files, home, lab: absent
    for port, answer in result["ports"].items():
        assert answer == "ECONNREFUSED", (port, answer)  # no front door, no other Runtime API
    assert result["own_code"] == "EROFS"  # /var/task is read-only, as in Lambda
    assert result["other_code"] == "ENOENT"  # another function's code is not there at all
    assert result["pids"] <= 4 and result["pid"] <= 4  # its own process tree
    assert result["kernel_environ"] == "ENOENT"
    assert (other_env.task_root / "lambda_function.py").read_text() != "changed"


def test_as_a_plain_process_a_function_reaches_what_the_user_can(plain_lab, tmp_path):
    """The fallback, as README says: the learner's files and the other functions are
    within reach (which is why the lab sandboxes functions wherever it can)."""
    result, event, other_env = probe_from_inside(plain_lab, tmp_path)
    assert result["files"][event["files"][0]] == "the kernel's file"
    assert result["ports"][str(event["ports"][0])] == "connected"  # the API Gateway door
    assert result["pids"] > 4  # the machine's processes
    assert "=" in result["kernel_environ"]  # NAME=value: the kernel's variables


def test_the_sandbox_ends_with_its_parent(sandbox_lab):
    """The supervisor holds every sandbox; when it goes, so do they (bwrap --die-with-parent)."""
    from process_tools import wait_gone

    client = boto3.client("lambda")
    sandbox_lab.deploy("held", "def lambda_handler(e, c):\n    return 1\n")
    invoke(client, "held")
    [env] = sandbox_lab.environments("held")
    supervisor = sandbox_lab.service.launcher._supervisor.process
    supervisor.kill()  # SIGKILL: no chance to clean up
    assert wait_gone([env.process.pid], within=5)


def test_without_a_sandbox_the_lab_says_so_once(monkeypatch, capsys):
    if helpers.lab._current is not None:
        helpers.lab._current.stop()
    monkeypatch.setattr(sandbox, "probe", lambda: sandbox.Probe(False, "no bwrap here"))
    monkeypatch.setattr(helpers.lab, "_said", False)
    lab = helpers.start_lab()
    try:
        assert not lab.service.launcher.sandboxed
        lab.stop()
        helpers.start_lab()
    finally:
        helpers.lab._current.stop()
    out = capsys.readouterr().out
    assert out.count("not in a sandbox (no bwrap here)") == 1


def test_environments_sandbox_refuses_to_start_where_it_cannot(monkeypatch):
    if helpers.lab._current is not None:
        helpers.lab._current.stop()
    monkeypatch.setattr(sandbox, "probe", lambda: sandbox.Probe(False, "no bwrap here"))
    with pytest.raises(helpers.LabError, match="no bwrap here"):
        helpers.start_lab(environments="sandbox")


def test_python_installed_under_tmp_is_still_seen_in_the_sandbox(monkeypatch):
    # the sandbox's own /tmp is mounted first, so a venv under /tmp (a checkout there) is
    # bound over it, not hidden by it
    monkeypatch.setattr(sandbox, "_python_dirs", lambda: ["/tmp/project/.venv"])
    args = sandbox.command("bwrap", Path("/code"), Path("/runtime"), 512, ["python"])
    assert args.index("--tmpfs") < args.index("/tmp/project/.venv")
    assert args[args.index("--tmpfs") - 2:args.index("--tmpfs") + 2] == [
        "--size", str(512 * 1024 * 1024), "--tmpfs", "/tmp"]
