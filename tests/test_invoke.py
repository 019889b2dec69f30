"""Synchronous invocation through plain boto3: what the caller gets (spec §1-§2)."""

import json
import os
import re
import threading
import time

import pytest
from botocore.exceptions import ClientError
from conftest import invoke

ECHO = """
def lambda_handler(event, context):
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "name": context.function_name,
        "version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
    }
"""


def test_success_returns_200_payload_and_version(lambda_client, deploy):
    name = deploy(ECHO)
    response, body, _ = invoke(lambda_client, name, {"order": 7})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    result = json.loads(body)
    assert result["event"] == {"order": 7}
    assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert result["name"] == name
    assert result["version"] == "$LATEST"
    assert result["memory"] == "128"
    assert result["group"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", result["stream"])
    assert result["arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert 2000 < result["remaining"] <= 3000


def test_no_payload_means_empty_object(lambda_client, deploy):
    name = deploy(ECHO)
    _, body, _ = invoke(lambda_client, name)
    assert json.loads(body)["event"] == {}


def test_remaining_time_counts_down(lambda_client, deploy):
    name = deploy(
        "import time\n"
        "def lambda_handler(event, context):\n"
        "    first = context.get_remaining_time_in_millis()\n"
        "    time.sleep(0.3)\n"
        "    return [first, context.get_remaining_time_in_millis()]\n",
        timeout=5,
    )
    _, body, _ = invoke(lambda_client, name)
    first, second = json.loads(body)
    assert 4500 < first <= 5000
    assert 200 <= first - second <= 600


def test_versions_aliases_and_qualifiers_run_the_right_code(lab, lambda_client, deploy):
    name = deploy("def lambda_handler(e, c):\n    return 'v1'\n")
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "1"
    lab.deploy(name, "def lambda_handler(e, c):\n    return 'v2'\n")
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")

    cases = [
        ({}, "v2", "$LATEST"),
        ({"Qualifier": "$LATEST"}, "v2", "$LATEST"),
        ({"Qualifier": "1"}, "v1", "1"),
        ({"Qualifier": "live"}, "v1", "1"),
    ]
    for extra, expected, version in cases:
        response, body, _ = invoke(lambda_client, name, **extra)
        assert json.loads(body) == expected, extra
        assert response["ExecutedVersion"] == version, extra
    response, body, _ = invoke(lambda_client, f"{name}:live")
    assert (json.loads(body), response["ExecutedVersion"]) == ("v1", "1")


def test_invoked_function_arn_carries_the_qualifier(lambda_client, deploy):
    name = deploy(ECHO)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    _, body, _ = invoke(lambda_client, name, Qualifier="prod")
    assert json.loads(body)["arn"].endswith(f":function:{name}:prod")
    assert json.loads(body)["version"] == "1"


def test_unknown_function_or_qualifier_is_resource_not_found(lambda_client, deploy):
    with pytest.raises(ClientError) as missing:
        lambda_client.invoke(FunctionName="no-such-function")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    name = deploy(ECHO)
    with pytest.raises(ClientError) as bad_qualifier:
        lambda_client.invoke(FunctionName=name, Qualifier="7")
    assert bad_qualifier.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_handler_exception_is_a_function_error_not_an_api_error(lambda_client, deploy):
    name = deploy(
        "def lambda_handler(event, context):\n"
        "    raise ValueError('order 7 has no items')\n"
    )
    response, body, tail = invoke(lambda_client, name, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "order 7 has no items"
    assert error["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert len(error["stackTrace"]) == 1
    assert "lambda_function.py" in error["stackTrace"][0]
    assert "in lambda_handler" in error["stackTrace"][0]
    assert "runtime_client" not in body.decode()
    assert "[ERROR] ValueError: order 7 has no items\rTraceback (most recent call last):" in tail


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"lambda_function.py": "import no_such_module\n"},
            "lambda_function.lambda_handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'lambda_function': No module named 'no_such_module'",
        ),
        (
            {"lambda_function.py": "def other(e, c):\n    pass\n"},
            "lambda_function.lambda_handler",
            "Runtime.HandlerNotFound",
            "Handler 'lambda_handler' missing on module 'lambda_function'",
        ),
        (
            {"lambda_function.py": "def lambda_handler(e, c)\n    pass\n"},
            "lambda_function.lambda_handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'lambda_function': expected ':' (lambda_function.py, line 1)",
        ),
        (
            {"lambda_function.py": "def lambda_handler(e, c):\n    pass\n"},
            "lambda_handler",
            "Runtime.MalformedHandlerName",
            "Bad handler 'lambda_handler': not enough values to unpack (expected 2, got 1)",
        ),
        (
            {"lambda_function.py": "raise RuntimeError('no config')\n"},
            "lambda_function.lambda_handler",
            "RuntimeError",
            "no config",
        ),
    ],
    ids=["import", "handler-not-found", "syntax", "malformed-handler", "error-at-load"],
)
def test_init_errors(lambda_client, deploy, files, handler, error_type, message):
    name = deploy(files, handler=handler)
    response, body, tail = invoke(lambda_client, name, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == error_type
    assert error["errorMessage"] == message
    assert error["requestId"] == ""  # init errors carry no request id
    assert f"Phase: init\tStatus: error\tError Type: {error_type}" in tail
    # A failed init is retried by the next invoke, in a new environment.
    response, _, _ = invoke(lambda_client, name)
    assert response["FunctionError"] == "Unhandled"


def test_error_while_loading_module_has_a_stack_trace(lambda_client, deploy):
    name = deploy("raise RuntimeError('no config')\n")
    _, body, _ = invoke(lambda_client, name)
    trace = json.loads(body)["stackTrace"]
    assert any("lambda_function.py" in frame for frame in trace)


def test_marshal_error_for_values_json_cannot_hold(lambda_client, deploy):
    name = deploy("def lambda_handler(e, c):\n    return {1, 2}\n")
    response, body, _ = invoke(lambda_client, name)
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )


def test_bytes_are_returned_as_they_are(lambda_client, deploy):
    name = deploy("def lambda_handler(e, c):\n    return b'\\x00raw'\n")
    response, body, _ = invoke(lambda_client, name)
    assert "FunctionError" not in response
    assert body == b"\x00raw"


def test_timeout_kills_the_environment_and_reports_sandbox_timedout(lambda_client, deploy):
    name = deploy(
        "import time\n"
        "def lambda_handler(event, context):\n"
        "    if event.get('sleep'):\n"
        "        print('going to sleep')\n"
        "        time.sleep(30)\n"
        "    return context.log_stream_name\n",  # one log stream per environment
        timeout=1,
    )
    _, body, _ = invoke(lambda_client, name)
    first_environment = json.loads(body)
    started = time.monotonic()
    response, body, tail = invoke(lambda_client, name, {"sleep": True}, LogType="Tail")
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.5
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(body) == {
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert "going to sleep" in tail
    assert "Duration: 1000.00 ms" in tail and "Status: timeout" in tail
    assert f"{request_id} Task timed out after 1.00 seconds" in tail
    _, body, _ = invoke(lambda_client, name)
    assert json.loads(body) != first_environment  # a new environment


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        ("import sys\n    sys.exit(2)", "Runtime exited with error: exit status 2"),
        ("import os\n    os._exit(0)", "Runtime exited without providing a reason"),
        (
            "import ctypes\n    ctypes.string_at(0)",
            "Runtime exited with error: signal: segmentation fault",
        ),
    ],
    ids=["sys.exit", "os._exit", "segfault"],
)
def test_a_runtime_that_dies_returns_exit_error(lambda_client, deploy, code, detail):
    name = deploy(
        "def lambda_handler(event, context):\n"
        "    if event.get('crash'):\n"
        f"        {code.replace(chr(10) + '    ', chr(10) + '        ')}\n"
        "    return 'fine'\n"
    )
    response, body, tail = invoke(lambda_client, name, {"crash": True}, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(body) == {
        "errorMessage": f"RequestId: {request_id} Error: {detail}",
        "errorType": "Runtime.ExitError",
    }
    assert "Error Type: Runtime.ExitError" in tail
    _, body, _ = invoke(lambda_client, name)
    assert json.loads(body) == "fine"


def test_memory_beyond_memory_size_kills_the_runtime(lambda_client, deploy):
    name = deploy(
        "def lambda_handler(event, context):\n"
        "    if event.get('hog'):\n"
        "        blocks = [b'x' * (16 * 1024 * 1024) for _ in range(40)]\n"
        "    return 'fine'\n",
        memory_size=128, timeout=10,
    )
    started = time.monotonic()
    response, body, tail = invoke(lambda_client, name, {"hog": True}, LogType="Tail")
    assert time.monotonic() - started < 5
    request_id = response["ResponseMetadata"]["RequestId"]
    assert json.loads(body) == {
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
        "errorType": "Runtime.ExitError",
    }
    assert "Max Memory Used: 128 MB" in tail or re.search(r"Max Memory Used: 1[3-9]\d MB", tail)
    _, body, _ = invoke(lambda_client, name)
    assert json.loads(body) == "fine"


def test_request_over_6_mb_is_rejected(lambda_client, deploy):
    name = deploy(ECHO)
    payload = json.dumps({"blob": "x" * (6 * 1024 * 1024)})
    with pytest.raises(ClientError) as error:
        lambda_client.invoke(FunctionName=name, Payload=payload)
    assert error.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_request_that_is_not_json_is_rejected(lambda_client, deploy):
    name = deploy(ECHO)
    with pytest.raises(ClientError) as error:
        lambda_client.invoke(FunctionName=name, Payload=b"{not json")
    assert error.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_response_over_6_mb_is_function_response_size_too_large(lambda_client, deploy):
    name = deploy("def lambda_handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n")
    response, body, _ = invoke(lambda_client, name)
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(body) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
                        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def test_cold_then_warm_start_keeps_globals(lambda_client, deploy):
    name = deploy(
        "count = 0\n"
        "def lambda_handler(e, context):\n"
        "    global count\n"
        "    count += 1\n"
        "    return [context.log_stream_name, count]\n"
    )
    first, second = (invoke(lambda_client, name, LogType="Tail") for _ in range(2))
    (stream1, count1), (stream2, count2) = json.loads(first[1]), json.loads(second[1])
    assert stream1 == stream2 and (count1, count2) == (1, 2)
    assert "Init Duration:" in first[2] and "INIT_START" in first[2]
    assert "Init Duration:" not in second[2] and "INIT_START" not in second[2]


def test_concurrent_invokes_get_more_environments(lab, lambda_client, deploy):
    name = deploy(
        "import time\n"
        "def lambda_handler(e, context):\n"
        "    time.sleep(0.5)\n"
        "    return context.log_stream_name\n"
    )
    streams = []

    def call():
        streams.append(json.loads(invoke(lambda_client, name)[1]))

    started = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 1.4
    assert len(set(streams)) == 3
    assert len(lab.environments(name)) == 3


def test_new_code_retires_old_environments(lab, lambda_client, deploy):
    name = deploy("def lambda_handler(e, c):\n    return ['old', c.log_stream_name]\n")
    _, body, _ = invoke(lambda_client, name)
    old_stream = json.loads(body)[1]
    [old_pid] = environment_pids(lab, name)
    lab.deploy(name, "def lambda_handler(e, c):\n    return ['new', c.log_stream_name]\n")
    _, body, _ = invoke(lambda_client, name)
    label, new_stream = json.loads(body)
    assert label == "new" and new_stream != old_stream
    assert _process_gone(old_pid)


def test_configuration_change_retires_old_environments(lab, lambda_client, deploy):
    name = deploy(
        "import os\n"
        "def lambda_handler(e, c):\n"
        "    return os.environ.get('MODE')\n"
    )
    invoke(lambda_client, name)
    [old_pid] = environment_pids(lab, name)
    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MODE": "fast"}}
    )
    _, body, _ = invoke(lambda_client, name)
    assert json.loads(body) == "fast"
    assert _process_gone(old_pid)


def test_idle_environments_are_reaped(lab, lambda_client, deploy):
    name = deploy("def lambda_handler(e, c):\n    return 'hi'\n")
    invoke(lambda_client, name)
    [pid] = environment_pids(lab, name)
    lab.service.idle_timeout = 0.2
    try:
        assert _process_gone(pid, within=3.0)
        assert lab.environments(name) == []
    finally:
        lab.service.idle_timeout = 300.0


def test_functions_see_lambda_variables_not_the_kernel_environment(lab, lambda_client, deploy,
                                                                   monkeypatch):
    monkeypatch.setenv("KERNEL_SECRET", "do-not-leak")
    name = deploy(
        "import os\ndef lambda_handler(e, c):\n    return dict(os.environ)\n",
        environment={"TABLE": "orders"},
    )
    env = json.loads(invoke(lambda_client, name)[1])
    assert "KERNEL_SECRET" not in env
    assert env["TABLE"] == "orders"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["AWS_ENDPOINT_URL"] == lab.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == os.environ["AWS_ACCESS_KEY_ID"]  # the lab's own
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["TZ"] == ":UTC"
    assert env["LAMBDA_TASK_ROOT"].endswith("task")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert "AWS_REQUEST_ID" not in env


def test_boto3_inside_a_handler_reaches_the_lab(lambda_client, deploy):
    import boto3

    boto3.client("s3").create_bucket(Bucket="lab-inside")
    name = deploy(
        "import boto3\n"
        "def lambda_handler(e, c):\n"
        "    return [b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']]\n",
        timeout=10,
    )
    assert "lab-inside" in json.loads(invoke(lambda_client, name)[1])


def environment_pids(lab, name):
    """The host process ids of a function's environments (in a sandbox, each is the
    sandbox's outermost process: the handler sees its own small pid inside)."""
    return [env.process.pid for env in lab.environments(name)]


def _process_gone(pid, within=2.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/status") as status:
                if "State:\tZ" in status.read():
                    return True
        except OSError:  # gone (or going) while being read
            return True
        time.sleep(0.05)
    return False
