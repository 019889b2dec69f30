"""Function logs in CloudWatch Logs and the 4 KB log tail (issue 2, point 6)."""

import base64
import json
import math
import re
import threading

import boto3
import pytest
from conftest import invoke

STREAM_NAME = re.compile(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}")
REPORT = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d\d) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\t"
    r"Max Memory Used: (?P<used>\d+) MB\t(?:Init Duration: (?P<init>\d+\.\d\d) ms\t)?$"
)
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
PRINTS = """
def lambda_handler(event, context):
    print("hello from the handler")
    print("second line", event["n"])
    return event["n"]
"""


@pytest.fixture
def logs():
    return boto3.client("logs")


def _streams(logs, name):
    group = f"/aws/lambda/{name}"
    return [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]


def _messages(logs, name, stream):
    """Every message of a stream, oldest first (following the pages)."""
    messages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=stream,
                                   startFromHead=True, **kwargs)
        messages += [event["message"] for event in page["events"]]
        if not page["events"] or page["nextForwardToken"] == token:
            return messages
        token = page["nextForwardToken"]


def _request_lines(messages, request_id):
    """The lines from START to REPORT of one request."""
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    report = next(i for i, m in enumerate(messages)
                  if m.startswith(f"REPORT RequestId: {request_id}\t"))
    return messages[start:report + 1]


def _check_billing(report):
    duration = float(report["duration"])
    init = float(report["init"] or 0)
    billed = int(report["billed"])
    # Each printed figure is rounded to 0.01 ms; Billed Duration rounds the sum up to 1 ms.
    assert math.ceil(duration + init - 0.01) <= billed <= math.ceil(duration + init + 0.01)


def test_group_and_one_stream_per_environment(lab, deploy, logs):
    name = deploy("import time\n"
                  "def lambda_handler(event, context):\n"
                  "    time.sleep(0.5)\n"
                  "    return context.log_stream_name\n")
    streams_seen = []

    def call(client):
        response = client.invoke(FunctionName=name)
        streams_seen.append(json.loads(response["Payload"].read()))

    clients = [boto3.client("lambda") for _ in range(2)]  # made here: creation is not thread-safe
    callers = [threading.Thread(target=call, args=(client,)) for client in clients]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()

    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [f"/aws/lambda/{name}"]
    streams = _streams(logs, name)
    assert len(streams) == 2
    assert all(STREAM_NAME.fullmatch(stream) for stream in streams)
    assert sorted(streams) == sorted(streams_seen)  # context.log_stream_name is its stream
    assert sorted(streams) == sorted(env.log_stream for env in lab.environments(name))
    # A warm invoke writes to the stream of the environment it reused.
    invoke(boto3.client("lambda"), name)
    assert sorted(_streams(logs, name)) == sorted(streams)


def test_start_output_end_and_report_lines(lambda_client, deploy, logs):
    name = deploy(PRINTS)
    cold_id = invoke(lambda_client, name, {"n": 1})[0]["ResponseMetadata"]["RequestId"]
    warm_id = invoke(lambda_client, name, {"n": 2})[0]["ResponseMetadata"]["RequestId"]
    (stream,) = _streams(logs, name)
    messages = _messages(logs, name, stream)

    for request_id, n, cold in ((cold_id, 1, True), (warm_id, 2, False)):
        lines = _request_lines(messages, request_id)
        assert lines[1:-1] == ["hello from the handler", f"second line {n}",
                               f"END RequestId: {request_id}"]
        report = REPORT.fullmatch(lines[-1])
        assert report, lines[-1]
        assert report["id"] == request_id
        assert report["memory"] == "128"
        assert int(report["used"]) > 0
        assert (report["init"] is not None) == cold
        _check_billing(report)
    assert messages.index(f"START RequestId: {cold_id} Version: $LATEST") < messages.index(
        f"START RequestId: {warm_id} Version: $LATEST")
    assert sum(m.startswith("INIT_START") for m in messages) == 1


def test_log_events_carry_timestamps_of_the_invoke(lambda_client, deploy, logs):
    import time

    name = deploy(PRINTS)
    before = int(time.time() * 1000)
    invoke(lambda_client, name, {"n": 1})
    after = int(time.time() * 1000)
    (stream,) = _streams(logs, name)
    events = logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=stream,
                                 startFromHead=True)["events"]
    assert events
    assert all(before - 1000 <= event["timestamp"] <= after + 1000 for event in events)


def test_tail_is_the_last_4_kb_of_the_log(lambda_client, deploy):
    name = deploy("def lambda_handler(event, context):\n"
                  "    print('FIRST-LINE')\n"
                  "    for i in range(100):\n"
                  "        print(f'line {i:03d} ' + 'x' * 90)\n"
                  "    print('LAST-LINE')\n")
    response = lambda_client.invoke(FunctionName=name, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096  # the log is ~10 KB: the tail is exactly its last 4 KB
    text = tail.decode()
    assert "FIRST-LINE" not in text
    assert "LAST-LINE" in text
    assert f"END RequestId: {request_id}" in text
    assert text.splitlines()[-1].startswith(f"REPORT RequestId: {request_id}\t")
    assert text.index("LAST-LINE") < text.index(f"END RequestId: {request_id}")
    # Without LogType=Tail there is no tail.
    assert "LogResult" not in lambda_client.invoke(FunctionName=name)


def test_huge_output_is_bounded_in_the_tail_and_the_stored_log(lambda_client, deploy, logs):
    name = deploy("import sys\n"
                  "def lambda_handler(event, context):\n"
                  "    sys.stdout.write('BEGIN-MARKER\\n')\n"
                  "    line = 'y' * 1023 + '\\n'\n"
                  "    for _ in range(20 * 1024):\n"
                  "        sys.stdout.write(line)\n"
                  "    sys.stdout.write('FINISH-MARKER\\n')\n"
                  "    return 'done'\n",
                  timeout=30)
    response, body, tail = invoke(lambda_client, name, LogType="Tail")
    assert "FunctionError" not in response
    assert json.loads(body) == "done"
    assert len(base64.b64decode(response["LogResult"])) <= 4096
    assert "FINISH-MARKER" in tail and "REPORT RequestId:" in tail

    (stream,) = _streams(logs, name)
    messages = _messages(logs, name, stream)
    assert sum(len(message) for message in messages) < 1024 * 1024
    assert "BEGIN-MARKER" in messages  # the start of the output is kept ...
    assert "FINISH-MARKER" in messages  # ... and its end
    (marker,) = [m for m in messages if m.startswith("[lab: ")]
    dropped = int(re.fullmatch(r"\[lab: (\d+) bytes of output not kept\]", marker)[1])
    assert 19 * 1024 * 1024 < dropped < 20 * 1024 * 1024 + 100
    assert messages[-1].startswith("REPORT RequestId: ")


def test_logging_module_lines_are_formatted_as_lambda_formats_them(lambda_client, deploy):
    name = deploy("import logging\n"
                  "logger = logging.getLogger()\n"
                  "logger.setLevel(logging.INFO)\n"
                  "def lambda_handler(event, context):\n"
                  "    logger.info('x')\n"
                  "    logging.getLogger().info('second')\n")
    response, _, tail = invoke(lambda_client, name, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    lines = tail.splitlines()
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    assert re.fullmatch(rf"\[INFO\]\t{TIMESTAMP}\t{request_id}\tx", lines[start + 1])
    assert re.fullmatch(rf"\[INFO\]\t{TIMESTAMP}\t{request_id}\tsecond", lines[start + 2])
    assert lines[start + 3] == f"END RequestId: {request_id}"


def test_root_logger_level_is_warning_unless_configured(lambda_client, deploy):
    """As in AWS: ``logger.info`` shows nothing until the level is set (or configured)."""
    source = ("import logging\n"
              "def lambda_handler(event, context):\n"
              "    logging.getLogger().info('quiet')\n"
              "    logging.getLogger().warning('loud')\n")
    _, _, tail = invoke(lambda_client, deploy(source), LogType="Tail")
    assert "\tloud" in tail and "quiet" not in tail
    configured = deploy(source, environment={"AWS_LAMBDA_LOG_LEVEL": "INFO"})
    _, _, tail = invoke(lambda_client, configured, LogType="Tail")
    assert "\tquiet" in tail and "\tloud" in tail
