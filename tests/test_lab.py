"""Starting and stopping the lab (issue 2, point 2): one cloud per kernel, shielded.

These tests start and stop labs themselves, so each first stops the lab that other
tests share (conftest's ``lab`` fixture starts a new one when it next runs).
"""

import json
import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path

import boto3
import pytest
from process_tools import processes_running

import helpers
from helpers.server import HttpServer

FAKE_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documentation example, not a real key
FAKE_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
LEARNER_CREDENTIALS = f"""[default]
aws_access_key_id = {FAKE_ACCESS_KEY}
aws_secret_access_key = {FAKE_SECRET_KEY}

[learner]
aws_access_key_id = {FAKE_ACCESS_KEY}
aws_secret_access_key = {FAKE_SECRET_KEY}
"""
LEARNER_CONFIG = """[default]
region = eu-west-1

[profile learner]
region = ap-southeast-2
endpoint_url = https://example.invalid
"""
PID_HANDLER = """
import subprocess
def lambda_handler(event, context):
    subprocess.Popen(["sleep", "60"], start_new_session=True)  # left behind, in its own session
"""


@pytest.fixture(autouse=True)
def no_running_lab():
    """Stop the shared lab before each test; stop whatever a test left running after."""
    _stop_current()
    yield
    _stop_current()


def _stop_current():
    if helpers.lab._current is not None:
        helpers.lab._current.stop()


def _aws_variables() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "BOTO_"))}


def _port(lab) -> int:
    return int(lab.endpoint_url.rsplit(":", 1)[1])


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _process_gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/status") as status:
                if "State:\tZ" in status.read():
                    return True  # a zombie no one has reaped yet runs nothing
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.05)
    return False


def _lab_threads(within: float = 3.0) -> list:
    deadline = time.monotonic() + within
    while True:
        alive = [t.name for t in threading.enumerate() if t.name.startswith("lab-")]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def test_start_twice_returns_the_running_lab_without_a_second_server(monkeypatch):
    lab = helpers.start_lab()
    starts = []
    real_init = HttpServer.__init__
    monkeypatch.setattr(HttpServer, "__init__",
                        lambda server, *a, **k: starts.append(server) or real_init(server, *a, **k))
    threads_before = {t.ident for t in threading.enumerate()}

    again = helpers.start_lab()

    assert again is lab
    assert helpers.current_lab() is lab
    assert again.endpoint_url == lab.endpoint_url
    assert starts == []
    assert {t.ident for t in threading.enumerate()} <= threads_before
    boto3.client("s3").create_bucket(Bucket="still-here")
    lab.stop()
    assert not again.running


def test_with_block_stops_the_lab_on_exit():
    with helpers.start_lab() as lab:
        assert lab.running
        assert helpers.current_lab() is lab
        port = _port(lab)
        assert not _refuses(port)
    assert not lab.running
    assert _refuses(port)
    with pytest.raises(helpers.LabError, match="not running"):
        helpers.current_lab()


def test_kernel_points_at_the_lab_with_its_own_random_credentials():
    lab = helpers.start_lab()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", lab.endpoint_url)
    assert os.environ["AWS_ENDPOINT_URL"] == lab.endpoint_url
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", os.environ["AWS_ACCESS_KEY_ID"])
    assert len(os.environ["AWS_SECRET_ACCESS_KEY"]) == 40
    assert len(os.environ["AWS_SESSION_TOKEN"]) > 40
    assert (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]) == (
        lab._credentials)
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"

    s3 = boto3.client("s3")
    assert s3.meta.endpoint_url == lab.endpoint_url
    assert s3.meta.region_name == "us-east-1"
    s3.create_bucket(Bucket="orders")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["orders"]


def test_the_learners_real_profile_is_never_read_and_comes_back_after_stop(
        tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(LEARNER_CREDENTIALS)
    (home / ".aws" / "config").write_text(LEARNER_CONFIG)
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_PROFILE", "learner")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "corporate-ca.pem"))
    before = _aws_variables()
    # The setup is real: without the lab, boto3 reads these.
    assert boto3.session.Session().get_credentials().access_key == FAKE_ACCESS_KEY
    assert "learner" in boto3.session.Session().available_profiles

    lab = helpers.start_lab()
    try:
        session = boto3.session.Session()
        credentials = session.get_credentials()
        assert (credentials.access_key, credentials.secret_key) == lab._credentials
        assert session.region_name == "us-east-1"
        assert session.available_profiles == []  # neither file in ~/.aws was read
        assert session.client("lambda").meta.endpoint_url == lab.endpoint_url
        assert "AWS_PROFILE" not in os.environ
        assert "AWS_CA_BUNDLE" not in os.environ
        lab_names = set(_aws_variables())
    finally:
        lab.stop()

    assert _aws_variables() == before
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert not any(name in os.environ for name in lab_names - set(before))


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA"])
def test_an_endpoint_elsewhere_refuses_to_start_and_changes_nothing(monkeypatch, variable):
    monkeypatch.setenv(variable, "https://lambda.us-east-1.amazonaws.com")
    environment = dict(os.environ)
    workdirs = set(Path(tempfile.gettempdir()).glob("lambda-lab-*"))

    with pytest.raises(helpers.UnsafeEnvironmentError) as refused:
        helpers.start_lab()

    message = str(refused.value)
    assert variable in message
    assert "https://lambda.us-east-1.amazonaws.com" in message
    assert "refuses to start" in message
    assert dict(os.environ) == environment
    assert helpers.lab._current is None
    assert set(Path(tempfile.gettempdir()).glob("lambda-lab-*")) == workdirs
    assert _lab_threads(within=0) == []


def test_moto_request_log_never_reaches_output(capfd):
    lab = helpers.start_lab()
    lab.deploy("quiet", "def lambda_handler(event, context):\n"
                        "    print('this goes to the function log')\n"
                        "    return 1\n")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="quiet")
    s3.put_object(Bucket="quiet", Key="k", Body=b"v")
    s3.list_buckets()
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="quiet", Key="missing")
    response = boto3.client("lambda").invoke(FunctionName="quiet")
    assert json.loads(response["Payload"].read()) == 1
    boto3.client("logs").describe_log_groups()
    lab.stop()

    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""


def test_stop_leaves_nothing_behind():
    lab = helpers.start_lab()
    lab.deploy("stays-a", PID_HANDLER, timeout=10)
    lab.deploy("stays-b", PID_HANDLER, timeout=10)
    client = boto3.client("lambda")
    for name in ("stays-a", "stays-b"):
        client.invoke(FunctionName=name)
    environments = lab.environments()
    pids = [env.process.pid for env in environments]
    children = [child for pid in pids for child in processes_running(pid, "sleep")]
    runtime_ports = [int(env.server.address.rsplit(":", 1)[1]) for env in environments
                     if env.mode != "sandbox"]  # a sandbox's port is in its own network
    assert len(pids) == 2 and len(children) == 2
    assert all(Path(f"/proc/{pid}").exists() for pid in pids + children)
    workdir = lab.workdir
    assert workdir.is_dir()
    port = _port(lab)
    server_thread = lab.cloud.front.server._thread

    lab.stop()

    assert _refuses(port)
    assert all(_refuses(runtime_port) for runtime_port in runtime_ports)
    assert all(env.server._server._closed.is_set() for env in environments)
    assert all(_process_gone(pid) for pid in pids), "an execution environment outlived stop()"
    assert all(_process_gone(pid) for pid in children), "a function's child outlived stop()"
    assert _lab_threads() == []
    assert not server_thread.is_alive()
    assert not workdir.exists()


def test_start_stop_start_gives_a_new_empty_cloud():
    first = helpers.start_lab()
    boto3.client("s3").create_bucket(Bucket="first-lab")
    first.deploy("first-fn", "def lambda_handler(e, c):\n    return 'first'\n")
    first.stop()

    second = helpers.start_lab()
    assert second is not first and second.running
    assert os.environ["AWS_ENDPOINT_URL"] == second.endpoint_url
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    client = boto3.client("lambda")
    assert client.list_functions()["Functions"] == []
    second.deploy("second-fn", "def lambda_handler(e, c):\n    return 'second'\n")
    assert json.loads(client.invoke(FunctionName="second-fn")["Payload"].read()) == "second"
    second.stop()
    assert not first.running and not second.running
