"""What the lab changes inside moto: one table, checked, installed, undone (issue 12).

If a moto upgrade moves something the table replaces, ``Patches.check`` says what moved;
moto's own ways of "running" a function (Docker, canned responses) never show while a
lab runs; after ``lab.stop()`` moto is moto again and its ``mock_aws`` works.
"""

import json
import subprocess
import sys
from pathlib import Path

import boto3
import moto
import pytest
from conftest import invoke
from moto.awslambda import models as lambda_models
from moto.awslambda.models import LambdaBackend, LambdaFunction

import helpers
from helpers.aws import ACCOUNT_ID
from helpers.cloud import moto_app, patches
from helpers.cloud.patches import PATCHES, Patches

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CANNED = "Simple Lambda happy path OK"
REAL = """
import os
def lambda_handler(event, context):
    return {"event": event, "stream": context.log_stream_name,
            "request_id": context.aws_request_id}
"""


def fresh_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


@pytest.fixture
def no_running_lab():
    """moto is changed below: no lab may be using it meanwhile."""
    if helpers.lab._current is not None:
        helpers.lab._current.stop()


def test_the_table_lists_what_it_changes():
    assert len(PATCHES) >= 5
    for row in PATCHES:
        assert row.why and row.owner.startswith("moto.") and row.name, row
    rows = {(row.owner, row.name) for row in PATCHES}
    assert ("moto.awslambda.models.LambdaFunction", "invoke") in rows
    assert len(rows) == len(PATCHES), "a row is listed twice"


def test_the_check_passes_on_the_installed_moto_in_a_fresh_interpreter():
    result = fresh_python("from helpers.cloud.patches import Patches\n"
                          "print(Patches.check() or 'nothing moved')\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "nothing moved"


@pytest.mark.parametrize("row", PATCHES, ids=[f"{p.owner}.{p.name}" for p in PATCHES])
def test_the_check_names_a_replaced_attribute_that_moved(no_running_lab, monkeypatch, row):
    owner = patches.resolve(row.owner)
    for klass in (owner.__mro__ if isinstance(owner, type) else [owner]):
        if row.name in vars(klass):
            monkeypatch.delattr(klass, row.name)
    problems = Patches.check()
    assert f"{row.owner}.{row.name}: missing" in problems
    monkeypatch.undo()
    assert Patches.check() == []


def test_the_check_names_a_changed_signature(no_running_lab, monkeypatch):
    monkeypatch.setattr(LambdaFunction, "invoke", lambda self, payload: None)
    problems = Patches.check()
    assert any(p.startswith("moto.awslambda.models.LambdaFunction.invoke: parameters (self, "
                            "payload)") for p in problems), problems


def test_the_check_names_an_attribute_of_moto_objects_that_moved(no_running_lab, monkeypatch):
    from moto.sqs.models import Queue

    original = Queue.__init__

    def init_without_lock(queue, *args, **kwargs):
        original(queue, *args, **kwargs)
        del queue._messages_lock

    monkeypatch.setattr(Queue, "__init__", init_without_lock)
    assert "moto.sqs.models.Queue._messages_lock (an attribute of its objects): missing" in (
        Patches.check())


def test_a_moved_attribute_stops_the_lab_with_what_to_do(no_running_lab, monkeypatch):
    monkeypatch.delattr("moto.s3.notifications.send_event")
    lab = helpers.start_lab()
    with pytest.raises(Exception) as refused:
        boto3.client("s3").create_bucket(Bucket="moved-attribute")
    lab.stop()
    message = str(refused.value)
    assert "moto.s3.notifications.send_event: missing" in message
    assert "helpers/cloud/patches.py" in message


def test_each_row_is_installed_before_moto_answers_its_service_and_undone_on_stop(
        no_running_lab):
    from moto.s3 import notifications
    from moto.sqs.models import SQSBackend

    originals = {row: patches.resolve(row.owner).__dict__[row.name] for row in PATCHES}
    by_name = {(row.owner, row.name): original for row, original in originals.items()}
    send_event = by_name[("moto.s3.notifications", "send_event")]
    lab = helpers.start_lab()
    try:
        boto3.client("iam").list_roles()  # any service: the rows for every service
        assert LambdaFunction.__dict__["invoke"] is not by_name[
            ("moto.awslambda.models.LambdaFunction", "invoke")]
        assert notifications.send_event is send_event  # S3 not used yet
        boto3.client("s3").list_buckets()
        boto3.client("sqs").list_queues()
        boto3.client("sns").list_topics()
        boto3.client("dynamodb").list_tables()
        boto3.client("kinesis").list_streams()
        boto3.client("cloudwatch").list_metrics()
        boto3.client("cloudfront").list_distributions()
        assert notifications.send_event is not send_event
        assert SQSBackend.receive_message is not by_name[
            ("moto.sqs.models.SQSBackend", "receive_message")]
        assert len(lab.cloud.patches.installed) == len(PATCHES)
    finally:
        lab.stop()
    for row, original in originals.items():
        assert patches.resolve(row.owner).__dict__[row.name] is original, row


def test_mock_aws_works_after_the_lab_stops(no_running_lab):
    lab = helpers.start_lab()
    lab.deploy("before-mock", REAL)
    boto3.client("sqs").create_queue(QueueName="before-mock")
    lab.stop()
    import io
    import zipfile

    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("lambda_function.py", "def lambda_handler(e, c):\n    return 1\n")
    with moto.mock_aws(config={"lambda": {"use_docker": False}}):
        client = boto3.client("lambda", region_name="us-east-1")
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client.create_function(FunctionName="in-mock", Runtime="python3.12", Role=role,
                               Handler="lambda_function.lambda_handler",
                               Code={"ZipFile": package.getvalue()})
        answer = client.invoke(FunctionName="in-mock", Payload=b"{}")["Payload"].read()
        assert answer != b"1"  # moto's own answer: no lab ran the handler
        assert b"lab" not in answer.lower()
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="in-mock")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hello"
        assert [u.rsplit("/", 1)[-1] for u in sqs.list_queues()["QueueUrls"]] == ["in-mock"]


def test_import_helpers_loads_no_moto_module():
    result = fresh_python("import sys\nimport helpers\n"
                          "print([m for m in sys.modules if m == 'moto' or m.startswith('moto.')])")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_tested_moto_range_is_pyprojects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    spec = next(d for d in project["dependencies"] if d.startswith("moto"))
    low, high = (".".join(map(str, v)) for v in moto_app.TESTED)
    assert f">={low}" in spec and f"<{high.rsplit('.0', 1)[0]}" in spec, spec
    moto_app.check_version()  # the installed one is inside it


@pytest.mark.parametrize("version", ["5.2.4", "5.3.0", "6.0.0", "4.2.14"])
def test_a_moto_outside_the_tested_range_is_refused_clearly(version):
    with pytest.raises(helpers.LabError, match=rf"moto {version} is installed"):
        moto_app.check_version(version)


# -- while a lab runs ------------------------------------------------------------------------


def test_moto_never_runs_docker_nor_answers_with_canned_responses(lab, lambda_client, deploy,
                                                                  monkeypatch):
    docker_calls = []
    monkeypatch.setattr(LambdaFunction, "_invoke_lambda",
                        lambda fn, *args, **kwargs: docker_calls.append(fn.function_name))
    from moto.awslambda_simple.models import lambda_simple_backends

    name = deploy(REAL)
    # moto's queue of canned answers: the lab's answers must not come from it.
    canned = lambda_simple_backends[ACCOUNT_ID]["us-east-1"].lambda_simple_results_queue
    canned.append("canned answer")
    for payload in (None, {"order": 7}):
        response, body, tail = invoke(lambda_client, name, payload, LogType="Tail")
        assert "FunctionError" not in response
        result = json.loads(body)
        assert result["event"] == (payload or {})
        assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
        assert CANNED not in body.decode() and "canned answer" not in body.decode()
        assert f"START RequestId: {result['request_id']}" in tail
    backend = lambda_models.lambda_backends[ACCOUNT_ID]["us-east-1"]
    backend.invoke(name, None, "{}", {}, {})  # moto's own internal path
    assert docker_calls == []
    assert canned == ["canned answer"]
    canned.clear()


def test_an_invoke_made_inside_moto_runs_the_real_handler(lab, deploy):
    name = deploy(REAL)
    backend = lambda_models.lambda_backends[ACCOUNT_ID]["us-east-1"]
    headers = {}
    payload = backend.invoke(name, None, '{"a": 1}', {}, headers)
    result = json.loads(payload)
    assert result["event"] == {"a": 1}
    assert result["stream"] in [env.log_stream for env in lab.environments(name)]
    assert headers["Content-Length"] == str(len(payload))
    attempts = lab.trace.events("attempt.end", request_id=result["request_id"])
    assert [(a["source"], a["outcome"]) for a in attempts] == [("moto", "response")]
    assert isinstance(backend, LambdaBackend)


def test_moto_without_docker_config_still_runs_the_real_handler(lab, deploy):
    """moto's config ``lambda.use_docker: false`` sends other services' invokes to a backend
    that answers "Simple Lambda happy path OK"; the lab answers them instead."""
    from moto.awslambda.utils import get_backend
    from moto.core.config import default_user_config

    name = deploy(REAL)

    def configure(use_docker: bool) -> None:
        default_user_config["lambda"] = {"use_docker": use_docker}

    configure(False)
    try:
        backend = get_backend(ACCOUNT_ID, "us-east-1")
        assert type(backend).__name__ == "LambdaSimpleBackend"  # the config took effect
        payload = backend.invoke(name, None, '{"b": 2}', {}, {})
        assert CANNED.encode() not in payload
        assert json.loads(payload)["event"] == {"b": 2}
    finally:
        configure(True)
    assert type(get_backend(ACCOUNT_ID, "us-east-1")).__name__ == "LambdaBackend"


def test_boto3_sees_the_lab_not_moto_for_invoke(lab, lambda_client, deploy):
    """Through plain boto3: the X-Amz headers are the lab's, not moto's canned ones."""
    name = deploy("def lambda_handler(e, c):\n    raise ValueError('real error')\n")
    response, body, _ = invoke(lambda_client, name)
    assert response["FunctionError"] == "Unhandled"  # moto would say "Handled"
    assert json.loads(body)["errorMessage"] == "real error"
    assert boto3.client("lambda").meta.endpoint_url == lab.endpoint_url
