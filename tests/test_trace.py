"""The trace: queries, live subscribers, what a synchronous invoke records, and the
asynchronous invariant (each queued event ends exactly once) under random load."""

import json
import time
import uuid

import boto3
import hypothesis
import pytest
from async_support import drain, function_arn, make_queue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ECHO = """
import time
def lambda_handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    time.sleep(event.get("sleep", 0))
    return context.aws_request_id
"""


@pytest.fixture
def lambda_client(lab):
    return boto3.client("lambda")


def call(client, name, payload=None, **kwargs):
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload or {}), **kwargs)
    response["Payload"].read()
    return response["ResponseMetadata"]["RequestId"]


def test_a_synchronous_invoke_is_recorded_in_order(lab, lambda_client, deploy):
    name = deploy(ECHO)
    first, second = call(lambda_client, name), call(lambda_client, name)
    arn = function_arn(name)

    [invoke] = lab.trace.events("invoke", request_id=first)
    assert invoke.fields == {"request_id": first, "function": arn, "version": "$LATEST",
                             "invocation_type": "RequestResponse", "source": "api"}
    # A kind matches itself and its sub-kinds: "attempt" is attempt.start and attempt.end.
    assert [e.kind for e in lab.trace.events("attempt", request_id=first)] == [
        "attempt.start", "attempt.end"]
    [start1] = lab.trace.events("attempt.start", request_id=first)
    [start2] = lab.trace.events("attempt.start", request_id=second)
    assert (start1["cold"], start2["cold"]) == (True, False)
    assert start1["environment"] == start2["environment"]
    assert (start1["attempt"], start1["source"]) == (1, "api")
    [end1] = lab.trace.events("attempt.end", request_id=first)
    assert (end1["outcome"], end1["error_type"]) == ("response", None)
    assert end1["duration_ms"] > 0

    states = lab.trace.events("environment", environment=start1["environment"])
    assert [e["state"] for e in states] == ["initializing", "idle", "busy", "idle"]
    assert invoke.seq < states[0].seq < start1.seq < states[1].seq < end1.seq
    assert end1.seq < states[2].seq < start2.seq < states[3].seq
    assert lab.trace.events("event.queued", request_id=first) == []


def test_attempt_end_records_errors_and_timeouts(lab, lambda_client, deploy):
    name = deploy(ECHO, timeout=1)
    failed = call(lambda_client, name, {"fail": True})
    [error] = lab.trace.events("attempt.end", request_id=failed)
    assert (error["outcome"], error["error_type"]) == ("error", "ValueError")
    # A handled error keeps the environment; a timeout kills it.
    assert lab.trace.events("environment", environment=error["environment"])[-1]["state"] \
        == "idle"
    timed_out = call(lambda_client, name, {"sleep": 3})
    [timeout] = lab.trace.events("attempt.end", request_id=timed_out)
    assert (timeout["outcome"], timeout["error_type"]) == ("timeout", "Sandbox.Timedout")
    assert timeout["environment"] == error["environment"]
    assert lab.trace.events("environment", environment=timeout["environment"])[-1]["state"] \
        == "dead"


def test_subscribers_see_events_live_until_they_unsubscribe(lab, lambda_client, deploy):
    name = deploy(ECHO)
    call(lambda_client, name)  # warm
    received = []
    unsubscribe = lab.trace.subscribe(lambda event: received.append((time.monotonic(), event)))
    try:
        request_id = call(lambda_client, name, {"sleep": 0.4})
        returned = time.monotonic()
    finally:
        unsubscribe()
    mine = [(when, e) for when, e in received if e.get("request_id") == request_id]
    assert [e for _, e in mine] == lab.trace.events(request_id=request_id)
    started = next(when for when, e in mine if e.kind == "attempt.start")
    assert started < returned - 0.3  # delivered while the handler was still sleeping

    seen = len(received)
    call(lambda_client, name)
    assert len(received) == seen


def test_a_subscriber_that_raises_breaks_nothing(lab, lambda_client, deploy):
    name = deploy(ECHO)
    after = []

    def broken(event):
        raise RuntimeError("widget bug")

    unsubscribe_broken = lab.trace.subscribe(broken)
    unsubscribe_after = lab.trace.subscribe(after.append)
    try:
        response = lambda_client.invoke(FunctionName=name)
        assert response["StatusCode"] == 200 and "FunctionError" not in response
        request_id = response["ResponseMetadata"]["RequestId"]
        assert json.loads(response["Payload"].read()) == request_id
        queued = lambda_client.invoke(FunctionName=name, InvocationType="Event")
        assert queued["StatusCode"] == 202
        assert lab.wait_for_events(10)
    finally:
        unsubscribe_broken()
        unsubscribe_after()
    event_id = queued["ResponseMetadata"]["RequestId"]
    [done] = lab.trace.events("event.completed", request_id=event_id)
    assert done["outcome"] == "succeeded"
    assert [e.kind for e in after if e.get("request_id") == event_id][-1] == "event.completed"


# -- the asynchronous invariant, under random load ---------------------------------------

RANDOM_HANDLER = """
import time
def lambda_handler(event, context):
    action = event["action"]
    if action == "raise":
        raise RuntimeError("told to fail: " + event["tag"])
    if action == "timeout":
        time.sleep(5)  # past the 1 s timeout
    if action == "succeed":
        time.sleep(0.05)
    return {"tag": event["tag"], "action": action}
"""
FAILS = ("raise", "timeout")

function_settings = st.fixed_dictionaries({
    "retries": st.integers(0, 2),
    "on_success": st.booleans(),
    "on_failure": st.booleans(),
    "dlq": st.booleans(),
    "reserved_one": st.booleans(),
})


@st.composite
def scenarios(draw):
    count = draw(st.integers(2, 3))
    functions = draw(st.lists(function_settings, min_size=count, max_size=count))
    events = draw(st.lists(
        st.tuples(st.integers(0, count - 1), st.sampled_from(("succeed", "quick", "raise"))),
        min_size=1, max_size=8))
    slow = draw(st.none() | st.integers(0, count - 1))  # at most one event times out
    if slow is not None:
        events.insert(draw(st.integers(0, len(events))), (slow, "timeout"))
    return functions, events


@pytest.fixture
def random_lab(lab, deploy):
    """Three functions reused by every example; AWS's waits 2000 times faster."""
    names = [deploy(RANDOM_HANDLER, timeout=1) for _ in range(3)]
    assert lab.wait_for_events(30)
    lab.speedup = 2000
    yield lab, names
    lab.wait_for_events(30)
    lab.speedup = 1


def configure(client, name, config):
    """Apply one example's settings; returns the ARNs of its new queues."""
    arns = {}
    for kind in ("on_success", "on_failure", "dlq"):
        if config[kind]:
            arns[kind] = make_queue(kind.replace("_", "-"))
    destinations = {}
    if "on_success" in arns:
        destinations["OnSuccess"] = {"Destination": arns["on_success"][1]}
    if "on_failure" in arns:
        destinations["OnFailure"] = {"Destination": arns["on_failure"][1]}
    client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=config["retries"],
        DestinationConfig=destinations)
    client.update_function_configuration(
        FunctionName=name,
        DeadLetterConfig={"TargetArn": arns["dlq"][1] if "dlq" in arns else ""})
    if config["reserved_one"]:
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    else:
        client.delete_function_concurrency(FunctionName=name)
    return arns


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_queued_event_ends_exactly_once(random_lab, lambda_client, scenario):
    lab, names = random_lab
    functions, events = scenario
    queues = [configure(lambda_client, names[i], config) for i, config in enumerate(functions)]
    marker = max((e.seq for e in lab.trace.events()), default=0)

    sent = {}  # request id -> (function index, event)
    for index, action in events:
        event = {"action": action, "tag": uuid.uuid4().hex[:8]}
        response = lambda_client.invoke(FunctionName=names[index], InvocationType="Event",
                                        Payload=json.dumps(event))
        assert response["StatusCode"] == 202
        sent[response["ResponseMetadata"]["RequestId"]] = (index, event)
    assert lab.wait_for_events(60)

    def since(kind):
        return [e for e in lab.trace.events(kind) if e.seq > marker]

    # (shown by pytest --hypothesis-show-statistics)
    hypothesis.event(f"throttled: {bool(since('throttle'))}")
    hypothesis.event(f"timed out: {any(a == 'timeout' for _, a in events)}")

    queued = [e["request_id"] for e in since("event.queued")]
    assert sorted(queued) == sorted(sent)  # each event queued once
    ends = {}
    for end in since("event.completed"):
        assert end["request_id"] not in ends, "an event completed twice"
        ends[end["request_id"]] = end
    assert set(ends) == set(sent)  # and ended once: none vanished

    expected_messages = [{"on_success": set(), "on_failure": set(), "dlq": set()}
                         for _ in functions]
    for request_id, (index, event) in sent.items():
        config, end = functions[index], ends[request_id]
        arns = queues[index]
        if event["action"] in FAILS:
            targets = {arns[k][1] for k in ("on_failure", "dlq") if k in arns}
            assert end["condition"] == "RetriesExhausted", end.fields
            assert end["attempts"] == config["retries"] + 1
            if targets:
                assert end["outcome"] == "delivered", end.fields
                assert set(end["targets"]) == targets
            else:
                assert end["outcome"] == "dropped", end.fields
                assert "no on-failure destination or dead-letter queue" in end["reason"]
            for kind in ("on_failure", "dlq"):
                if kind in arns:
                    expected_messages[index][kind].add(request_id)
        else:
            assert end["attempts"] == 1
            if "on_success" in arns:
                assert (end["outcome"], end["condition"]) == ("delivered", "Success")
                assert end["targets"] == [arns["on_success"][1]]
                expected_messages[index]["on_success"].add(request_id)
            else:
                assert end["outcome"] == "succeeded", end.fields

    for index, arns in enumerate(queues):
        config = functions[index]
        for kind, (url, _) in arns.items():
            expected = expected_messages[index][kind]
            messages = drain(url, expect=len(expected), timeout=2)
            ids = []
            for message in messages:
                if kind == "dlq":
                    request_id = message["MessageAttributes"]["RequestID"]["StringValue"]
                    assert json.loads(message["Body"]) == sent[request_id][1]
                    ids.append(request_id)
                    continue
                record = json.loads(message["Body"])
                request_id = record["requestContext"]["requestId"]
                ids.append(request_id)
                event = sent[request_id][1]
                assert record["requestPayload"] == event
                assert record["requestContext"]["functionArn"] == (
                    function_arn(names[index]) + ":$LATEST")
                if kind == "on_success":
                    assert record["requestContext"]["condition"] == "Success"
                    assert record["requestContext"]["approximateInvokeCount"] == 1
                    assert record["responsePayload"] == {"tag": event["tag"],
                                                         "action": event["action"]}
                else:
                    assert record["requestContext"]["condition"] == "RetriesExhausted"
                    assert record["requestContext"]["approximateInvokeCount"] == (
                        config["retries"] + 1)
                    assert record["responseContext"]["functionError"] == "Unhandled"
                    assert record["responsePayload"]["errorType"] == (
                        "RuntimeError" if event["action"] == "raise" else "Sandbox.Timedout")
            assert sorted(ids) == sorted(expected), (kind, index)  # no extra, no duplicate
