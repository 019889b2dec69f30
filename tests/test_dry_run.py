"""InvocationType=DryRun and the permission check behind every invoke (spec §1.2, §7)."""

import json
import re
import uuid

import boto3
import pytest
from async_support import function_arn
from botocore.exceptions import ClientError

import helpers

HANDLER = "def lambda_handler(event, context):\n    print('ran')\n    return 'ran'\n"


@pytest.fixture
def lambda_client(lab):
    return boto3.client("lambda")


def log_events(name):
    """Every (stream, message) in the function's log group; [] when there is no group."""
    logs = boto3.client("logs")
    try:
        streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [
        (stream["logStreamName"], event["message"])
        for stream in streams
        for event in logs.get_log_events(logGroupName=f"/aws/lambda/{name}",
                                         logStreamName=stream["logStreamName"])["events"]
    ]


def test_dry_run_is_204_and_runs_nothing(lab, lambda_client, deploy):
    name = deploy(HANDLER)
    environments_before = len(lab.trace.events("environment", function=function_arn(name)))
    response = lambda_client.invoke(FunctionName=name, InvocationType="DryRun",
                                    Payload=json.dumps({"order": 7}))
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    assert lab.environments(name) == []
    assert len(lab.trace.events("environment", function=function_arn(name))) \
        == environments_before
    assert [e.kind for e in lab.trace.events(request_id=request_id)] == ["invoke"]
    assert lab.trace.events("invoke", request_id=request_id)[0]["invocation_type"] == "DryRun"
    assert log_events(name) == []  # no log group, no stream, no line

    # After a real invoke, a dry run still adds no log line and no stream.
    lambda_client.invoke(FunctionName=name)
    logged = log_events(name)
    assert any("ran" in message for _, message in logged)
    response = lambda_client.invoke(FunctionName=name, InvocationType="DryRun")
    assert response["StatusCode"] == 204
    assert log_events(name) == logged
    assert lab.trace.events("attempt.start",
                            request_id=response["ResponseMetadata"]["RequestId"]) == []


def test_dry_run_checks_the_function_and_qualifier_exist(lambda_client, deploy):
    name = deploy(HANDLER)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    for qualifier in ("1", "live", "$LATEST"):
        response = lambda_client.invoke(FunctionName=name, InvocationType="DryRun",
                                        Qualifier=qualifier)
        assert response["StatusCode"] == 204
    for target in ({"FunctionName": f"no-such-{uuid.uuid4().hex[:6]}"},
                   {"FunctionName": name, "Qualifier": "7"},
                   {"FunctionName": name, "Qualifier": "no-such-alias"},
                   {"FunctionName": f"{name}:7"}):
        with pytest.raises(ClientError) as missing:
            lambda_client.invoke(InvocationType="DryRun", **target)
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException", target
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- with IAM enforced ---------------------------------------------------------------------


@pytest.fixture
def iam_lab():
    """A lab that checks every request against IAM; the usual lab again afterwards."""
    helpers.start_lab().stop()
    lab = helpers.start_lab(enforce_iam=True)
    yield lab
    lab.stop()


def make_user(iam, name, resource=None):
    """An IAM user (allowed lambda:InvokeFunction on ``resource``) and its lambda client."""
    iam.create_user(UserName=name)
    if resource:
        iam.put_user_policy(UserName=name, PolicyName="invoke", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                           "Resource": resource}],
        }))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client("lambda", aws_access_key_id=key["AccessKeyId"],
                        aws_secret_access_key=key["SecretAccessKey"])


def test_invoke_permission_is_checked_for_every_invocation_type(iam_lab):
    iam = boto3.client("iam")
    target, other = (f"guarded-{uuid.uuid4().hex[:6]}" for _ in range(2))
    iam_lab.deploy(target, HANDLER)
    iam_lab.deploy(other, HANDLER)
    allowed = make_user(iam, "allowed", function_arn(target))
    nothing = make_user(iam, "nothing")
    elsewhere = make_user(iam, "elsewhere", function_arn(other))

    expected = {"DryRun": 204, "RequestResponse": 200, "Event": 202}
    for invocation_type, status in expected.items():
        response = allowed.invoke(FunctionName=target, InvocationType=invocation_type)
        assert response["StatusCode"] == status, invocation_type
        assert "FunctionError" not in response
    assert iam_lab.wait_for_events(10)
    ran = len(iam_lab.trace.events("attempt.start", function=function_arn(target)))
    assert ran == 2  # RequestResponse and Event

    for user, client in (("nothing", nothing), ("elsewhere", elsewhere)):
        for invocation_type in expected:
            with pytest.raises(ClientError) as denied:
                client.invoke(FunctionName=target, InvocationType=invocation_type)
            error = denied.value.response
            assert error["Error"]["Code"] == "AccessDeniedException"
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
            assert re.fullmatch(
                rf"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform: "
                rf"lambda:InvokeFunction on resource: {re.escape(function_arn(target))}"
                r"( because .*)?",
                error["Error"]["Message"],
            ), error["Error"]["Message"]
    assert iam_lab.wait_for_events(10)
    # Denied requests ran nothing and queued nothing.
    assert len(iam_lab.trace.events("attempt.start", function=function_arn(target))) == ran
    assert len(iam_lab.trace.events("event.queued", function=function_arn(target))) == 1
    # The scoped policy does work, on its own function.
    assert elsewhere.invoke(FunctionName=other, InvocationType="DryRun")["StatusCode"] == 204
