"""AWS's own runtime client against the lab's Runtime API (issue 2, point 8; Linux only).

Every case runs twice, once with the lab's built-in client and once with ``awslambdaric``,
and the caller must not be able to tell them apart: same payload, same FunctionError,
same ``[ERROR]`` log line. awslambdaric is in the test extra on Linux, so a missing or
broken install fails here rather than being skipped.
"""

import base64
import json
import re
import sys

import boto3
import pytest
from process_tools import command_line, descendants

import helpers

pytestmark = pytest.mark.skipif(sys.platform != "linux",
                                reason="awslambdaric ships Linux wheels only")

HANDLER = "lambda_function.lambda_handler"
CASES = {
    "success": {"lambda_function.py": (
        "def lambda_handler(event, context):\n"
        "    remaining = context.get_remaining_time_in_millis()\n"
        "    return {'ok': True, 'event': event, 'remaining': remaining > 0}\n"
    )},
    "unhandled": {"lambda_function.py": (
        "def check(order):\n"
        "    raise ValueError(f'order {order} has no items')\n"
        "def lambda_handler(event, context):\n"
        "    check(event['order'])\n"
    )},
    "import-error": {"lambda_function.py": "import no_such_module\n"},
    "handler-not-found": {"lambda_function.py": "def other(event, context):\n    pass\n"},
    "marshal-error": {"lambda_function.py": "def lambda_handler(e, c):\n    return {1, 2}\n"},
    "error-while-loading": {"lambda_function.py": "raise KeyError('CONFIG')\n"},
    "bytes": {"lambda_function.py": "def lambda_handler(e, c):\n    return b'\\x00raw'\n"},
    "logging-at-init": {"lambda_function.py": (
        "import logging\n"
        "logging.getLogger().warning('loading the module')\n"
        "print('init output')\n"
        "def lambda_handler(event, context):\n"
        "    return None\n"
    )},
    "logging": {"lambda_function.py": (
        "import logging\n"
        "def lambda_handler(event, context):\n"
        "    logging.getLogger().info('hidden at the default level')\n"
        "    logging.getLogger().warning('shown')\n"
        "    print('printed')\n"
    )},
}
REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TASK_ROOT = re.compile(r"/[^\s\"']*/task/")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_awslambdaric_is_installed():
    import awslambdaric  # noqa: F401  (in the test extra on Linux: must not be skipped)


def _normalise(text: str) -> str:
    """Request ids, task roots and timestamps differ per invoke and per environment."""
    text = REQUEST_ID.sub("REQUEST_ID", text)
    text = TASK_ROOT.sub("TASK_ROOT/", text)
    return TIMESTAMP.sub("TIMESTAMP", text)


def _lines(tail: str) -> list[str]:
    # "\n" only: the runtime joins the lines of one error record with "\r".
    return tail.split("\n")


def _function_lines(tail: str, request_id: str) -> list[str]:
    """What the runtime wrote between START and END (the platform lines are the lab's)."""
    lines = _lines(tail)
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    end = lines.index(f"END RequestId: {request_id}")
    return [_normalise(line) for line in lines[start + 1:end]]


def _init_lines(tail: str) -> list[str]:
    """What the runtime wrote during Init: after INIT_START, before INIT_REPORT or START."""
    lines = _lines(tail)
    start = next(i for i, line in enumerate(lines) if line.startswith("INIT_START"))
    end = next(i for i, line in enumerate(lines)
               if line.startswith(("INIT_REPORT", "START RequestId:")))
    return [_normalise(line) for line in lines[start + 1:end]]


def _run_cases(runtime_client: str) -> dict:
    if helpers.lab._current is not None:
        helpers.lab._current.stop()
    lab = helpers.start_lab(runtime_client=runtime_client)
    results = {}
    try:
        client = boto3.client("lambda")
        for case, files in CASES.items():
            name = f"ric-{case}"
            lab.deploy(name, files, handler=HANDLER)
            response = client.invoke(FunctionName=name, Payload=json.dumps({"order": 7}),
                                     LogType="Tail")
            request_id = response["ResponseMetadata"]["RequestId"]
            body = response["Payload"].read()
            tail = base64.b64decode(response["LogResult"]).decode()
            result = {
                "status": response["StatusCode"],
                "function_error": response.get("FunctionError"),
                "body": body,
                "request_id": request_id,
                "init_lines": _init_lines(tail),
                "function_lines": _function_lines(tail, request_id),
            }
            results[case] = result
        results["clients"] = {  # every command line in each environment's process tree
            " | ".join(" ".join(command_line(pid))
                       for pid in [env.process.pid, *descendants(env.process.pid)])
            for env in lab.environments()
        }
    finally:
        lab.stop()
    return results


def _payload(result: dict):
    """The payload, with what differs per invoke and per environment normalised."""
    try:
        payload = json.loads(result["body"])
    except ValueError:
        return result["body"]
    if isinstance(payload, dict) and "errorType" in payload:
        request_id = payload.get("requestId")
        assert request_id in ("", result["request_id"])  # empty for init errors
        payload["requestId"] = "REQUEST_ID" if request_id else ""
        payload["stackTrace"] = [_normalise(frame) for frame in payload["stackTrace"]]
    return payload


@pytest.fixture(scope="module")
def both():
    builtin = _run_cases("builtin")
    official = _run_cases("awslambdaric")
    return builtin, official


def test_each_mode_really_runs_its_own_client(both):
    builtin, official = both
    assert builtin["clients"] and official["clients"]
    # a new interpreter names its client; a fork of the template runs the builtin one
    assert all("bootstrap.py builtin" in command or "supervisor.py" in command
               for command in builtin["clients"])
    assert all("bootstrap.py awslambdaric" in command for command in official["clients"])
    assert not any("awslambdaric" in command for command in builtin["clients"])


@pytest.mark.parametrize("case", list(CASES))
def test_same_payload_and_function_error(both, case):
    builtin, official = both[0][case], both[1][case]
    assert builtin["status"] == official["status"] == 200
    assert builtin["function_error"] == official["function_error"]
    assert _payload(builtin) == _payload(official)


@pytest.mark.parametrize("case", list(CASES))
def test_same_log_lines(both, case):
    builtin, official = both[0][case], both[1][case]
    assert builtin["init_lines"] == official["init_lines"]
    assert builtin["function_lines"] == official["function_lines"]


def test_the_cases_cover_what_the_issue_names(both):
    official = both[1]
    assert official["success"]["function_error"] is None
    assert json.loads(official["success"]["body"]) == {
        "ok": True, "event": {"order": 7}, "remaining": True}
    expected = {
        "unhandled": "ValueError",
        "import-error": "Runtime.ImportModuleError",
        "handler-not-found": "Runtime.HandlerNotFound",
        "marshal-error": "Runtime.MarshalError",
        "error-while-loading": "KeyError",
    }
    for case, error_type in expected.items():
        assert official[case]["function_error"] == "Unhandled", case
        assert json.loads(official[case]["body"])["errorType"] == error_type, case
    assert len(json.loads(official["unhandled"]["body"])["stackTrace"]) == 2
    assert official["bytes"]["body"] == b"\x00raw"
