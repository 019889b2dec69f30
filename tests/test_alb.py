"""Application Load Balancers invoke Lambda targets synchronously: load balancers, listeners,
rules and target groups built with plain boto3 (elbv2), called with real HTTP on loopback
(spec event-shapes §6)."""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.parser.models import AlbModel
from botocore.exceptions import ClientError
from pydantic import ValidationError, create_model

import helpers
from helpers.aws import ACCOUNT_ID

ECHO = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "statusDescription": "200 OK",
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"Content-Type": ["application/json"]},
            "body": json.dumps({"event": event, "request_id": context.aws_request_id})}
"""

# Returns whatever the request body asks for: {"return": <the function's return value>}.
RETURNS = """
import json
def lambda_handler(event, context):
    return json.loads(event["body"])["return"]
"""

# A model with AlbModel's fields, the multi-value ones in place of headers and query string.
AlbMultiValueModel = create_model(
    "AlbMultiValueModel",
    **{name: (field.annotation, field) for name, field in AlbModel.model_fields.items()
       if name not in ("headers", "queryStringParameters")},
    multiValueHeaders=(dict[str, list[str]], ...),
    multiValueQueryStringParameters=(dict[str, list[str]], ...),
)


@pytest.fixture
def elbv2(lab):
    return boto3.client("elbv2")


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{name}"


def allow_elb(function: str, target_group_arn: str) -> None:
    boto3.client("lambda").add_permission(
        FunctionName=function, StatementId=f"elb-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction", Principal="elasticloadbalancing.amazonaws.com",
        SourceArn=target_group_arn)


def target_group(elbv2, function: str | None, multi_value: bool = False) -> str:
    """A Lambda target group with ``function`` registered (permission first)."""
    arn = elbv2.create_target_group(Name=f"tg-{uuid.uuid4().hex[:10]}",
                                    TargetType="lambda")["TargetGroups"][0]["TargetGroupArn"]
    if multi_value:
        elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "lambda.multi_value_headers.enabled", "Value": "true"}])
    if function is not None:
        allow_elb(function, arn)
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": function_arn(function)}])
    return arn


def load_balancer(elbv2, default_actions, port: int = 80) -> tuple[str, str]:
    """(load balancer ARN, listener ARN)."""
    subnets = [s["SubnetId"] for s in boto3.client("ec2").describe_subnets()["Subnets"]][:2]
    balancer = elbv2.create_load_balancer(Name=f"lb-{uuid.uuid4().hex[:10]}",
                                          Subnets=subnets)["LoadBalancers"][0]
    listener = elbv2.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"],
                                     Protocol="HTTP", Port=port,
                                     DefaultActions=default_actions)["Listeners"][0]
    return balancer["LoadBalancerArn"], listener["ListenerArn"]


def forward(group_arn: str) -> list[dict]:
    return [{"Type": "forward", "TargetGroupArn": group_arn}]


def fixed(status: str, body: str) -> list[dict]:
    return [{"Type": "fixed-response", "FixedResponseConfig": {
        "StatusCode": status, "ContentType": "text/plain", "MessageBody": body}}]


@pytest.fixture
def echo_alb(lab, elbv2, deploy):
    """(base URL, target group ARN, function name) of a listener forwarding to ECHO."""
    name = deploy(ECHO)
    group = target_group(elbv2, name)
    balancer, _ = load_balancer(elbv2, forward(group))
    return lab.alb_url(balancer), group, name


def echoed(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["event"]


def raw_request(url: str, lines: list[str]) -> bytes:
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    return data


# -- targets and the permission ------------------------------------------------------------


def test_register_targets_needs_the_permission_first(lab, elbv2, deploy):
    name = deploy(ECHO)
    group = target_group(elbv2, None)
    with pytest.raises(ClientError) as refused:
        elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": function_arn(name)}])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "elasticloadbalancing principal does not have permission" in str(refused.value)
    allow_elb(name, group)
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": function_arn(name)}])
    [health] = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    assert health["Target"]["Id"] == function_arn(name)


def test_a_target_group_holds_one_function_that_exists(lab, elbv2, deploy):
    first, second = deploy(ECHO), deploy(ECHO)
    group = target_group(elbv2, first)
    allow_elb(second, group)
    with pytest.raises(ClientError) as refused:
        elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": function_arn(second)}])
    assert refused.value.response["Error"]["Code"] == "TooManyTargets"
    empty = target_group(elbv2, None)
    with pytest.raises(ClientError) as missing:
        elbv2.register_targets(TargetGroupArn=empty,
                               Targets=[{"Id": function_arn("no-such-function")}])
    assert missing.value.response["Error"]["Code"] == "InvalidTarget"


def test_the_multi_value_attribute_takes_true_or_false(lab, elbv2):
    group = target_group(elbv2, None)
    with pytest.raises(ClientError) as refused:
        elbv2.modify_target_group_attributes(TargetGroupArn=group, Attributes=[
            {"Key": "lambda.multi_value_headers.enabled", "Value": "yes"}])
    assert refused.value.response["Error"]["Code"] == "InvalidConfigurationRequest"


def test_alb_url_explains_what_is_missing(lab, elbv2):
    with pytest.raises(helpers.LabError, match="no load balancer"):
        lab.alb_url("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1")
    balancer, _ = load_balancer(elbv2, fixed("200", "ok"))
    with pytest.raises(helpers.LabError, match="create_listener"):
        lab.alb_url(balancer, port=8080)
    url = lab.alb_url(balancer)
    assert url.startswith("http://127.0.0.1:") and url == lab.alb_url(balancer, 80)


# -- the event --------------------------------------------------------------------------------


def test_the_event_has_lowercase_headers_and_undecoded_query_values(echo_alb):
    url, group, name = echo_alb
    data = raw_request(url, ["GET /orders/7?tag=a%20b&tag=c+d&page=2 HTTP/1.1",
                             f"Host: {url.split('//')[1]}", "X-Team: red", "X-Team: blue",
                             "User-Agent: lab-test", "Connection: close"])
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    event = json.loads(body)["event"]
    AlbModel.model_validate(event)
    assert event["requestContext"] == {"elb": {"targetGroupArn": group}}
    assert (event["httpMethod"], event["path"]) == ("GET", "/orders/7")
    assert event["queryStringParameters"] == {"tag": "c+d", "page": "2"}  # last, undecoded
    assert event["headers"]["x-team"] == "blue"  # the last value
    assert all(header == header.lower() for header in event["headers"])
    assert event["headers"]["user-agent"] == "lab-test"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert (event["body"], event["isBase64Encoded"]) == ("", False)
    assert "multiValueHeaders" not in event and "multiValueQueryStringParameters" not in event


def test_multi_value_headers_switch_the_event_and_the_response_fields(lab, elbv2, deploy):
    name = deploy(ECHO)
    group = target_group(elbv2, name, multi_value=True)
    balancer, _ = load_balancer(elbv2, forward(group))
    url = lab.alb_url(balancer)
    data = raw_request(url, ["GET /?tag=a%20b&tag=c HTTP/1.1", f"Host: {url.split('//')[1]}",
                             "Cookie: a=1", "Cookie: b=2", "Connection: close"])
    event = json.loads(data.partition(b"\r\n\r\n")[2])["event"]
    assert event["multiValueQueryStringParameters"] == {"tag": ["a%20b", "c"]}
    assert event["multiValueHeaders"]["cookie"] == ["a=1", "b=2"]
    assert "headers" not in event and "queryStringParameters" not in event
    AlbMultiValueModel.model_validate(event)
    with pytest.raises(ValidationError):  # Powertools' model has no multi-value fields
        AlbModel.model_validate(event)

    # the response: multiValueHeaders are used, headers ignored (and the trace says so)
    returns = deploy(RETURNS)
    mv_group = target_group(elbv2, returns, multi_value=True)
    mv_url = lab.alb_url(load_balancer(elbv2, forward(mv_group))[0])
    answer = {"statusCode": 200, "headers": {"X-Single": "1"},
              "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "ok"}
    response = requests.post(mv_url, json={"return": answer})
    assert response.status_code == 200 and response.text == "ok"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert "X-Single" not in response.headers
    [record] = lab.trace.events("alb.response", target_group=mv_group)
    assert record["detail"] == "headers ignored: multi-value headers are on for the target group"


def test_binary_bodies_travel_base64_both_ways(lab, elbv2, deploy, echo_alb):
    url, _, _ = echo_alb
    for content_type, text in (("text/csv", True), ("application/json", True),
                               ("application/xml; charset=utf-8", True),
                               ("application/javascript", True), ("image/png", False),
                               ("application/x-www-form-urlencoded", False)):
        event = echoed(requests.post(url + "/upload", data=b"a,b\n",
                                     headers={"Content-Type": content_type}))
        AlbModel.model_validate(event)
        assert event["isBase64Encoded"] is (not text), content_type
        assert event["body"] == ("a,b\n" if text else base64.b64encode(b"a,b\n").decode())
    returns = deploy(RETURNS)
    group = target_group(elbv2, returns)
    binary_url = lab.alb_url(load_balancer(elbv2, forward(group))[0])
    png = bytes.fromhex("89504e470d0a1a0a00ff")
    answer = {"statusCode": 200, "headers": {"Content-Type": "image/png"},
              "isBase64Encoded": True, "body": base64.b64encode(png).decode()}
    response = requests.post(binary_url, json={"return": answer})
    assert response.content == png and response.headers["Content-Type"] == "image/png"


# -- routing ----------------------------------------------------------------------------------


def test_rules_are_evaluated_by_priority_and_the_default_comes_last(lab, elbv2, deploy):
    name = deploy(ECHO)
    group = target_group(elbv2, name)
    balancer, listener = load_balancer(elbv2, fixed("404", "no route"))

    def rule(priority, conditions, actions):
        elbv2.create_rule(ListenerArn=listener, Priority=priority, Conditions=conditions,
                          Actions=actions)

    rule(20, [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
         forward(group))
    rule(10, [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/admin*"]}}],
         fixed("403", "admins only"))
    rule(30, [{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["PUT"]}}],
         fixed("200", "a PUT"))
    rule(40, [{"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}}],
         fixed("200", "a host"))
    rule(50, [{"Field": "http-header", "HttpHeaderConfig": {
        "HttpHeaderName": "X-Beta", "Values": ["y*"]}}], fixed("200", "a header"))
    rule(60, [{"Field": "query-string", "QueryStringConfig": {
        "Values": [{"Key": "version", "Value": "v1"}, {"Value": "hello world"}]}}],
         fixed("200", "a query"))
    rule(70, [{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}],
         fixed("200", "from 10/8"))
    rule(80, [{"Field": "source-ip", "SourceIpConfig": {"Values": ["127.0.0.0/8"]}},
              {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/local"]}}],
         fixed("200", "from loopback"))
    url = lab.alb_url(balancer)

    def answer(path="/", method="GET", **headers):
        response = requests.request(method, url + path, headers=headers)
        return response.status_code, response.text

    assert answer("/api/admin/users") == (403, "admins only")  # priority 10 before 20
    assert echoed(requests.get(url + "/api/orders"))["path"] == "/api/orders"
    assert answer("/API/orders") == (404, "no route")  # paths are case-sensitive
    assert answer("/x", "PUT") == (200, "a PUT")
    assert answer("/x", Host="shop.EXAMPLE.com:8080") == (200, "a host")
    assert answer("/x", Host="example.com") == (404, "no route")
    assert answer("/x", **{"x-beta": "YES"}) == (200, "a header")
    assert answer("/x?Version=V1") == (200, "a query")  # case-insensitive
    assert answer("/x?greeting=hello%20world") == (200, "a query")  # a value, any key
    assert answer("/local") == (200, "from loopback")  # 10/8 does not match 127.0.0.1
    assert answer("/nothing") == (404, "no route")


def test_weighted_forward_and_redirects(lab, elbv2, deploy):
    blue, green = deploy(ECHO), deploy(ECHO)
    blue_group, green_group = target_group(elbv2, blue), target_group(elbv2, green)
    balancer, listener = load_balancer(elbv2, [{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": blue_group, "Weight": 1},
                         {"TargetGroupArn": green_group, "Weight": 1}]}}])
    elbv2.create_rule(ListenerArn=listener, Priority=1, Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/only-blue"]}}],
        Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": blue_group, "Weight": 5},
            {"TargetGroupArn": green_group, "Weight": 0}]}}])
    elbv2.create_rule(ListenerArn=listener, Priority=2, Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/old/*"]}}],
        Actions=[{"Type": "redirect", "RedirectConfig": {
            "Path": "/new/#{path}", "Query": "from=old&#{query}", "StatusCode": "HTTP_301"}}])
    url = lab.alb_url(balancer)
    seen = [echoed(requests.get(url + "/split"))["requestContext"]["elb"]["targetGroupArn"]
            for _ in range(40)]
    assert set(seen) == {blue_group, green_group}  # both get traffic (1:1)
    only = {echoed(requests.get(url + "/only-blue"))["requestContext"]["elb"]["targetGroupArn"]
            for _ in range(10)}
    assert only == {blue_group}  # weight 0 gets nothing
    moved = requests.get(url + "/old/page?id=3", allow_redirects=False)
    assert moved.status_code == 301
    port = url.rsplit(":", 1)[1]
    assert moved.headers["Location"] == f"http://127.0.0.1:{port}/new/old/page?from=old&id=3"


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("returned", "why"), [
    ({"body": "no status"}, "statusCode must be an integer"),
    ({"statusCode": "200", "body": "x"}, "statusCode must be an integer"),
    ({"statusCode": 200, "body": {"a": 1}}, "body must be a string"),
    ("just a string", "must return an object"),
])
def test_a_malformed_response_is_a_502(lab, elbv2, deploy, returned, why):
    name = deploy(RETURNS)
    group = target_group(elbv2, name)
    url = lab.alb_url(load_balancer(elbv2, forward(group))[0])
    response = requests.post(url, json={"return": returned})
    assert response.status_code == 502
    assert "<title>502 Bad Gateway</title>" in response.text
    assert response.headers["Server"] == "awselb/2.0"
    [record] = lab.trace.events("alb.response", target_group=group)
    assert record["outcome"] == "malformed" and why in record["detail"]


def test_function_errors_timeouts_and_throttles_are_502(lab, elbv2, deploy):
    failing = deploy("def lambda_handler(event, context):\n    raise KeyError('id')\n")
    slow = deploy("import time\ndef lambda_handler(event, context):\n    time.sleep(5)\n",
                  timeout=1)
    throttled = deploy(ECHO)
    boto3.client("lambda").put_function_concurrency(FunctionName=throttled,
                                                    ReservedConcurrentExecutions=0)
    for name, outcome, detail in ((failing, "function_error", "function error: KeyError"),
                                  (slow, "function_error", "function error: Sandbox.Timedout"),
                                  (throttled, "throttled", "Lambda: 429")):
        group = target_group(elbv2, name)
        url = lab.alb_url(load_balancer(elbv2, forward(group))[0])
        started = time.perf_counter()
        response = requests.get(url)
        assert response.status_code == 502, name
        [record] = lab.trace.events("alb.response", target_group=group)
        assert record["outcome"] == outcome and record["detail"].startswith(detail)
        if name == slow:
            assert 1 <= time.perf_counter() - started < 4  # the function's own timeout


def test_without_permission_at_request_time_the_answer_is_502(lab, elbv2, deploy):
    name = deploy(ECHO)
    group = target_group(elbv2, name)
    url = lab.alb_url(load_balancer(elbv2, forward(group))[0])
    lambda_client = boto3.client("lambda")
    for statement in json.loads(lambda_client.get_policy(FunctionName=name)["Policy"])[
            "Statement"]:
        lambda_client.remove_permission(FunctionName=name, StatementId=statement["Sid"])
    assert requests.get(url).status_code == 502
    [record] = lab.trace.events("alb.response", target_group=group)
    assert record["outcome"] == "access_denied"
    assert lab.trace.events("attempt.start", function=function_arn(name)) == []


def test_one_mb_limits_413_for_requests_502_for_responses(lab, elbv2, deploy):
    length = deploy("def lambda_handler(event, context):\n"
                    "    return {'statusCode': 200, 'body': str(len(event['body']))}\n")
    url = lab.alb_url(load_balancer(elbv2, forward(target_group(elbv2, length)))[0])
    whole = requests.post(url, data=b"x" * (1024 * 1024), headers={"Content-Type": "text/plain"})
    assert (whole.status_code, whole.text) == (200, str(1024 * 1024))
    too_big = requests.post(url, data=b"x" * (1024 * 1024 + 1))
    assert too_big.status_code == 413 and "413 Request Entity Too Large" in too_big.text
    big = deploy("def lambda_handler(event, context):\n"
                 "    return {'statusCode': 200, 'body': 'x' * (1024 * 1024)}\n")
    big_group = target_group(elbv2, big)
    big_url = lab.alb_url(load_balancer(elbv2, forward(big_group))[0])
    assert requests.get(big_url).status_code == 502
    [record] = lab.trace.events("alb.response", target_group=big_group)
    assert record["outcome"] == "response_too_large"


def test_no_registered_target_is_a_503_and_trace_websocket_are_refused(lab, elbv2, deploy):
    group = target_group(elbv2, None)
    url = lab.alb_url(load_balancer(elbv2, forward(group))[0])
    unavailable = requests.get(url)
    assert unavailable.status_code == 503 and "Service Temporarily Unavailable" in (
        unavailable.text)
    assert requests.request("TRACE", url).status_code == 405
    upgrade = requests.get(url, headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    assert upgrade.status_code == 400


def test_head_answers_without_a_body_and_fixed_responses_need_no_function(lab, elbv2):
    url = lab.alb_url(load_balancer(elbv2, fixed("200", "healthy"))[0])
    assert requests.get(url + "/ping").text == "healthy"
    head = requests.head(url + "/ping")
    assert head.status_code == 200 and head.content == b""
    [record] = lab.trace.events("alb.response", action="fixed-response", status=200)[-2:-1]
    assert record["outcome"] == "fixed_response" and record["lambda_request_id"] is None


def test_no_29_second_cap_only_the_function_timeout(lab, elbv2, deploy):
    name = deploy("import time\ndef lambda_handler(event, context):\n    time.sleep(30)\n"
                  "    return {'statusCode': 200, 'body': 'done'}\n", timeout=40)
    group = target_group(elbv2, name)
    url = lab.alb_url(load_balancer(elbv2, forward(group))[0])
    started = time.perf_counter()
    response = requests.get(url, timeout=60)
    assert (response.status_code, response.text) == (200, "done")
    assert time.perf_counter() - started >= 30


def test_every_request_is_in_the_trace(lab, echo_alb):
    url, group, name = echo_alb
    response = requests.get(url + "/traced", headers={"X-Amzn-Trace-Id": "Root=1-abc-def"})
    lambda_request_id = response.json()["request_id"]
    [request] = lab.trace.events("alb.request", trace_id="Root=1-abc-def")
    [answer] = lab.trace.events("alb.response", request_id=request["request_id"])
    assert request["event"]["headers"]["x-amzn-trace-id"] == "Root=1-abc-def"
    assert (request["path"], request["function"], request["rule"]) == (
        "/traced", function_arn(name), "default")
    assert (answer["status"], answer["outcome"], answer["lambda_request_id"]) == (
        200, "integration", lambda_request_id)
    [invoke] = lab.trace.events("invoke", request_id=lambda_request_id)
    assert (invoke["source"], invoke["alb_request_id"]) == ("alb", request["request_id"])


def test_stopping_the_lab_closes_the_listeners(elbv2, deploy):
    lab = helpers.start_lab()
    url = lab.alb_url(load_balancer(boto3.client("elbv2"), fixed("200", "ok"))[0])
    assert requests.get(url).status_code == 200
    lab.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
