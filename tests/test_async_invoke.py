"""Asynchronous invocation through plain boto3 (spec §4, §5): the 202, the internal queue,
retries, event age, destinations, dead-letter queues, throttling and stopping the lab."""

import json
import time

import boto3
import pytest
from async_support import (
    check_record,
    drain,
    function_arn,
    make_queue,
    make_topic_to_queue,
    wait_for,
)
from botocore.exceptions import ClientError, ParamValidationError

OK = """
def lambda_handler(event, context):
    return {"handled": event, "by": context.function_name}
"""

FAIL = """
def lambda_handler(event, context):
    raise ValueError(f"order {event['order']} failed")
"""

# Reports each attempt (its request id and event) to the queue named in the event.
REPORT_THEN_FAIL = """
import json, boto3
sqs = boto3.client("sqs")
def lambda_handler(event, context):
    url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(
        {"request_id": context.aws_request_id, "event": event}))
    raise RuntimeError("try again")
"""


@pytest.fixture
def lambda_client(lab):
    return boto3.client("lambda")


@pytest.fixture
def fast(lab):
    """The lab with AWS's unconfigurable waits 600 times faster (a 60 s retry: 0.1 s)."""
    lab.speedup = 600
    yield lab
    lab.wait_for_events(15)
    lab.speedup = 1


def event_invoke(client, name, payload, **kwargs):
    """InvocationType=Event; returns (response, request id)."""
    response = client.invoke(FunctionName=name, InvocationType="Event",
                             Payload=json.dumps(payload), **kwargs)
    return response, response["ResponseMetadata"]["RequestId"]


def completed(lab, request_id):
    events = lab.trace.events("event.completed", request_id=request_id)
    assert len(events) == 1, events  # each event ends exactly once
    return events[0]


# -- the 202 ---------------------------------------------------------------------------


def test_event_returns_202_at_once_and_the_function_runs_later(fast, lambda_client, deploy):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="async-side-effects")
    name = deploy(
        """
        import json, time, boto3
        def lambda_handler(event, context):
            time.sleep(2)
            boto3.client("s3").put_object(
                Bucket="async-side-effects", Key=context.aws_request_id,
                Body=json.dumps({"event": event, "request_id": context.aws_request_id}))
        """,
        timeout=5,
    )
    started = time.monotonic()
    response = lambda_client.invoke(FunctionName=name, InvocationType="Event",
                                    Payload=json.dumps({"order": 7}))
    elapsed = time.monotonic() - started
    body = response["Payload"].read()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["StatusCode"] == 202
    assert body == b""
    assert elapsed < 0.5
    with pytest.raises(ClientError) as not_yet:  # the function is still sleeping
        s3.head_object(Bucket="async-side-effects", Key=request_id)
    assert not_yet.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    assert fast.wait_for_events(15)
    written = json.loads(
        s3.get_object(Bucket="async-side-effects", Key=request_id)["Body"].read())
    assert written == {"event": {"order": 7}, "request_id": request_id}
    end = fast.trace.events("attempt.end", request_id=request_id)
    assert [e["outcome"] for e in end] == ["response"]
    assert end[0]["duration_ms"] >= 2000
    assert completed(fast, request_id)["outcome"] == "succeeded"


def test_request_id_is_the_handlers_and_survives_retries(fast, lambda_client, deploy):
    url, _ = make_queue("attempts")
    name = deploy(REPORT_THEN_FAIL, timeout=10)
    queue = url.rsplit("/", 1)[-1]
    _, request_id = event_invoke(lambda_client, name, {"queue": queue})
    assert fast.wait_for_events(15)
    reports = [json.loads(m["Body"]) for m in drain(url, expect=3)]
    assert len(reports) == 3  # the first attempt and two retries
    assert {r["request_id"] for r in reports} == {request_id}
    assert all(r["event"] == {"queue": queue} for r in reports)


def test_payload_limit_is_1_mb(fast, lambda_client, deploy):
    name = deploy("def lambda_handler(event, context):\n    return len(event['blob'])\n")
    overhead = len(json.dumps({"blob": ""}))
    queued_before = len(fast.trace.events("event.queued"))
    with pytest.raises(ClientError) as too_large:
        lambda_client.invoke(FunctionName=name, InvocationType="Event",
                             Payload=json.dumps({"blob": "x" * (1_048_577 - overhead)}))
    assert too_large.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert too_large.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert len(fast.trace.events("event.queued")) == queued_before  # nothing was queued

    for size in (900 * 1024, 1_048_576):
        payload = json.dumps({"blob": "x" * (size - overhead)})
        assert len(payload) == size
        response = lambda_client.invoke(FunctionName=name, InvocationType="Event",
                                        Payload=payload)
        assert response["StatusCode"] == 202
        request_id = response["ResponseMetadata"]["RequestId"]
        assert fast.trace.events("event.queued", request_id=request_id)[0]["payload_bytes"] \
            == size
    assert fast.wait_for_events(15)
    outcomes = [e["outcome"] for e in fast.trace.events("attempt.end", function=function_arn(name))]
    assert outcomes == ["response", "response"]


# -- the event invoke configuration ----------------------------------------------------


def test_event_invoke_config_put_update_get_list_delete(lab, lambda_client, deploy):
    name = deploy(OK)
    _, queue_arn = make_queue("config")
    destinations = {"OnFailure": {"Destination": queue_arn}}

    def config():
        response = lambda_client.get_function_event_invoke_config(FunctionName=name)
        return {k: v for k, v in response.items() if k not in ("ResponseMetadata", "LastModified")}

    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=3600,
        DestinationConfig=destinations)
    assert config() == {"FunctionArn": function_arn(name), "MaximumRetryAttempts": 1,
                        "MaximumEventAgeInSeconds": 3600, "DestinationConfig": destinations}

    lambda_client.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert config() == {"FunctionArn": function_arn(name), "MaximumRetryAttempts": 0,
                        "MaximumEventAgeInSeconds": 3600, "DestinationConfig": destinations}

    listed = lambda_client.list_function_event_invoke_configs(FunctionName=name)
    assert [{k: v for k, v in c.items() if k != "LastModified"}
            for c in listed["FunctionEventInvokeConfigs"]] == [config()]

    # Put replaces the whole configuration: settings it does not name are removed.
    lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
    assert config() == {"FunctionArn": function_arn(name), "MaximumRetryAttempts": 2}

    lambda_client.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(ClientError) as gone:
        lambda_client.get_function_event_invoke_config(FunctionName=name)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lambda_client.list_function_event_invoke_configs(
        FunctionName=name)["FunctionEventInvokeConfigs"] == []


def test_event_invoke_config_ranges_are_validated(lab, lambda_client, deploy):
    name = deploy(OK)
    # botocore checks minimums before sending (the model has min 60)...
    with pytest.raises(ParamValidationError, match="valid min value: 60"):
        lambda_client.put_function_event_invoke_config(FunctionName=name,
                                                       MaximumEventAgeInSeconds=59)
    # ...but not maximums: those come back from the service as a ValidationException.
    for setting, value in (("MaximumRetryAttempts", 3), ("MaximumEventAgeInSeconds", 21601)):
        with pytest.raises(ClientError) as invalid:
            lambda_client.put_function_event_invoke_config(FunctionName=name,
                                                           **{setting: value})
        assert invalid.value.response["Error"]["Code"] == "ValidationException"
        assert invalid.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert f"Value '{value}'" in invalid.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        lambda_client.get_function_event_invoke_config(FunctionName=name)  # none was stored
    for retries, age in ((0, 60), (2, 21600)):  # the bounds themselves are fine
        lambda_client.put_function_event_invoke_config(
            FunctionName=name, MaximumRetryAttempts=retries, MaximumEventAgeInSeconds=age)


# -- retries -----------------------------------------------------------------------------


def test_function_error_is_retried_after_one_then_two_minutes(lab, lambda_client, deploy):
    lab.speedup = 120  # 60 s -> 0.5 s, 120 s -> 1 s
    try:
        name = deploy(FAIL)
        _, request_id = event_invoke(lambda_client, name, {"order": 7})
        assert lab.wait_for_events(15)
    finally:
        lab.speedup = 1
    starts = lab.trace.events("attempt.start", request_id=request_id)
    ends = lab.trace.events("attempt.end", request_id=request_id)
    retries = lab.trace.events("event.retry", request_id=request_id)
    assert [e["attempt"] for e in starts] == [1, 2, 3]
    assert [e["error_type"] for e in ends] == ["ValueError"] * 3
    assert [(r["aws_delay_s"], r["lab_delay_s"]) for r in retries] == [(60, 0.5), (120, 1.0)]
    for end, retry, next_start in zip(ends, retries, starts[1:], strict=False):
        waited = next_start.time - end.time
        assert retry["lab_delay_s"] - 0.02 <= waited < retry["lab_delay_s"] + 0.3
    done = completed(lab, request_id)
    assert (done["outcome"], done["attempts"]) == ("dropped", 3)
    assert "retries exhausted" in done["reason"]
    assert "no on-failure destination or dead-letter queue" in done["reason"]


def test_maximum_retry_attempts_zero_means_one_attempt(fast, lambda_client, deploy):
    name = deploy(FAIL)
    lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    _, request_id = event_invoke(lambda_client, name, {"order": 7})
    assert fast.wait_for_events(15)
    assert len(fast.trace.events("attempt.start", request_id=request_id)) == 1
    assert fast.trace.events("event.retry", request_id=request_id) == []
    assert completed(fast, request_id)["attempts"] == 1


def test_a_timeout_is_a_function_error_and_is_retried(fast, lambda_client, deploy):
    name = deploy("import time\ndef lambda_handler(event, context):\n    time.sleep(10)\n",
                  timeout=1)
    url, queue_arn = make_queue("timeouts")
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    _, request_id = event_invoke(lambda_client, name, {"order": 7})
    assert fast.wait_for_events(15)
    ends = fast.trace.events("attempt.end", request_id=request_id)
    assert [(e["outcome"], e["error_type"]) for e in ends] == [("timeout", "Sandbox.Timedout")] * 2
    assert [r["reason"] for r in fast.trace.events("event.retry", request_id=request_id)] == [
        "Sandbox.Timedout"]
    [message] = drain(url, expect=1)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"] == {
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }


def test_an_event_too_old_for_its_retry_is_not_retried(fast, lambda_client, deploy):
    name = deploy(FAIL)
    url, queue_arn = make_queue("too-old")
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    _, request_id = event_invoke(lambda_client, name, {"order": 7})
    assert fast.wait_for_events(15)
    # The retry waits 60 s (0.1 s in the lab): by then the event is older than 60 s.
    assert [r["aws_delay_s"] for r in fast.trace.events("event.retry", request_id=request_id)] \
        == [60]
    assert len(fast.trace.events("attempt.start", request_id=request_id)) == 1
    done = completed(fast, request_id)
    # "EventAgeExceeded" is the lab's choice (LocalStack uses it too): AWS's documentation
    # names only Success and RetriesExhausted.
    assert (done["outcome"], done["condition"]) == ("delivered", "EventAgeExceeded")
    [message] = drain(url, expect=1)
    check_record(
        json.loads(message["Body"]), request_id=request_id, name=name,
        condition="EventAgeExceeded", count=1, payload={"order": 7},
        function_error="Unhandled",
        response={"errorMessage": "order 7 failed", "errorType": "ValueError",
                  "requestId": request_id},
    )


def test_event_age_counts_the_function_run_as_real_time(fast, lambda_client, deploy):
    """Only the waits are scaled: a 0.6 s run is 0.6 s of age, not 0.6 x speedup."""
    name = deploy("import time\ndef lambda_handler(event, context):\n"
                  "    time.sleep(0.6)\n    raise ValueError('slow and wrong')\n")
    lambda_client.put_function_event_invoke_config(FunctionName=name,
                                                   MaximumEventAgeInSeconds=300)
    _, request_id = event_invoke(lambda_client, name, {"order": 7})
    assert fast.wait_for_events(15)
    # AWS: attempts at ~0 s, ~61 s and ~182 s, all younger than 300 s.
    assert len(fast.trace.events("attempt.start", request_id=request_id)) == 3
    assert completed(fast, request_id)["condition"] == "RetriesExhausted"


# -- destinations ----------------------------------------------------------------------


def test_on_success_record_goes_to_an_sqs_queue(fast, lambda_client, deploy):
    name = deploy(OK)
    url, queue_arn = make_queue("success")
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
    _, request_id = event_invoke(lambda_client, name, {"order": 7})
    assert fast.wait_for_events(15)
    [message] = drain(url, expect=1)
    check_record(json.loads(message["Body"]), request_id=request_id, name=name,
                 condition="Success", count=1, payload={"order": 7},
                 response={"handled": {"order": 7}, "by": name})
    done = completed(fast, request_id)
    assert (done["outcome"], done["condition"], done["targets"]) == (
        "delivered", "Success", [queue_arn])


def test_on_failure_record_goes_to_an_sqs_queue(fast, lambda_client, deploy):
    name = deploy(FAIL)
    url, queue_arn = make_queue("failure")
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    _, request_id = event_invoke(lambda_client, name, {"order": 7})
    assert fast.wait_for_events(15)
    [message] = drain(url, expect=1)
    check_record(json.loads(message["Body"]), request_id=request_id, name=name,
                 condition="RetriesExhausted", count=2, payload={"order": 7},
                 function_error="Unhandled",
                 response={"errorMessage": "order 7 failed", "errorType": "ValueError",
                           "requestId": request_id})


def test_on_failure_record_goes_to_an_sns_topic(fast, lambda_client, deploy):
    name = deploy(FAIL)
    topic, url = make_topic_to_queue("failure-topic")
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": topic}})
    _, request_id = event_invoke(lambda_client, name, {"order": 8})
    assert fast.wait_for_events(15)
    [message] = drain(url, expect=1)
    notification = json.loads(message["Body"])
    assert (notification["Type"], notification["TopicArn"]) == ("Notification", topic)
    check_record(json.loads(notification["Message"]), request_id=request_id, name=name,
                 condition="RetriesExhausted", count=1, payload={"order": 8},
                 function_error="Unhandled",
                 response={"errorMessage": "order 8 failed", "errorType": "ValueError",
                           "requestId": request_id})


def test_on_failure_record_goes_to_another_function(fast, lambda_client, deploy):
    url, _ = make_queue("received")
    receiver = deploy(
        f"""
        import json, boto3
        def lambda_handler(event, context):
            sqs = boto3.client("sqs")
            url = sqs.get_queue_url(QueueName="{url.rsplit('/', 1)[-1]}")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
        """,
        timeout=10,
    )
    name = deploy(FAIL)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": function_arn(receiver)}})
    _, request_id = event_invoke(lambda_client, name, {"order": 9})
    assert fast.wait_for_events(15)
    [message] = drain(url, expect=1)  # the receiver got the record as its event
    check_record(json.loads(message["Body"]), request_id=request_id, name=name,
                 condition="RetriesExhausted", count=1, payload={"order": 9},
                 function_error="Unhandled",
                 response={"errorMessage": "order 9 failed", "errorType": "ValueError",
                           "requestId": request_id})
    assert completed(fast, request_id)["targets"] == [function_arn(receiver)]


def test_on_failure_record_goes_to_an_eventbridge_bus(fast, lambda_client, deploy):
    events = boto3.client("events")
    url, queue_arn = make_queue("bus-target")
    bus_name = f"bus-{queue_arn.rsplit('-', 1)[-1]}"
    bus = events.create_event_bus(Name=bus_name)["EventBusArn"]
    events.put_rule(Name="lambda-results", EventBusName=bus_name,
                    EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule="lambda-results", EventBusName=bus_name,
                       Targets=[{"Id": "queue", "Arn": queue_arn}])
    name = deploy(FAIL)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": bus}})
    _, request_id = event_invoke(lambda_client, name, {"order": 10})
    assert fast.wait_for_events(15)
    [message] = drain(url, expect=1)
    event = json.loads(message["Body"])
    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Failure"
    check_record(event["detail"], request_id=request_id, name=name,
                 condition="RetriesExhausted", count=1, payload={"order": 10},
                 function_error="Unhandled",
                 response={"errorMessage": "order 10 failed", "errorType": "ValueError",
                           "requestId": request_id})


# -- dead-letter queues ----------------------------------------------------------------

LONG_ERROR = """
def lambda_handler(event, context):
    raise ValueError("order 7: " + "é" * 1500)  # 3 KB of UTF-8
"""


def check_dlq_attributes(attributes, request_id, value_key):
    assert set(attributes) == {"RequestID", "ErrorCode", "ErrorMessage"}
    request, code, message = (attributes[k] for k in ("RequestID", "ErrorCode", "ErrorMessage"))
    type_key = "DataType" if value_key == "StringValue" else "Type"
    assert (request[type_key], request[value_key]) == ("String", request_id)
    assert code[type_key] == "Number" and code[value_key].isdigit()
    assert message[type_key] == "String"
    text = message[value_key]
    assert len(text.encode()) <= 1024  # the first 1 KB of the error message
    assert len(text.encode()) >= 1020
    assert ("order 7: " + "é" * 1500).startswith(text)


def test_dead_letter_queue_sqs_gets_the_event_and_error_attributes(fast, lambda_client, deploy):
    url, queue_arn = make_queue("dlq")
    name = deploy(LONG_ERROR, DeadLetterConfig={"TargetArn": queue_arn})
    config = lambda_client.get_function_configuration(FunctionName=name)
    assert config["DeadLetterConfig"] == {"TargetArn": queue_arn}
    lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    original = '{"order":   7,  "note": "as-is"}'  # odd spacing: must arrive unchanged
    response = lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=original)
    request_id = response["ResponseMetadata"]["RequestId"]
    assert fast.wait_for_events(15)
    [message] = drain(url, expect=1)
    assert message["Body"] == original
    check_dlq_attributes(message["MessageAttributes"], request_id, "StringValue")
    done = completed(fast, request_id)
    assert (done["outcome"], done["targets"]) == ("delivered", [queue_arn])


def test_dead_letter_topic_set_by_update_function_configuration(fast, lambda_client, deploy):
    topic, url = make_topic_to_queue("dlq-topic")
    name = deploy(LONG_ERROR)
    assert "DeadLetterConfig" not in lambda_client.get_function_configuration(FunctionName=name)
    lambda_client.update_function_configuration(FunctionName=name,
                                                DeadLetterConfig={"TargetArn": topic})
    assert lambda_client.get_function_configuration(
        FunctionName=name)["DeadLetterConfig"] == {"TargetArn": topic}
    lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    _, request_id = event_invoke(lambda_client, name, {"order": 7})
    assert fast.wait_for_events(15)
    [message] = drain(url, expect=1)
    notification = json.loads(message["Body"])
    assert notification["TopicArn"] == topic
    assert notification["Message"] == json.dumps({"order": 7})
    check_dlq_attributes(notification["MessageAttributes"], request_id, "Value")


# -- throttling ------------------------------------------------------------------------


def test_throttled_events_wait_with_back_off_and_all_run(fast, lambda_client, deploy):
    name = deploy("import time\ndef lambda_handler(event, context):\n    time.sleep(0.3)\n"
                  "    return event['n']\n")
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    ids = [event_invoke(lambda_client, name, {"n": n})[1] for n in range(4)]
    assert fast.wait_for_events(20)
    throttles = fast.trace.events("throttle", function=function_arn(name))
    assert throttles and {t["reason"] for t in throttles} == {
        "ReservedFunctionConcurrentInvocationLimitExceeded"}
    assert {t["source"] for t in throttles} == {"async"}
    for request_id in ids:
        delays = [r["aws_delay_s"] for r in fast.trace.events("event.retry", request_id=request_id)]
        # back-off: 1 s, doubling, at most 5 minutes
        assert delays == [min(2 ** i, 300) for i in range(len(delays))]
        done = completed(fast, request_id)
        assert (done["outcome"], done["attempts"]) == ("succeeded", 1)
    assert any(fast.trace.events("event.retry", request_id=r) for r in ids)
    # never two at once
    spans = sorted((s.time, e.time) for s, e in zip(
        fast.trace.events("attempt.start", function=function_arn(name)),
        fast.trace.events("attempt.end", function=function_arn(name)), strict=True))
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False))


def test_reserved_concurrency_zero_sends_events_straight_to_failure_handling(lab, lambda_client,
                                                                             deploy):
    failure_url, failure_arn = make_queue("zero-failure")
    dlq_url, dlq_arn = make_queue("zero-dlq")
    name = deploy(OK, DeadLetterConfig={"TargetArn": dlq_arn})
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": failure_arn}})
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    _, request_id = event_invoke(lambda_client, name, {"order": 7})
    assert lab.wait_for_events(0.9)  # speedup 1: no back-off (the first would be 1 s)
    assert lab.trace.events("attempt.start", request_id=request_id) == []
    assert lab.trace.events("event.retry", request_id=request_id) == []
    done = completed(lab, request_id)
    assert (done["outcome"], set(done["targets"])) == ("delivered", {failure_arn, dlq_arn})
    [record] = [json.loads(m["Body"]) for m in drain(failure_url, expect=1)]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestPayload"] == {"order": 7}
    assert "responsePayload" not in record  # the function never ran
    [dead] = drain(dlq_url, expect=1)
    assert dead["Body"] == json.dumps({"order": 7})
    assert dead["MessageAttributes"]["RequestID"]["StringValue"] == request_id


# -- stopping the lab --------------------------------------------------------------------


def test_stopping_the_lab_drops_waiting_events_and_says_so(lab, lambda_client, deploy, capsys):
    assert lab.wait_for_events(15)
    name = deploy(FAIL)
    _, request_id = event_invoke(lambda_client, name, {"order": 7})
    # speedup 1: the retry is due in 60 s
    assert wait_for(lambda: lab.trace.events("event.retry", request_id=request_id))
    capsys.readouterr()
    pending = lab.stop()
    assert [event.request_id for event in pending] == [request_id]
    done = completed(lab, request_id)
    assert done["outcome"] == "dropped"
    assert "stopped" in done["reason"]
    assert "1 asynchronous event(s) still pending" in capsys.readouterr().out
