"""The Invoke API's parameters that reach the handler or choose the version: ClientContext,
weighted aliases; and bad input answered with Lambda's 4xx (helpers/lambda_/api.py)."""

import base64
import json
from collections import Counter

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import invoke

NO_RETRY = Config(retries={"total_max_attempts": 1})
CONTEXT_ECHO = """
def lambda_handler(event, context):
    cc = context.client_context
    if cc is None:
        return None
    client = cc.client
    return {
        "custom": cc.custom, "env": cc.env,
        "client": None if client is None else {
            name: getattr(client, name) for name in (
                "installation_id", "app_title", "app_version_name", "app_version_code",
                "app_package_name")},
    }
"""


def encoded(document) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


# -- 2. ClientContext ----------------------------------------------------------------------


def test_client_context_reaches_the_handler_as_the_python_runtime_builds_it(lambda_client,
                                                                            deploy):
    # ClientContext: "Up to 3,583 bytes of base64-encoded data about the invoking client to
    # pass to the function in the context object":
    # https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html ; the context object's
    # client_context (custom, env, client.*): https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
    name = deploy(CONTEXT_ECHO)
    document = {"custom": {"tenant": "acme", "feature": [1, 2]},
                "env": {"platform": "Android", "locale": "fr_FR"},
                "client": {"installation_id": "i-1", "app_title": "Shop",
                           "app_version_name": "2.1", "app_version_code": "21",
                           "app_package_name": "com.example.shop"}}
    response, body, _ = invoke(lambda_client, name, ClientContext=encoded(document))
    assert "FunctionError" not in response
    assert json.loads(body) == document
    _, body, _ = invoke(lambda_client, name, ClientContext=encoded({"custom": {"a": 1}}))
    assert json.loads(body) == {"custom": {"a": 1}, "env": None, "client": None}
    assert json.loads(invoke(lambda_client, name)[1]) is None  # none passed: None


def test_client_context_is_passed_for_synchronous_invocations_only(lab, lambda_client, deploy):
    # "Lambda passes the ClientContext object to your function for synchronous invocations
    # only." https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
    name = deploy("def lambda_handler(event, context):\n"
                  "    print('client context:', context.client_context)\n")
    response = lambda_client.invoke(FunctionName=name, InvocationType="Event",
                                     ClientContext=encoded({"custom": {"a": 1}}))
    assert response["StatusCode"] == 202
    assert lab.wait_for_events(20)
    lab.service.flush_logs()
    group = f"/aws/lambda/{name}"
    messages = [event["message"] for event in boto3.client("logs").filter_log_events(
        logGroupName=group)["events"]]
    assert any("client context: None" in message for message in messages), messages


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"not json").decode(),
                                 base64.b64encode(b"[1, 2]").decode()])
def test_a_client_context_that_is_not_base64_json_is_refused(lab, deploy, bad):
    # Lambda's answer to a ClientContext it cannot read (InvalidRequestContentException,
    # 400); reported by SDK users: https://github.com/boto/boto3/issues/2153
    name = deploy(CONTEXT_ECHO)
    client = boto3.client("lambda", config=NO_RETRY)
    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName=name, ClientContext=bad)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (
        "InvalidRequestContentException",
        "Client context must be a valid Base64-encoded JSON object.")
    assert lab.trace.events("attempt.start", function=f"arn:aws:lambda:us-east-1:"
                            f"123456789012:function:{name}") == []


def test_a_client_context_over_3583_bytes_is_refused(lab, deploy):
    name = deploy(CONTEXT_ECHO)
    client = boto3.client("lambda", config=NO_RETRY)
    fits = encoded({"custom": {"x": "y" * 2600}})
    assert len(fits) <= 3583
    assert json.loads(invoke(client, name, ClientContext=fits)[1])["custom"]["x"] == "y" * 2600
    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName=name, ClientContext=encoded({"custom": {"x": "y" * 2700}}))
    assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_a_client_context_the_runtime_cannot_parse_is_a_runtime_error(lab, deploy):
    """The runtime's own error type, not the handler's: a context header that is not
    JSON is Runtime.LambdaContextUnmarshalError (awslambdaric's bootstrap)."""
    name = deploy(CONTEXT_ECHO)
    [env_spec] = [lab.cloud.functions.find(name, None, "123456789012", "us-east-1")]
    outcome = lab.service.invoke(env_spec, b"{}", env_spec.arn, client_context="{not json")
    assert outcome.function_error == "Unhandled"
    error = json.loads(outcome.payload)
    assert error["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert error["errorMessage"].startswith("Unable to parse Client Context JSON: ")


# -- 3. weighted aliases --------------------------------------------------------------------


def test_a_weighted_alias_splits_invocations_between_two_versions(lab, lambda_client, deploy):
    # RoutingConfig.AdditionalVersionWeights: "the percentage of traffic to send to an
    # additional version"; ExecutedVersion says which ran:
    # https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html
    name = deploy("def lambda_handler(e, c):\n    return 'blue'\n", publish=True)
    lab.deploy(name, "def lambda_handler(e, c):\n    return 'green'\n", publish=True)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                               RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    runs = Counter()
    for _ in range(200):
        response, body, _ = invoke(lambda_client, name, Qualifier="live")
        version = response["ExecutedVersion"]
        assert json.loads(body) == {"1": "blue", "2": "green"}[version]
        runs[version] += 1
    # 200 draws with p = 0.3: 60 expected, 3 standard deviations is about 19.4
    assert 40 <= runs["2"] <= 80 and runs["1"] + runs["2"] == 200, runs
    invokes = lab.trace.events("invoke", function=f"arn:aws:lambda:us-east-1:123456789012:"
                                                  f"function:{name}", alias="live")
    assert Counter(event["version"] for event in invokes) == runs  # the split, traced


def test_an_alias_without_weights_always_runs_its_version(lab, lambda_client, deploy):
    name = deploy("def lambda_handler(e, c):\n    return 1\n", publish=True)
    lab.deploy(name, "def lambda_handler(e, c):\n    return 2\n", publish=True)
    lambda_client.create_alias(FunctionName=name, Name="stable", FunctionVersion="1")
    versions = {invoke(lambda_client, f"{name}:stable")[0]["ExecutedVersion"]
                for _ in range(20)}
    assert versions == {"1"}
    lambda_client.update_alias(FunctionName=name, Name="stable",
                               RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})
    assert {invoke(lambda_client, f"{name}:stable")[0]["ExecutedVersion"]
            for _ in range(5)} == {"2"}


# -- bad input gets Lambda's 4xx (issue 22, item 6) ---------------------------------------


@pytest.mark.parametrize("payload", [b"\xff\xfe not utf-8", b"[" * 5000 + b"]" * 5000,
                                     b'{"a": ' * 5000 + b"1" + b"}" * 5000])
def test_payloads_lambda_cannot_parse_are_invalid_request_content(lab, deploy, payload,
                                                                  capfd):
    # InvalidRequestContentException (400): "The request body could not be parsed as JSON"
    # https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors
    name = deploy(CONTEXT_ECHO)
    client = boto3.client("lambda", config=NO_RETRY)
    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName=name, Payload=payload)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def test_a_client_that_gives_up_or_sends_garbage_prints_nothing(lab, deploy, capfd):
    import socket

    name = deploy("import time\ndef lambda_handler(e, c):\n    time.sleep(0.5)\n")
    host, port = lab.cloud.front.server.host, lab.cloud.front.server.port
    for junk in (b"GARBAGE\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: 99\r\n\r\nshort",
                 b"\x00\xff" * 100):
        with socket.create_connection((host, port)) as connection:
            connection.sendall(junk)
    session = boto3.session.Session()
    impatient = session.client("lambda", config=Config(read_timeout=0.1,
                                                       retries={"total_max_attempts": 1}))
    from botocore.exceptions import ReadTimeoutError

    with pytest.raises(ReadTimeoutError):
        impatient.invoke(FunctionName=name)
    requests.get(lab.endpoint_url, timeout=5)
    import time

    time.sleep(0.8)  # the abandoned invoke finishes
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Exception" not in out + err
