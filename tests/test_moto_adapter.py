"""The one module that touches moto's internals (issue 2, point 7).

If a moto upgrade moves something the adapter relies on, ``self_check`` says what moved;
and moto's own ways of "running" a function (Docker, canned responses) never show.
"""

import json
import subprocess
import sys
import urllib.request

import boto3
import moto
import pytest
from conftest import invoke
from moto.awslambda import models as lambda_models
from moto.awslambda.models import LambdaBackend, LambdaFunction

import helpers
from helpers.cloud import moto_adapter

CANNED = "Simple Lambda happy path OK"
REAL = """
import os
def lambda_handler(event, context):
    return {"event": event, "pid": os.getpid(), "request_id": context.aws_request_id}
"""


@pytest.fixture
def no_running_lab():
    """Internals are removed for a moment below: no lab may be using them meanwhile."""
    if helpers.lab._current is not None:
        helpers.lab._current.stop()


def _remove(monkeypatch, dotted):
    """Make ``dotted`` disappear as a moto upgrade would: from its class and the classes it
    inherits from (moto's originals, and what install put in their place)."""
    owner_path, name = dotted.rsplit(".", 1)
    owner = moto_adapter._resolve(owner_path)
    if isinstance(owner, type(moto)):  # a module
        monkeypatch.delattr(owner, name)
        return
    cls = owner if isinstance(owner, type) else type(owner)
    for klass in cls.__mro__:
        if name in vars(klass):
            monkeypatch.delattr(klass, name)
    assert not hasattr(owner, name)


def test_self_check_passes_on_the_installed_moto(lab):
    moto_adapter.self_check()  # after install: replacements are in place
    moto_adapter.check_version()


def test_self_check_passes_before_install_in_a_fresh_interpreter():
    """Before install replaces anything, the check also compares moto's own signatures."""
    result = subprocess.run(
        [sys.executable, "-c",
         "from helpers.cloud import moto_adapter\n"
         "moto_adapter.self_check()\n"
         "moto_adapter.check_version()\n"
         "print('checked')\n"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "checked"


def test_check_version_refuses_an_untested_moto(monkeypatch):
    monkeypatch.setattr(moto, "__version__", "5.9.0")
    with pytest.raises(RuntimeError, match=r"moto 5\.9\.0 is installed"):
        moto_adapter.check_version()


@pytest.mark.parametrize("dotted", [
    "moto.awslambda.models.LambdaFunction._invoke_lambda",
    "moto.awslambda.models.LambdaFunction.invoke",
    "moto.awslambda.responses.LambdaResponse.invoke",
    "moto.core.responses.BaseResponse._enrich_response",
    "moto.awslambda.models.lambda_backends",
    "moto.awslambda.models.make_function_arn",
    "moto.moto_server.threaded_moto_server.ThreadedMotoServer._server_entry",
    "moto.logs.responses.LogsResponse.call_action",
    "moto.logs.models.logs_backends",
    "moto.backends.list_of_moto_modules",
    "moto.moto_api._internal.models.moto_api_backend.reset",
])
def test_self_check_names_what_moved(no_running_lab, monkeypatch, dotted):
    _remove(monkeypatch, dotted)
    with pytest.raises(RuntimeError) as moved:
        moto_adapter.self_check()
    message = str(moved.value)
    assert f"{dotted}: missing" in message
    assert f"moto {moto.__version__}" in message
    assert "pyproject.toml" in message and "moto[server]" in message
    monkeypatch.undo()
    moto_adapter.self_check()


@pytest.mark.parametrize("attribute", ["code_bytes", "code_sha_256", "run_time",
                                       "environment_vars", "reserved_concurrency"])
def test_self_check_names_a_function_attribute_that_moved(no_running_lab, monkeypatch,
                                                          attribute):
    original = LambdaFunction.__init__

    def init_without(fn, *args, **kwargs):
        original(fn, *args, **kwargs)
        delattr(fn, attribute)

    monkeypatch.setattr(LambdaFunction, "__init__", init_without)
    with pytest.raises(RuntimeError) as moved:
        moto_adapter.self_check()
    assert f"moto.awslambda.models.LambdaFunction.{attribute} " in str(moved.value)


def test_self_check_names_a_server_attribute_that_moved(no_running_lab, monkeypatch):
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    original = ThreadedMotoServer.__init__

    def init_renamed(server, *args, **kwargs):
        original(server, *args, **kwargs)
        server._ready = server.__dict__.pop("_server_ready_event")

    monkeypatch.setattr(ThreadedMotoServer, "__init__", init_renamed)
    with pytest.raises(RuntimeError, match=r"ThreadedMotoServer\._server_ready_event"):
        moto_adapter.self_check()


def test_self_check_names_a_changed_signature(no_running_lab, monkeypatch):
    monkeypatch.setattr(LambdaBackend, "get_function", lambda self, arn, qualifier=None: None)
    with pytest.raises(RuntimeError) as moved:
        moto_adapter.self_check()
    assert "LambdaBackend.get_function: parameters (self, arn, qualifier)" in str(moved.value)


def test_install_runs_the_self_check(no_running_lab, monkeypatch):
    monkeypatch.delattr("moto.logs.models.logs_backends")
    with pytest.raises(RuntimeError, match="logs_backends: missing"):
        helpers.start_lab()
    assert helpers.lab._current is None


def test_moto_never_runs_docker_nor_answers_with_canned_responses(lab, lambda_client, deploy,
                                                                  monkeypatch):
    docker_calls = []
    lab_runner = LambdaFunction._invoke_lambda

    def spy(fn, *args, **kwargs):
        docker_calls.append(fn.function_name)
        return lab_runner(fn, *args, **kwargs)

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", spy)
    name = deploy(REAL)
    # moto's API for queueing canned answers: the lab's answers must not come from it.
    request = urllib.request.Request(
        f"{lab.endpoint_url}/moto-api/static/lambda-simple/response",
        data=json.dumps({"results": ["canned answer"], "region": "us-east-1"}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201

    for payload in (None, {"order": 7}):
        response, body, tail = invoke(lambda_client, name, payload, LogType="Tail")
        assert "FunctionError" not in response
        result = json.loads(body)
        assert result["event"] == (payload or {})
        assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
        assert CANNED not in body.decode() and "canned answer" not in body.decode()
        assert f"START RequestId: {result['request_id']}" in tail
    assert docker_calls == []

    fn = lambda_models.lambda_backends[moto_adapter.ACCOUNT_ID]["us-east-1"].get_function(name)
    with pytest.raises(RuntimeError, match="Docker runner is disabled"):
        lab_runner(fn, "{}")


def test_an_invoke_made_inside_moto_runs_the_real_handler(lab, deploy):
    name = deploy(REAL)
    backend = lambda_models.lambda_backends[moto_adapter.ACCOUNT_ID]["us-east-1"]
    headers = {}
    payload = backend.invoke(name, None, '{"a": 1}', {}, headers)
    result = json.loads(payload)
    assert result["event"] == {"a": 1}
    assert result["pid"] in [env.process.pid for env in lab.environments(name)]
    assert headers["Content-Length"] == str(len(payload))
    attempts = lab.trace.events("attempt.end", request_id=result["request_id"])
    assert [(a["source"], a["outcome"]) for a in attempts] == [("moto", "response")]


def test_moto_without_docker_config_still_runs_the_real_handler(lab, deploy):
    """moto's config ``lambda.use_docker: false`` sends other services' invokes to a backend
    that answers "Simple Lambda happy path OK"; the lab answers them instead."""
    from moto.awslambda.utils import get_backend

    name = deploy(REAL)
    request = urllib.request.Request(
        f"{lab.endpoint_url}/moto-api/config",
        data=json.dumps({"lambda": {"use_docker": False}}).encode(), method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    try:
        backend = get_backend(moto_adapter.ACCOUNT_ID, "us-east-1")
        assert type(backend).__name__ == "LambdaSimpleBackend"  # the config took effect
        payload = backend.invoke(name, None, '{"b": 2}', {}, {})
        assert CANNED.encode() not in payload
        assert json.loads(payload)["event"] == {"b": 2}
    finally:
        request = urllib.request.Request(
            f"{lab.endpoint_url}/moto-api/config",
            data=json.dumps({"lambda": {"use_docker": True}}).encode(), method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()
    assert type(get_backend(moto_adapter.ACCOUNT_ID, "us-east-1")).__name__ == "LambdaBackend"


def test_boto3_sees_the_lab_not_moto_for_invoke(lab, lambda_client, deploy):
    """Through plain boto3: the X-Amz headers are the lab's, not moto's canned ones."""
    name = deploy("def lambda_handler(e, c):\n    raise ValueError('real error')\n")
    response, body, _ = invoke(lambda_client, name)
    assert response["FunctionError"] == "Unhandled"  # moto would say "Handled"
    assert json.loads(body)["errorMessage"] == "real error"
    assert boto3.client("lambda").meta.endpoint_url == lab.endpoint_url
