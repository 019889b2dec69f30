"""API Gateway invokes Lambda synchronously: REST and HTTP APIs built with plain boto3 and
called with real HTTP on loopback (spec event-shapes §5, lambda-semantics §4)."""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlencode

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import helpers
from helpers.aws import ACCOUNT_ID

REGION = "us-east-1"

ECHO = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"event": event, "lambda_request_id": context.aws_request_id})}
"""

# Returns whatever the request body asks for: {"return": <the function's return value>}.
RETURNS = """
import json
def lambda_handler(event, context):
    return json.loads(event["body"])["return"]
"""


@pytest.fixture
def apigw(lab):
    return boto3.client("apigateway")


@pytest.fixture
def apigwv2(lab):
    return boto3.client("apigatewayv2")


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def lambda_uri(function: str) -> str:
    arn = function if function.startswith("arn:") else function_arn(function)
    return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"


def allow_api_gateway(function: str, api_id: str, source: str = "*") -> None:
    boto3.client("lambda").add_permission(
        FunctionName=function, StatementId=f"apigw-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{source}")


def add_route(client, api_id: str, path: str, verb: str, function: str, **integration):
    """Create the resources along ``path`` (if missing) and a Lambda proxy method on it."""
    resources = {r["path"]: r["id"] for r in client.get_resources(restApiId=api_id)["items"]}
    parent = "/"
    for part in [p for p in path.split("/") if p]:
        child = parent.rstrip("/") + "/" + part
        if child not in resources:
            resources[child] = client.create_resource(
                restApiId=api_id, parentId=resources[parent], pathPart=part)["id"]
        parent = child
    client.put_method(restApiId=api_id, resourceId=resources[path], httpMethod=verb,
                      authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=resources[path], httpMethod=verb,
                           type="AWS_PROXY", integrationHttpMethod="POST",
                           uri=lambda_uri(function), **integration)
    return resources[path]


def rest_api(client, function: str, routes=(("/items/{id}", "GET"),), *, stage="prod",
             permission=True, deploy=True, binary_media_types=None, variables=None,
             **integration) -> str:
    options = {"binaryMediaTypes": binary_media_types} if binary_media_types else {}
    api_id = client.create_rest_api(name=f"api-{uuid.uuid4().hex[:8]}", **options)["id"]
    for path, verb in routes:
        add_route(client, api_id, path, verb, function, **integration)
    if permission:
        allow_api_gateway(function, api_id)
    if deploy:
        client.create_deployment(restApiId=api_id, stageName=stage,
                                 **({"variables": variables} if variables else {}))
    return api_id


def http_api(client, function: str, route_keys=("GET /items/{id}",), *, version="2.0",
             permission=True, stage="$default", **integration) -> str:
    api_id = client.create_api(Name=f"http-{uuid.uuid4().hex[:8]}", ProtocolType="HTTP")["ApiId"]
    integration_id = client.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn(function),
        PayloadFormatVersion=version, **integration)["IntegrationId"]
    for key in route_keys:
        client.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration_id}")
    client.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    if permission:
        allow_api_gateway(function, api_id)
    return api_id


def wait_for(condition, timeout: float = 10.0):
    """The condition's first truthy value, polled until ``timeout``; else the last value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def echoed(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["event"]


def attempts(lab, function: str) -> list:
    return lab.trace.events("attempt.start", function=function_arn(function))


# -- REST APIs: deployments, stages, routing ---------------------------------------------


def test_a_rest_api_answers_after_create_deployment(lab, apigw, deploy):
    name = deploy(ECHO)
    api_id = rest_api(apigw, name, deploy=False)
    with pytest.raises(helpers.LabError, match="create_deployment"):
        lab.api_url(api_id, "prod")
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    url = lab.api_url(api_id, "prod")
    assert url.startswith("http://127.0.0.1:") and url.endswith(f"/restapis/{api_id}/prod")

    response = requests.get(url + "/items/7?tag=a&tag=b&page=2",
                            headers={"X-Team": "red", "User-Agent": "lab-test"})
    event = echoed(response)
    APIGatewayProxyEventModel.model_validate(event)
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/7"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "7"}
    assert event["queryStringParameters"] == {"tag": "b", "page": "2"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "page": ["2"]}
    assert event["headers"]["X-Team"] == "red"
    assert event["multiValueHeaders"]["X-Team"] == ["red"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["requestId"] == response.headers["x-amzn-RequestId"]
    assert context["extendedRequestId"] == response.headers["x-amz-apigw-id"]
    assert (context["stage"], context["path"], context["apiId"]) == ("prod", "/prod/items/7",
                                                                       api_id)
    assert context["resourcePath"] == "/items/{id}" and context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "lab-test"
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 60
    assert time.strptime(context["requestTime"], "%d/%b/%Y:%H:%M:%S +0000")


def test_repeated_headers_arrive_as_multi_value_headers(lab, apigw, deploy):
    name = deploy(ECHO)
    url = lab.api_url(rest_api(apigw, name), "prod")
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = url.split(port, 1)[1] + "/items/1"
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-Team: red\r\n"
               "X-Team: blue\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(request)
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    event = json.loads(body)["event"]
    assert event["headers"]["X-Team"] == "blue"  # the last value
    assert event["multiValueHeaders"]["X-Team"] == ["red", "blue"]
    APIGatewayProxyEventModel.model_validate(event)


def test_a_deployment_is_a_snapshot_until_the_next_one(lab, apigw, deploy):
    name = deploy(ECHO)
    api_id = rest_api(apigw, name)
    url = lab.api_url(api_id, "prod")
    add_route(apigw, api_id, "/orders", "POST", name)
    assert requests.post(url + "/orders").status_code == 403  # not deployed yet
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert echoed(requests.post(url + "/orders", data="{}"))["resource"] == "/orders"
    assert requests.get(url + "/items/3").status_code == 200


def test_routes_match_as_api_gateway_matches_them(lab, apigw, deploy):
    name = deploy(ECHO)
    api_id = rest_api(apigw, name, routes=[
        ("/items", "GET"), ("/items/{id}", "GET"), ("/items/special", "GET"),
        ("/{proxy+}", "ANY"),
    ])
    url = lab.api_url(api_id, "prod")
    resource = {path: echoed(requests.get(url + path))["resource"]
                for path in ("/items", "/items/42", "/items/special", "/a/b/c", "/items/7/x")}
    assert resource == {"/items": "/items", "/items/42": "/items/{id}",
                        "/items/special": "/items/special", "/a/b/c": "/{proxy+}",
                        "/items/7/x": "/{proxy+}"}
    greedy = echoed(requests.delete(url + "/a/b/c"))
    assert greedy["httpMethod"] == "DELETE" and greedy["pathParameters"] == {"proxy": "a/b/c"}

    missing = requests.get(url + "/")  # {proxy+} needs at least one segment: / has no method
    assert missing.status_code == 403
    assert missing.json() == {"message": "Missing Authentication Token"}
    assert missing.headers["x-amzn-RequestId"]
    assert requests.post(url + "/items").status_code == 403  # /items has GET only
    assert requests.get(lab.api_gateway.url + f"/restapis/{api_id}/beta/items").status_code == 403


def test_stage_variables_reach_the_event_and_choose_the_function(lab, apigw, deploy):
    blue, green = deploy(ECHO), deploy(ECHO)
    api_id = apigw.create_rest_api(name="stages")["id"]
    add_route(apigw, api_id, "/who", "GET", function_arn("${stageVariables.fn}"))
    for fn in (blue, green):
        allow_api_gateway(fn, api_id)
    apigw.create_deployment(restApiId=api_id, stageName="blue", variables={"fn": blue})
    apigw.create_deployment(restApiId=api_id, stageName="green", variables={"fn": green})
    for stage, fn in (("blue", blue), ("green", green)):
        before = len(attempts(lab, fn))
        event = echoed(requests.get(lab.api_url(api_id, stage) + "/who"))
        assert event["stageVariables"] == {"fn": fn}
        assert len(attempts(lab, fn)) == before + 1
    # A redeploy keeps the stage's variables.
    apigw.create_deployment(restApiId=api_id, stageName="blue")
    assert echoed(requests.get(lab.api_url(api_id, "blue") + "/who"))["stageVariables"] == {
        "fn": blue}


# -- the response contract --------------------------------------------------------------


def test_the_function_response_becomes_the_http_response(lab, apigw, deploy):
    name = deploy(RETURNS)
    url = lab.api_url(rest_api(apigw, name, routes=[("/r", "POST")]), "prod")
    answer = {"statusCode": 201, "headers": {"X-Kind": "single", "X-Both": "from headers"},
              "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Both": ["multi"]},
              "body": "created", "isBase64Encoded": False}
    response = requests.post(url + "/r", json={"return": answer})
    assert response.status_code == 201 and response.text == "created"
    assert response.headers["X-Kind"] == "single"
    assert response.headers["X-Both"] == "multi"  # multiValueHeaders wins
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["Content-Type"] == "application/json"  # the gateway's default

    plain = requests.post(url + "/r", json={"return": {"statusCode": 404}})
    assert (plain.status_code, plain.text) == (404, "")


@pytest.mark.parametrize("returned", [
    {"statusCode": 200, "body": {"not": "a string"}},
    {"body": "no status code"},
    {"statusCode": "200", "body": "a string status"},
    "just a string",
    None,
    {"statusCode": 200, "headers": {"X-List": ["a", "b"]}},
])
def test_a_malformed_response_is_a_502(lab, apigw, deploy, returned):
    name = deploy(RETURNS)
    url = lab.api_url(rest_api(apigw, name, routes=[("/r", "POST")]), "prod")
    response = requests.post(url + "/r", json={"return": returned},
                             headers={"Accept": "image/png"})
    assert response.status_code == 502
    assert response.text == '{"message": "Internal server error"}'
    [record] = lab.trace.events("apigateway.response",
                                request_id=response.headers["x-amzn-RequestId"])
    assert record["outcome"] == "malformed"
    assert "Malformed Lambda proxy response" in record["detail"]


def test_a_function_error_is_a_502(lab, apigw, deploy):
    name = deploy("def lambda_handler(event, context):\n    raise KeyError('item')\n")
    url = lab.api_url(rest_api(apigw, name), "prod")
    response = requests.get(url + "/items/1")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    [record] = lab.trace.events("apigateway.response",
                                request_id=response.headers["x-amzn-RequestId"])
    assert (record["outcome"], record["detail"]) == ("function_error", "function error: KeyError")
    [end] = lab.trace.events("attempt.end", request_id=record["lambda_request_id"])
    assert (end["outcome"], end["source"]) == ("error", "apigateway")


BINARY = """
import base64
def lambda_handler(event, context):
    if event["body"] is None:
        return {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True}
    data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(data[::-1]).decode(), "isBase64Encoded": True,
            "multiValueHeaders": {"X-Was-Base64": [str(event["isBase64Encoded"])]}}
"""


def test_binary_bodies_need_binary_media_types(lab, apigw, deploy):
    name = deploy(BINARY)
    png = bytes(range(256))
    plain = lab.api_url(rest_api(apigw, name, routes=[("/img", "POST")]), "prod")
    binary = lab.api_url(rest_api(apigw, name, routes=[("/img", "POST")],
                                  binary_media_types=["image/png"]), "prod")

    response = requests.post(binary + "/img", data=png,
                             headers={"Content-Type": "image/png", "Accept": "image/png"})
    assert response.headers["X-Was-Base64"] == "True"
    assert response.content == png[::-1]

    # The client's first Accept type decides whether the gateway decodes the body.
    text = requests.post(binary + "/img", data=png,
                         headers={"Content-Type": "image/png", "Accept": "application/json"})
    assert base64.b64decode(text.content) == png[::-1]

    # A body marked base64 that is not: a configuration error, 500.
    broken = requests.post(binary + "/img", data=b"", headers={"Accept": "image/png"})
    assert (broken.status_code, broken.json()) == (500, {"message": "Internal server error"})

    # Without binaryMediaTypes the body is passed as text and returned as base64 text.
    ascii_body = b"PNG"
    response = requests.post(plain + "/img", data=ascii_body,
                             headers={"Content-Type": "image/png", "Accept": "image/png"})
    assert response.headers["X-Was-Base64"] == "False"
    assert response.content == base64.b64encode(ascii_body[::-1])


def test_binary_media_types_can_be_patched_in(lab, apigw, deploy):
    name = deploy(BINARY)
    api_id = rest_api(apigw, name, routes=[("/img", "POST")])
    apigw.update_rest_api(restApiId=api_id, patchOperations=[
        {"op": "add", "path": "/binaryMediaTypes/image~1png"}])
    assert apigw.get_rest_api(restApiId=api_id)["binaryMediaTypes"] == ["image/png"]
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    response = requests.post(lab.api_url(api_id, "prod") + "/img", data=b"\x00\xff",
                             headers={"Content-Type": "image/png", "Accept": "image/png"})
    assert (response.headers["X-Was-Base64"], response.content) == ("True", b"\xff\x00")


# -- timeouts ---------------------------------------------------------------------------

SLOW = """
import time
def lambda_handler(event, context):
    print("started")
    time.sleep(0.8)
    print("finished after the client gave up")
    return {"statusCode": 200, "body": "late"}
"""


def test_the_integration_timeout_is_a_504_and_the_function_keeps_running(lab, apigw, deploy):
    name = deploy(SLOW, timeout=5)
    url = lab.api_url(rest_api(apigw, name, timeoutInMillis=300), "prod")
    requests.get(url + "/items/warm")  # a cold start is not what this test measures
    assert wait_for(lambda: lab.trace.events("apigateway.abandoned"))
    lab.trace.clear()
    started = time.perf_counter()
    response = requests.get(url + "/items/1")
    waited = time.perf_counter() - started
    assert response.status_code == 504
    assert response.text == '{"message": "Endpoint request timed out"}'
    assert 0.3 <= waited < 0.75  # the gateway gave up at 300 ms, before the function ended
    [record] = lab.trace.events("apigateway.response",
                                request_id=response.headers["x-amzn-RequestId"])
    assert record["outcome"] == "timeout"
    assert lab.trace.events("attempt.end", request_id=record["lambda_request_id"]) == []

    [abandoned] = wait_for(lambda: lab.trace.events("apigateway.abandoned"))
    assert abandoned["lambda_request_id"] == record["lambda_request_id"]
    assert abandoned["outcome"] == "response"
    [end] = lab.trace.events("attempt.end", request_id=record["lambda_request_id"])
    assert end["outcome"] == "response"
    logs = boto3.client("logs").filter_log_events(
        logGroupName=f"/aws/lambda/{name}",
        filterPattern=f'"{record["lambda_request_id"]}"')["events"]
    text = "\n".join(e["message"] for e in boto3.client("logs").filter_log_events(
        logGroupName=f"/aws/lambda/{name}")["events"])
    assert logs and "finished after the client gave up" in text


def test_a_function_timeout_shorter_than_the_integration_is_a_502(lab, apigw, deploy):
    name = deploy("import time\ndef lambda_handler(e, c):\n    time.sleep(3)\n", timeout=1)
    url = lab.api_url(rest_api(apigw, name), "prod")
    response = requests.get(url + "/items/1")
    assert response.status_code == 502
    [record] = lab.trace.events("apigateway.response",
                                request_id=response.headers["x-amzn-RequestId"])
    assert record["detail"] == "function error: Sandbox.Timedout"


@pytest.mark.parametrize(("timeout", "accepted"), [(49, False), (50, True), (29000, True),
                                                   (29001, False)])
def test_put_integration_checks_the_timeout_range(apigw, deploy, timeout, accepted):
    name = deploy(ECHO)
    api_id = rest_api(apigw, name, deploy=False, permission=False)
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"]
                if r["path"] == "/")
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET",
                     authorizationType="NONE")
    call = dict(restApiId=api_id, resourceId=root, httpMethod="GET", type="AWS_PROXY",
                integrationHttpMethod="POST", uri=lambda_uri(name), timeoutInMillis=timeout)
    if accepted:
        assert apigw.put_integration(**call)["timeoutInMillis"] == timeout
    else:
        with pytest.raises(ClientError) as error:
            apigw.put_integration(**call)
        assert error.value.response["Error"]["Code"] == "BadRequestException"
        assert error.value.response["Error"]["Message"] == (
            "Timeout should be between 50 ms and 29000 ms")


# -- Lambda refuses the invoke: 500 -----------------------------------------------------


def test_without_permission_the_gateway_answers_500_and_nothing_runs(lab, apigw, deploy):
    name = deploy(ECHO)
    api_id = rest_api(apigw, name, permission=False)
    url = lab.api_url(api_id, "prod")
    other_api = apigw.create_rest_api(name="other")["id"]
    allow_api_gateway(name, other_api)  # a permission for another API does not count
    response = requests.get(url + "/items/1")
    assert response.status_code == 500
    assert response.text == '{"message": "Internal server error"}'
    [record] = lab.trace.events("apigateway.response",
                                request_id=response.headers["x-amzn-RequestId"])
    assert record["detail"].startswith("Invalid permissions on Lambda function")
    assert f"{api_id}/prod/GET/items/{{id}}" in record["detail"]
    assert attempts(lab, name) == []

    allow_api_gateway(name, api_id, source="prod/GET/items/*")
    assert requests.get(url + "/items/1").status_code == 200
    assert requests.get(url + "/items/1").status_code == 200
    assert len(attempts(lab, name)) == 2


def test_a_throttled_function_is_a_500(lab, apigw, deploy):
    name = deploy(ECHO)
    boto3.client("lambda").put_function_concurrency(FunctionName=name,
                                                    ReservedConcurrentExecutions=0)
    response = requests.get(lab.api_url(rest_api(apigw, name), "prod") + "/items/1")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    [throttle] = lab.trace.events("throttle", function=function_arn(name))
    assert throttle["source"] == "apigateway"


def test_payload_limits_10_mb_at_the_gateway_and_6_mb_at_lambda(lab, apigw, deploy):
    name = deploy(ECHO)
    url = lab.api_url(rest_api(apigw, name, routes=[("/up", "POST")]), "prod")
    over_lambda = requests.post(url + "/up", data=b"x" * 7_000_000)
    assert over_lambda.status_code == 500  # API Gateway took it; Lambda refused it
    [record] = lab.trace.events("apigateway.response",
                                request_id=over_lambda.headers["x-amzn-RequestId"])
    assert "RequestTooLargeException" in record["detail"]
    over_gateway = requests.post(url + "/up", data=b"x" * (10 * 1024 * 1024 + 1))
    assert over_gateway.status_code == 413
    assert over_gateway.json() == {"message": "Request Too Long"}
    assert attempts(lab, name) == []


# -- HTTP APIs ------------------------------------------------------------------------------


def test_an_http_api_sends_payload_2_0(lab, apigwv2, deploy):
    name = deploy(ECHO)
    api_id = http_api(apigwv2, name)
    url = lab.api_url(api_id, "$default")
    assert url.endswith(f"/httpapis/{api_id}")
    response = requests.get(url + "/items/9?tag=a&tag=b", headers={
        "Cookie": "session=abc; theme=dark", "X-Team": "red", "User-Agent": "lab-test"})
    event = echoed(response)
    APIGatewayProxyEventV2Model.model_validate(event)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert (event["rawPath"], event["rawQueryString"]) == ("/items/9", "tag=a&tag=b")
    assert event["queryStringParameters"] == {"tag": "a,b"}
    assert event["pathParameters"] == {"id": "9"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-team"] == "red"  # names lowercased
    assert all(name == name.lower() for name in event["headers"])
    context = event["requestContext"]
    assert context["requestId"] == response.headers["apigw-requestid"]
    assert "x-amzn-RequestId" not in response.headers
    assert (context["stage"], context["routeKey"]) == ("$default", "GET /items/{id}")
    assert context["http"] == {"method": "GET", "path": "/items/9", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "lab-test"}
    assert "body" not in event and event["isBase64Encoded"] is False


def test_http_api_routes_default_and_not_found(lab, apigwv2, deploy):
    name = deploy(ECHO)
    url = lab.api_url(http_api(apigwv2, name, route_keys=("GET /items/{id}",
                                                          "ANY /items/{proxy+}")), "$default")
    assert echoed(requests.get(url + "/items/1"))["routeKey"] == "GET /items/{id}"
    assert echoed(requests.post(url + "/items/1"))["routeKey"] == "ANY /items/{proxy+}"
    missing = requests.get(url + "/orders")
    assert missing.status_code == 404 and missing.text == '{"message":"Not Found"}'

    fallback = lab.api_url(http_api(apigwv2, name, route_keys=("$default",)), "$default")
    event = echoed(requests.put(fallback + "/any/path"))
    assert (event["routeKey"], event["rawPath"]) == ("$default", "/any/path")
    assert "pathParameters" not in event


def test_http_api_infers_a_response_from_a_plain_return_value(lab, apigwv2, deploy):
    name = deploy(RETURNS)
    url = lab.api_url(http_api(apigwv2, name, route_keys=("POST /r",)), "$default") + "/r"

    def returned(value):
        return requests.post(url, json={"return": value})

    text = returned("Hello")
    assert (text.status_code, text.text, text.headers["Content-Type"]) == (
        200, "Hello", "application/json")
    assert returned({"count": 2}).json() == {"count": 2}
    assert returned([1, 2]).json() == [1, 2]
    full = returned({"statusCode": 202, "cookies": ["a=1", "b=2"], "body": "queued",
                     "headers": {"X-Kind": "full"}})
    assert (full.status_code, full.text, full.headers["X-Kind"]) == (202, "queued", "full")
    assert full.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    binary = returned({"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(),
                       "isBase64Encoded": True})
    assert binary.content == b"\x00\x01"  # HTTP APIs always decode


def test_http_api_errors_are_500_and_timeouts_503(lab, apigwv2, deploy):
    failing = deploy("def lambda_handler(event, context):\n    raise ValueError('no')\n")
    url = lab.api_url(http_api(apigwv2, failing), "$default")
    response = requests.get(url + "/items/1")
    assert (response.status_code, response.text) == (500, '{"message":"Internal Server Error"}')

    malformed = deploy(RETURNS)
    url = lab.api_url(http_api(apigwv2, malformed, route_keys=("POST /r",)), "$default")
    bad = requests.post(url + "/r", json={"return": {"statusCode": "ok"}})
    assert (bad.status_code, bad.json()) == (500, {"message": "Internal Server Error"})

    slow = deploy(SLOW, timeout=5)
    url = lab.api_url(http_api(apigwv2, slow, TimeoutInMillis=200), "$default")
    requests.get(url + "/items/warm")
    assert wait_for(lambda: lab.trace.events("apigateway.abandoned",
                                             function=function_arn(slow)))
    timed_out = requests.get(url + "/items/1")
    assert (timed_out.status_code, timed_out.text) == (503, '{"message":"Service Unavailable"}')


def test_http_api_payload_1_0_and_named_stages(lab, apigwv2, deploy):
    name = deploy(ECHO)
    api_id = http_api(apigwv2, name, version="1.0", stage="dev")
    url = lab.api_url(api_id, "dev")
    assert url.endswith(f"/httpapis/{api_id}/dev")
    event = echoed(requests.get(url + "/items/5?x=1"))
    APIGatewayProxyEventModel.model_validate(event)
    assert event["version"] == "1.0"
    assert event["pathParameters"] == {"id": "5"}
    assert event["path"] == "/dev/items/5"  # a named stage's name stays in the path
    assert event["requestContext"]["stage"] == "dev"
    with pytest.raises(helpers.LabError, match="no stage"):
        lab.api_url(api_id, "$default")


def test_http_api_binary_bodies_are_base64_unless_text(lab, apigwv2, deploy):
    name = deploy(ECHO)
    url = lab.api_url(http_api(apigwv2, name, route_keys=("POST /in",)), "$default") + "/in"
    as_json = echoed(requests.post(url, json={"a": 1}))
    assert (as_json["body"], as_json["isBase64Encoded"]) == ('{"a": 1}', False)
    form = echoed(requests.post(url, data={"a": "1"}))  # application/x-www-form-urlencoded
    assert form["isBase64Encoded"] is True and base64.b64decode(form["body"]) == b"a=1"
    APIGatewayProxyEventV2Model.model_validate(form)


@pytest.mark.parametrize(("options", "message"), [
    ({"TimeoutInMillis": 30001}, "between 50 and 30000"),
    ({}, "PayloadFormatVersion is required"),
])
def test_http_api_integrations_are_validated(apigwv2, options, message):
    api_id = apigwv2.create_api(Name="checks", ProtocolType="HTTP")["ApiId"]
    if "TimeoutInMillis" in options:
        options = {**options, "PayloadFormatVersion": "2.0"}
    with pytest.raises(ClientError) as error:
        apigwv2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                   IntegrationUri=function_arn("any"), **options)
    assert error.value.response["Error"]["Code"] == "BadRequestException"
    assert message in error.value.response["Error"]["Message"]


# -- the front door itself ----------------------------------------------------------------

SEGMENT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"),
                  min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))
QUERY = st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), max_size=4)


@pytest.fixture(scope="module")
def echo_apis():
    """(REST URL, HTTP API URL) of one echo function behind /{proxy+}, for many requests."""
    lab = helpers.start_lab()
    name = f"echo-{uuid.uuid4().hex[:8]}"
    lab.deploy(name, ECHO)
    rest_id = rest_api(boto3.client("apigateway"), name, routes=[("/{proxy+}", "ANY")])
    http_id = http_api(boto3.client("apigatewayv2"), name, route_keys=("ANY /{proxy+}",))
    return lab.api_url(rest_id, "prod"), lab.api_url(http_id, "$default")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(SEGMENT, min_size=1, max_size=4), query=QUERY,
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
def test_any_path_and_query_makes_valid_events(echo_apis, segments, query, method):
    rest_url, http_url = echo_apis
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    raw_query = urlencode(query)
    target = path + (f"?{raw_query}" if raw_query else "")
    rest = echoed(requests.request(method, rest_url + target))
    APIGatewayProxyEventModel.model_validate(rest)
    assert rest["pathParameters"] == {"proxy": "/".join(segments)}
    assert (rest["multiValueQueryStringParameters"] or {}) == {
        key: [v for k, v in query if k == key] for key, _ in query}
    v2 = echoed(requests.request(method, http_url + target))
    APIGatewayProxyEventV2Model.model_validate(v2)
    assert (v2["rawPath"], v2["rawQueryString"]) == (path, raw_query)
    assert v2["pathParameters"] == {"proxy": "/".join(segments)}
    assert v2.get("queryStringParameters", {}) == {
        key: ",".join(v for k, v in query if k == key) for key, _ in query}


def test_concurrent_requests_use_more_environments(lab, apigw, deploy):
    name = deploy("import time\ndef lambda_handler(e, c):\n    time.sleep(0.3)\n"
                  "    return {'statusCode': 200, 'body': c.log_stream_name}\n")
    url = lab.api_url(rest_api(apigw, name), "prod") + "/items/1"
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: requests.get(url), range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.text for r in responses}) == 4


def test_every_request_is_in_the_trace(lab, apigw, deploy):
    name = deploy(ECHO)
    url = lab.api_url(rest_api(apigw, name), "prod")
    response = requests.get(url + "/items/1")
    request_id = response.headers["x-amzn-RequestId"]
    [request] = lab.trace.events("apigateway.request", request_id=request_id)
    [answer] = lab.trace.events("apigateway.response", request_id=request_id)
    lambda_id = answer["lambda_request_id"]
    assert request["event"] == response.json()["event"]
    assert (request["method"], request["path"], request["route"]) == (
        "GET", "/items/1", "GET /items/{id}")
    assert (answer["status"], answer["outcome"]) == (200, "integration")
    assert response.json()["lambda_request_id"] == lambda_id
    [invoke] = lab.trace.events("invoke", request_id=lambda_id)
    assert (invoke["source"], invoke["api_request_id"]) == ("apigateway", request_id)
    assert request.seq < invoke.seq < answer.seq


def test_api_url_explains_what_is_missing(lab):
    with pytest.raises(helpers.LabError, match="no REST or HTTP API"):
        lab.api_url("nope123456", "prod")


def test_stopping_the_lab_closes_the_front_door(apigw, deploy):
    lab = helpers.start_lab()
    name = deploy(ECHO)
    url = lab.api_url(rest_api(apigw, name), "prod")
    session = requests.Session()
    assert session.get(url + "/items/1").status_code == 200  # a kept-alive connection
    lab.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/items/1", timeout=5)
    with pytest.raises(requests.ConnectionError):
        session.get(url + "/items/1", timeout=5)


# -- HTTP API deployments and AutoDeploy ---------------------------------------------------


def test_an_http_api_stage_without_auto_deploy_serves_its_deployment(lab, apigwv2, deploy):
    """A stage serves its deployment; changes reach clients only once deployed again,
    unless AutoDeploy is on (it is off by default).
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html"""
    name = deploy(ECHO)
    api_id = apigwv2.create_api(Name=f"deploys-{uuid.uuid4().hex[:6]}",
                                ProtocolType="HTTP")["ApiId"]
    integration = apigwv2.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn(name),
        PayloadFormatVersion="2.0")["IntegrationId"]
    apigwv2.create_route(ApiId=api_id, RouteKey="GET /one", Target=f"integrations/{integration}")
    allow_api_gateway(name, api_id)
    stage = apigwv2.create_stage(ApiId=api_id, StageName="prod")
    assert "AutoDeploy" not in stage or stage["AutoDeploy"] is False
    url = lab.api_url(api_id, "prod")
    assert requests.get(url + "/one", timeout=10).status_code == 404  # nothing deployed yet

    first = apigwv2.create_deployment(ApiId=api_id, StageName="prod")
    assert first["DeploymentStatus"] == "DEPLOYED" and first["AutoDeployed"] is False
    assert apigwv2.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == \
        first["DeploymentId"]
    assert requests.get(url + "/one", timeout=10).status_code == 200

    apigwv2.create_route(ApiId=api_id, RouteKey="GET /two", Target=f"integrations/{integration}")
    assert requests.get(url + "/two", timeout=10).status_code == 404  # not deployed
    second = apigwv2.create_deployment(ApiId=api_id, Description="adds /two")
    assert requests.get(url + "/two", timeout=10).status_code == 404  # the stage did not move
    apigwv2.update_stage(ApiId=api_id, StageName="prod", DeploymentId=second["DeploymentId"])
    assert requests.get(url + "/two", timeout=10).status_code == 200
    listed = {d["DeploymentId"]: d for d in apigwv2.get_deployments(ApiId=api_id)["Items"]}
    assert set(listed) == {first["DeploymentId"], second["DeploymentId"]}
    assert listed[second["DeploymentId"]]["Description"] == "adds /two"
    with pytest.raises(ClientError) as in_use:
        apigwv2.delete_deployment(ApiId=api_id, DeploymentId=second["DeploymentId"])
    assert in_use.value.response["Error"]["Code"] == "BadRequestException"
    apigwv2.delete_deployment(ApiId=api_id, DeploymentId=first["DeploymentId"])
    with pytest.raises(ClientError) as gone:
        apigwv2.get_deployment(ApiId=api_id, DeploymentId=first["DeploymentId"])
    assert gone.value.response["Error"]["Code"] == "NotFoundException"


def test_auto_deploy_releases_every_change_by_itself(lab, apigwv2, deploy):
    name = deploy(ECHO)
    api_id = http_api(apigwv2, name, route_keys=("GET /one",))  # AutoDeploy=True
    url = lab.api_url(api_id, "$default")
    assert requests.get(url + "/one", timeout=10).status_code == 200
    integration = apigwv2.get_integrations(ApiId=api_id)["Items"][0]["IntegrationId"]
    apigwv2.create_route(ApiId=api_id, RouteKey="GET /two", Target=f"integrations/{integration}")
    assert requests.get(url + "/two", timeout=10).status_code == 200
    with pytest.raises(ClientError) as refused:
        apigwv2.create_deployment(ApiId=api_id, StageName="$default")
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    apigwv2.update_stage(ApiId=api_id, StageName="$default", AutoDeploy=False)
    assert requests.get(url + "/two", timeout=10).status_code == 200  # what was released last
    apigwv2.create_route(ApiId=api_id, RouteKey="GET /three",
                         Target=f"integrations/{integration}")
    assert requests.get(url + "/three", timeout=10).status_code == 404  # now it waits
    apigwv2.create_deployment(ApiId=api_id, StageName="$default")
    assert requests.get(url + "/three", timeout=10).status_code == 200
