"""Memory and disk stay bounded whatever a request or a handler claims (issue 22, items
3 and 5): bodies read up to their limit, responses cut at 6 MB, the trace bounded in
bytes, the lab's temporary directory gone when its kernel is.

Memory is measured in a fresh kernel (a subprocess), whose peak (VmHWM) says what the
lab allocated; a shared test process would hide it under earlier tests' peaks.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import helpers
from helpers.trace import MAX_FIELD_CHARS, Trace
from helpers.workdirs import owner_of_this_process

TESTS = Path(__file__).parent
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


PEAK = """\
def peak_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
"""


def run_kernel(code: str, timeout: float = 120) -> dict:
    """Run ``code`` in a new kernel; it prints one JSON line, its result."""
    result = subprocess.run([sys.executable, "-c", PEAK + textwrap.dedent(code)],
                            capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "PYTHONPATH": str(TESTS)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])




def test_a_request_claiming_1_gib_allocates_nothing_like_it():
    # API Gateway's payload limit is 10 MB; beyond it: 413
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
    result = run_kernel("""
        import json, socket, boto3, helpers
        lab = helpers.start_lab()
        gateway = lab.api_gateway
        before = peak_mb()
        answers = []
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", gateway.port)) as connection:
                connection.sendall(b"POST /restapis/x/prod/_user_request_/up HTTP/1.1\\r\\n"
                                   b"Host: x\\r\\nContent-Length: 1073741824\\r\\n\\r\\nshort")
                connection.shutdown(socket.SHUT_WR)
                answers.append(connection.recv(100).split(b" ")[1].decode())
        print(json.dumps({"grew_mb": peak_mb() - before, "answers": answers}))
        lab.stop()
    """)
    assert result["answers"] == ["413"] * 3
    assert result["grew_mb"] < 32  # not 1 GiB, not 64 MB of drained body either


def test_a_500_mb_response_is_not_read_into_the_kernel():
    # Synchronous responses are limited to 6 MB: Function.ResponseSizeTooLarge
    # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    result = run_kernel("""
        import json, boto3, helpers
        lab = helpers.start_lab()
        lab.deploy("huge", "def lambda_handler(e, c):\\n    return b'x' * (500 * 1024 * 1024)\\n",
                   memory_size=2048, timeout=60)
        client = boto3.client("lambda")
        client.invoke(FunctionName="huge", InvocationType="DryRun")
        before = peak_mb()
        answer = client.invoke(FunctionName="huge")
        error = json.loads(answer["Payload"].read())
        print(json.dumps({"grew_mb": peak_mb() - before, "type": error.get("errorType")}))
        lab.stop()
    """)
    assert result["type"] == "Function.ResponseSizeTooLarge"
    assert result["grew_mb"] < 48


def test_the_trace_is_bounded_in_bytes():
    trace = Trace(max_bytes=4 * 1024 * 1024)
    body = "b" * (60 * 1024)
    for number in range(200):  # 12 MB of bodies
        trace.record("apigateway.request", number=number, event={"body": body})
    assert trace.bytes <= 4 * 1024 * 1024
    numbers = [event["number"] for event in trace.events()]
    assert numbers == list(range(numbers[0], 200)) and numbers[0] > 100  # the newest kept
    trace.record("big", body="x" * (MAX_FIELD_CHARS * 3), items=["y" * (MAX_FIELD_CHARS + 5)])
    [big] = trace.events("big")
    assert len(big["body"]) < MAX_FIELD_CHARS + 100
    assert big["body"].endswith(f"[{MAX_FIELD_CHARS * 2} more characters not kept]")
    assert big["items"][0].endswith("[5 more characters not kept]")


def test_the_lab_s_trace_is_bounded_in_bytes(lab):
    assert lab.trace.max_bytes <= 64 * 1024 * 1024


# -- disk (item 5) -------------------------------------------------------------------------


def test_the_lab_s_temporary_directory_goes_soon_after_its_kernel_is_killed():
    kernel = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time, boto3, helpers
        lab = helpers.start_lab()
        lab.deploy("f", "def lambda_handler(e, c):\\n    return 1\\n")
        boto3.client("lambda").invoke(FunctionName="f")
        print(lab.workdir, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    workdir = Path(kernel.stdout.readline().strip())
    assert (workdir / "code").is_dir()
    kernel.send_signal(signal.SIGKILL)
    kernel.wait(timeout=10)
    deadline = time.monotonic() + 15  # a loaded machine is slow to notice
    while workdir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not workdir.exists()


def test_a_new_lab_removes_directories_whose_lab_is_gone():
    if helpers.lab._current is not None:
        helpers.lab._current.stop()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # a pid now unused
    root = Path(tempfile.gettempdir())
    abandoned = Path(tempfile.mkdtemp(prefix="lambda-lab-", dir=root))
    (abandoned / "owner").write_text(f"{gone} 1")
    (abandoned / "code").mkdir()
    (abandoned / "code" / "left.txt").write_text("from a crash")
    (abandoned / "code").chmod(0o555)
    ours = Path(tempfile.mkdtemp(prefix="lambda-lab-", dir=root))
    (ours / "owner").write_text(owner_of_this_process())
    unknown = Path(tempfile.mkdtemp(prefix="lambda-lab-", dir=root))  # no owner file
    try:
        lab = helpers.start_lab()
        lab.stop()
        assert not abandoned.exists()
        assert ours.exists() and unknown.exists()  # alive, or not a lab's: left alone
    finally:
        for path in (ours, unknown):
            path.rmdir() if not (path / "owner").exists() else (
                (path / "owner").unlink(), path.rmdir())
