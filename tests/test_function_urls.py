"""Function URLs: configurations made with plain boto3, requests with real HTTP on loopback,
permissions as Lambda checks them (spec event-shapes §10, lambda-semantics §8)."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import helpers
from helpers.aws import ACCOUNT_ID

ECHO = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"event": event, "request_id": context.aws_request_id})}
"""

# Returns whatever the request body asks for: {"return": <the function's return value>}.
RETURNS = """
import json
def lambda_handler(event, context):
    return json.loads(event["body"])["return"]
"""

URL_FORM = re.compile(r"^https://[a-z0-9]{32}\.lambda-url\.us-east-1\.on\.aws/$")


def allow_public(name: str, qualifier: str | None = None, *, url=True, invoke=True) -> None:
    """The two statements a NONE function URL needs (each one optional)."""
    client = boto3.client("lambda")
    options = {"Qualifier": qualifier} if qualifier else {}
    if url:
        client.add_permission(FunctionName=name, StatementId="public-url",
                              Action="lambda:InvokeFunctionUrl", Principal="*",
                              FunctionUrlAuthType="NONE", **options)
    if invoke:
        client.add_permission(FunctionName=name, StatementId="public-invoke",
                              Action="lambda:InvokeFunction", Principal="*",
                              InvokedViaFunctionUrl=True, **options)


@pytest.fixture
def public_url(lab, lambda_client, deploy):
    """(base URL, function name) of a NONE function URL in front of ``source``."""

    def make(source=ECHO, **config):
        name = deploy(source)
        lambda_client.create_function_url_config(FunctionName=name,
                                                 AuthType=config.pop("AuthType", "NONE"),
                                                 **config)
        allow_public(name)
        return lab.function_url(name), name

    return make


def signed(url: str, credentials: Credentials, method="GET", service="lambda",
           body=b"", headers=None) -> dict:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    return dict(request.headers)


def lab_credentials() -> Credentials:
    return boto3.Session().get_credentials().get_frozen_credentials()


def iam_user(policy_actions=None) -> tuple[str, Credentials]:
    """An IAM user (its ARN and credentials), allowed ``policy_actions`` on every function."""
    iam = boto3.client("iam")
    name = f"user-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy_actions:
        iam.put_user_policy(UserName=name, PolicyName="urls", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": policy_actions, "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


# -- configurations ---------------------------------------------------------------------------


def test_a_url_configuration_has_aws_form_and_lifecycle(lab, lambda_client, deploy):
    name = deploy(ECHO)
    created = lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert URL_FORM.match(created["FunctionUrl"]), created["FunctionUrl"]
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{name}"
    assert (created["AuthType"], created["InvokeMode"]) == ("NONE", "BUFFERED")
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    got = lambda_client.get_function_url_config(FunctionName=name)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["FunctionUrl"] == created["FunctionUrl"] and "LastModifiedTime" in got
    updated = lambda_client.update_function_url_config(
        FunctionName=name, AuthType="AWS_IAM", Cors={"AllowOrigins": ["https://example.com"]})
    assert (updated["AuthType"], updated["Cors"]) == ("AWS_IAM",
                                                      {"AllowOrigins": ["https://example.com"]})
    assert updated["FunctionUrl"] == created["FunctionUrl"]  # a URL never changes
    lambda_client.delete_function_url_config(FunctionName=name)
    for call in (lambda_client.get_function_url_config, lambda_client.delete_function_url_config):
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
            call(FunctionName=name)
    again = lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert again["FunctionUrl"] != created["FunctionUrl"]  # a new URL, a new address


@pytest.mark.parametrize(("options", "member"), [
    ({"AuthType": "OPEN"}, "authType"),
    ({"AuthType": "NONE", "InvokeMode": "STREAM"}, "invokeMode"),
    ({"AuthType": "NONE", "Cors": {"AllowMethods": ["GET", "PUT", "POST", "HEAD", "PATCH",
                                                    "DELETE", "OPTIONS"]}}, "allowMethods"),
    ({"AuthType": "NONE", "Cors": {"AllowMethods": ["OPTIONSX"]}}, "allowMethods"),
    ({"AuthType": "NONE", "Cors": {"MaxAge": 86401}}, "maxAge"),
    ({"AuthType": "NONE", "Cors": {"AllowOrigins": ["x" * 254]}}, "allowOrigins"),
])
def test_configurations_are_validated(lambda_client, deploy, options, member):
    name = deploy(ECHO)
    with pytest.raises(ClientError) as refused:
        lambda_client.create_function_url_config(FunctionName=name, **options)
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException" and member in error["Message"]


def test_aliases_have_urls_of_their_own_and_lose_them_with_the_alias(lab, lambda_client,
                                                                      deploy):
    name = deploy("def lambda_handler(event, context):\n    return {'version': 'one'}\n")
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lab.deploy(name, "def lambda_handler(event, context):\n    return {'version': 'two'}\n")
    for qualifier in (None, "live"):
        options = {"Qualifier": qualifier} if qualifier else {}
        lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE", **options)
        allow_public(name, qualifier)
    live = lambda_client.get_function_url_config(FunctionName=name, Qualifier="live")
    assert live["FunctionArn"].endswith(f":{name}:live")
    assert requests.get(lab.function_url(name, "live")).json() == {"version": "one"}
    assert requests.get(lab.function_url(name)).json() == {"version": "two"}
    listed = lambda_client.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert len(listed) == 2 and len({config["FunctionUrl"] for config in listed}) == 2
    page = lambda_client.list_function_url_configs(FunctionName=name, MaxItems=1)
    assert len(page["FunctionUrlConfigs"]) == 1 and page["NextMarker"]
    with pytest.raises(ClientError) as refused:
        lambda_client.create_function_url_config(FunctionName=name, Qualifier=version,
                                                 AuthType="NONE")
    assert refused.value.response["Error"]["Code"] == "ValidationException"  # not a version
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.create_function_url_config(FunctionName=name, Qualifier="nope",
                                                 AuthType="NONE")
    lambda_client.delete_alias(FunctionName=name, Name="live")
    assert len(lambda_client.list_function_url_configs(FunctionName=name)[
        "FunctionUrlConfigs"]) == 1
    lambda_client.delete_function(FunctionName=name)
    lab.deploy(name, ECHO)  # the same name again: no URL
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function_url_config(FunctionName=name)


def test_function_url_explains_what_is_missing(lab, deploy):
    name = deploy(ECHO)
    with pytest.raises(helpers.LabError, match="create_function_url_config"):
        lab.function_url(name)


def test_a_deleted_url_stops_answering(public_url, lambda_client):
    url, name = public_url()
    assert requests.get(url).status_code == 200
    lambda_client.delete_function_url_config(FunctionName=name)
    assert requests.get(url).status_code == 404


# -- permissions ------------------------------------------------------------------------------


def test_none_needs_both_permissions(lab, lambda_client, deploy):
    name = deploy(ECHO)
    lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    url = lab.function_url(name)
    forbidden = requests.get(url)
    assert forbidden.status_code == 403
    assert forbidden.json()["Message"].startswith("Forbidden.")
    allow_public(name, invoke=False)
    assert requests.get(url).status_code == 403  # InvokeFunctionUrl alone is not enough
    statement = next(s for s in json.loads(lambda_client.get_policy(FunctionName=name)[
        "Policy"])["Statement"] if s["Sid"] == "public-url")
    assert statement["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    allow_public(name, url=False)
    statement = next(s for s in json.loads(lambda_client.get_policy(FunctionName=name)[
        "Policy"])["Statement"] if s["Sid"] == "public-invoke")
    assert statement["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert requests.get(url).status_code == 200
    assert lab.trace.events("attempt.start", function=statement["Resource"])
    details = [r["detail"] for r in lab.trace.events("function_url.response", function=statement[
        "Resource"])]
    assert details[:2] == [
        "the resource-based policy does not allow everyone lambda:InvokeFunctionUrl and "
        "lambda:InvokeFunction",
        "the resource-based policy does not allow everyone lambda:InvokeFunction"]


def test_a_statement_for_aws_iam_does_not_open_a_none_url(lab, lambda_client, deploy):
    name = deploy(ECHO)
    lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    lambda_client.add_permission(FunctionName=name, StatementId="iam-url", Principal="*",
                                 Action="lambda:InvokeFunctionUrl", FunctionUrlAuthType="AWS_IAM")
    allow_public(name, url=False)
    assert requests.get(lab.function_url(name)).status_code == 403


def test_aws_iam_needs_a_signed_request_from_an_allowed_principal(lab, lambda_client, deploy):
    name = deploy(ECHO)
    lambda_client.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    url = lab.function_url(name) + "/whoami"
    assert requests.get(url).status_code == 403  # unsigned

    ours = lab_credentials()
    response = requests.get(url, headers=signed(url, ours))
    event = response.json()["event"]
    LambdaFunctionUrlModel.model_validate(event)
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == ours.access_key

    wrong_service = signed(url, ours, service="execute-api")
    assert requests.get(url, headers=wrong_service).status_code == 403
    tampered = signed(url, ours)
    tampered["Authorization"] = tampered["Authorization"][:-4] + "0000"
    assert requests.get(url, headers=tampered).status_code == 403
    elsewhere = signed(url.replace("/whoami", "/other"), ours)  # signed for another path
    assert requests.get(url, headers=elsewhere).status_code == 403

    nobody_arn, nobody = iam_user()
    assert requests.get(url, headers=signed(url, nobody)).status_code == 403
    half_arn, half = iam_user(["lambda:InvokeFunctionUrl"])
    assert requests.get(url, headers=signed(url, half)).status_code == 403
    both_arn, both = iam_user(["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"])
    allowed = requests.get(url, headers=signed(url, both))
    assert allowed.status_code == 200
    iam = allowed.json()["event"]["requestContext"]["authorizer"]["iam"]
    assert (iam["userArn"], iam["accountId"], iam["accessKey"]) == (both_arn, ACCOUNT_ID,
                                                                   both.access_key)
    user = boto3.client("iam").get_user(UserName=both_arn.rsplit("/", 1)[1])["User"]
    assert iam["userId"] == iam["callerId"] == user["UserId"]  # as IAM names the user
    for action, sid in (("lambda:InvokeFunctionUrl", "nobody-url"),
                        ("lambda:InvokeFunction", "nobody-invoke")):
        lambda_client.add_permission(FunctionName=name, StatementId=sid, Action=action,
                                     Principal=nobody_arn)
    assert requests.get(url, headers=signed(url, nobody)).status_code == 200  # the resource
    [record] = lab.trace.events("function_url.response", caller=both_arn)
    assert record["outcome"] == "integration"


# -- the event and the answer ------------------------------------------------------------------


def test_the_event_is_payload_format_2_0(public_url):
    url, name = public_url()
    response = requests.post(url + "/orders/7?tag=a&tag=b&q=x%20y", data=b"\x89PNG\x00",
                             headers={"Content-Type": "image/png", "Cookie": "a=1; b=2",
                                      "X-Team": "red", "User-Agent": "lab-test"})
    body = response.json()
    event = body["event"]
    LambdaFunctionUrlModel.model_validate(event)
    assert (event["version"], event["routeKey"]) == ("2.0", "$default")
    assert (event["rawPath"], event["rawQueryString"]) == ("/orders/7", "tag=a&tag=b&q=x%20y")
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "x y"}
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-team"] == "red"
    assert all(header == header.lower() for header in event["headers"])
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG\x00"
    context = event["requestContext"]
    url_id = boto3.client("lambda").get_function_url_config(FunctionName=name)[
        "FunctionUrl"].split("//")[1].split(".")[0]
    assert (context["apiId"], context["domainPrefix"]) == (url_id, url_id)
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.on.aws"
    assert (context["stage"], context["routeKey"], context["accountId"]) == (
        "$default", "$default", ACCOUNT_ID)
    assert context["requestId"] == body["request_id"] == response.headers["x-amzn-RequestId"]
    assert context["http"] == {"method": "POST", "path": "/orders/7", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "lab-test"}
    assert "authorizer" not in context and "pathParameters" not in event
    text = requests.post(url, json={"a": 1}).json()["event"]
    assert (text["body"], text["isBase64Encoded"]) == ('{"a": 1}', False)


@pytest.mark.parametrize(("returned", "status", "body"), [
    ("Hello, world!", 200, b'"Hello, world!"'),  # a string comes back as a JSON string
    ({"message": "hi"}, 200, b'{"message": "hi"}'),
    (42, 200, b"42"),
    ({"statusCode": 201, "headers": {"X-Custom": "yes"}, "body": "made"}, 201, b"made"),
])
def test_the_answer_is_inferred_as_the_function_url_guide_says(public_url, returned, status,
                                                               body):
    url, _ = public_url(RETURNS)
    response = requests.post(url, json={"return": returned})
    assert (response.status_code, response.content) == (status, body)
    assert response.headers["Content-Type"] == "application/json"


def test_cookies_and_binary_bodies(public_url):
    url, _ = public_url(RETURNS)
    png = bytes.fromhex("89504e470d0a1a0a")
    response = requests.post(url, json={"return": {
        "statusCode": 200, "headers": {"Content-Type": "image/png"},
        "cookies": ["theme=dark; Max-Age=60", "seen=1"],
        "isBase64Encoded": True, "body": base64.b64encode(png).decode()}})
    assert response.content == png and response.headers["Content-Type"] == "image/png"
    assert response.raw.headers.getlist("Set-Cookie") == ["theme=dark; Max-Age=60", "seen=1"]


def test_errors_502_and_throttles_429(lab, public_url, lambda_client):
    url, name = public_url(RETURNS)
    assert requests.post(url, json={"return": {"statusCode": 200, "body": {"a": 1}}}
                         ).status_code == 502
    assert requests.post(url, data="not json").status_code == 502  # KeyError in the handler
    outcomes = [r["outcome"] for r in lab.trace.events("function_url.response",
                                                       status=502)][-2:]
    assert outcomes == ["malformed", "function_error"]
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    throttled = requests.post(url, json={"return": 1})
    assert throttled.status_code == 429


def test_the_function_timeout_is_the_only_limit(public_url, lab):
    url, name = public_url("import time\ndef lambda_handler(event, context):\n"
                           "    time.sleep(float(event['queryStringParameters']['s']))\n"
                           "    return 'done'\n")
    boto3.client("lambda").update_function_configuration(FunctionName=name, Timeout=2)
    assert requests.get(url + "?s=1.2").text == '"done"'
    started = time.perf_counter()
    assert requests.get(url + "?s=5").status_code == 502
    assert 2 <= time.perf_counter() - started < 4.5


def test_payloads_over_6_mb_are_413(public_url):
    url, _ = public_url()
    too_big = requests.post(url, data=b"x" * (6 * 1024 * 1024 + 1),
                            headers={"Content-Type": "text/plain"})
    assert too_big.status_code == 413
    as_base64 = requests.post(url, data=b"x" * (5 * 1024 * 1024),
                              headers={"Content-Type": "application/octet-stream"})
    assert as_base64.status_code == 413  # base64 makes the event over 6 MB


def test_cors_preflights_are_answered_from_the_configuration(lab, public_url):
    cors = {"AllowOrigins": ["https://shop.example.com"], "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["x-cart"], "ExposeHeaders": ["x-total"], "MaxAge": 600,
            "AllowCredentials": True}
    url, name = public_url(RETURNS, Cors=cors)
    before = len(lab.trace.events("attempt.start"))
    preflight = requests.options(url, headers={"Origin": "https://shop.example.com",
                                               "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert preflight.headers["Access-Control-Allow-Headers"] == "x-cart"
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert len(lab.trace.events("attempt.start")) == before  # the function did not run
    answer = requests.post(url, headers={"Origin": "https://shop.example.com"},
                           json={"return": {"statusCode": 200, "body": "ok", "headers": {
                               "Access-Control-Allow-Origin": "*"}}})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert answer.headers["Access-Control-Expose-Headers"] == "x-total"
    other = requests.post(url, headers={"Origin": "https://evil.example"}, json={"return": 1})
    assert "Access-Control-Allow-Origin" not in other.headers
    refused = requests.options(url, headers={"Origin": "https://evil.example",
                                             "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_without_cors_options_reaches_the_function(public_url):
    url, _ = public_url(ECHO)
    event = requests.options(url, headers={"Origin": "https://a.example",
                                           "Access-Control-Request-Method": "GET"}).json()
    assert event["event"]["requestContext"]["http"]["method"] == "OPTIONS"


def test_response_stream_is_refused_with_the_reason(public_url, lab):
    url, name = public_url(ECHO, InvokeMode="RESPONSE_STREAM")
    response = requests.get(url)
    assert response.status_code == 501
    assert "RESPONSE_STREAM" in response.json()["Message"]
    assert lab.trace.events("function_url.response", outcome="streaming")


def test_every_request_is_in_the_trace(lab, public_url):
    url, name = public_url()
    response = requests.get(url + "/traced")
    request_id = response.headers["x-amzn-RequestId"]
    [request] = lab.trace.events("function_url.request", request_id=request_id)
    [answer] = lab.trace.events("function_url.response", request_id=request_id)
    [invoke] = lab.trace.events("invoke", request_id=request_id)
    assert request["event"]["requestContext"]["requestId"] == request_id
    assert (request["auth_type"], request["invoke_mode"], request["path"]) == (
        "NONE", "BUFFERED", "/traced")
    assert (answer["status"], answer["outcome"], answer["lambda_request_id"]) == (
        200, "integration", request_id)
    assert (invoke["source"], invoke["function_url_request_id"]) == ("function_url",
                                                                     request_id)


def test_stopping_the_lab_closes_the_urls(deploy):
    lab = helpers.start_lab()
    name = deploy(ECHO)
    boto3.client("lambda").create_function_url_config(FunctionName=name, AuthType="NONE")
    allow_public(name)
    url = lab.function_url(name)
    assert requests.get(url).status_code == 200
    lab.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
