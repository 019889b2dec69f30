"""The HTTP front door playground's logic: send requests through an Application Load
Balancer or a function URL to a demo function, and read what happened from the trace.

A plain class, no widgets: ``helpers.widgets.http`` draws it; notebooks and tests drive it
directly. ``door="alb"`` sets up, with plain boto3, a load balancer whose listener
forwards every request to a Lambda target group (the permission first, then the target);
``door="function_url"`` sets up the function's URL (auth type NONE and its two
permissions). Switches change, on the next request:

- ``multi_value`` (ALB): the target group attribute ``lambda.multi_value_headers.enabled``;
- ``auth_type`` (function URL): ``NONE`` or ``AWS_IAM``, and ``sign``: whether the request
  is signed with Signature Version 4 (with this kernel's credentials);
- ``failing``: the demo function raises, and the front door answers 502.

Each request is kept with the raw HTTP that was sent, the event the function received and
the answer, side by side. Introduced in notebooks 08 and 14.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError

from .base import (
    PlaygroundBase,
    PlaygroundInputError,
    front_door_labels,
    parse_header_lines,
    send_http,
    wait_until,
)

DOORS = ("alb", "function_url")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
AUTH_TYPES = ("NONE", "AWS_IAM")
MAX_BODY_CHARS = 1024 * 1024

DEMO_SOURCE = '''
import json
import os


def lambda_handler(event, context):
    if os.environ.get("FAIL") == "1":
        raise RuntimeError("The demo function was told to fail")
    if "elb" in event.get("requestContext", {}):  # an Application Load Balancer's event
        multi = "multiValueHeaders" in event
        seen = {"method": event["httpMethod"], "path": event["path"],
                "query": event.get("multiValueQueryStringParameters",
                                   event.get("queryStringParameters"))}
        answer = {"statusCode": 200, "statusDescription": "200 OK",
                  "isBase64Encoded": False, "body": json.dumps(seen)}
        if multi:  # the target group has multi-value headers on: lists, every value
            answer["multiValueHeaders"] = {"Content-Type": ["application/json"],
                                           "Set-Cookie": ["seen=1", "theme=dark"]}
        else:  # one value per header name
            answer["headers"] = {"Content-Type": "application/json", "Set-Cookie": "seen=1"}
        return answer
    http = event["requestContext"]["http"]  # a function URL's event (payload format 2.0)
    caller = (event["requestContext"].get("authorizer") or {}).get("iam", {})
    seen = {"method": http["method"], "path": http["path"],
            "query": event.get("queryStringParameters"), "caller": caller.get("userArn")}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "cookies": ["seen=1", "theme=dark"], "body": json.dumps(seen)}
'''

__all__ = ["AUTH_TYPES", "DOORS", "METHODS", "HttpPlaygroundError", "HttpPlaygroundModel",
           "HttpResult"]


class HttpPlaygroundError(PlaygroundInputError):
    """Bad input in the HTTP playground, with a message for the learner."""


@dataclass
class HttpResult:
    """One HTTP request as it was sent and as the client saw its answer."""

    method: str
    url: str
    request_text: str = ""  # the request line, headers and body, as sent
    status: int | None = None
    reason: str = ""
    headers: list = field(default_factory=list)
    body: str = ""
    seconds: float = 0.0
    request_id: str | None = None  # the front door's record (the ALB trace id, Lambda's id)
    error: str | None = None  # the client could not get an answer at all

    @property
    def summary(self) -> str:
        if self.error:
            return self.error
        return f"HTTP {self.status} {self.reason} in {self.seconds * 1000:.0f} ms"


class HttpPlaygroundModel(PlaygroundBase):
    """Request settings, the switches, and ``send()``."""

    def __init__(self, lab, door: str = "alb", name: str | None = None):
        super().__init__(lab)
        if door not in DOORS:
            raise HttpPlaygroundError(f"door is one of {', '.join(DOORS)}, not {door!r}.")
        self.door = door
        self.name = name or ("alb-playground" if door == "alb" else "url-playground")
        self.method = "GET"
        self.path = "/orders/42"
        self.query = "tag=new&tag=gift"
        self.headers_text = "Accept: application/json\nCookie: theme=dark"
        self.body = ""
        self.failing = False
        self.multi_value = False
        self.auth_type = "NONE"
        self.sign = False
        self.result: HttpResult | None = None
        self._deployed: dict = {}
        self.function_arn = self.url = self.target_group_arn = self.load_balancer_arn = None
        self._setup()

    # -- set-up --------------------------------------------------------------------------

    def _setup(self) -> None:
        config = self.lab.deploy(self.name, DEMO_SOURCE, environment={"FAIL": "0"})
        self.function_arn = config["FunctionArn"].rsplit(":$LATEST", 1)[0]
        self._deployed = {"failing": False, "multi_value": False, "auth_type": "NONE"}
        if self.door == "alb":
            self._setup_alb()
        else:
            self._setup_url()
        self.apply_settings()

    def _setup_alb(self) -> None:
        elbv2, lambda_client = boto3.client("elbv2"), boto3.client("lambda")
        groups = elbv2.describe_target_groups()["TargetGroups"]
        found = [g["TargetGroupArn"] for g in groups if g["TargetGroupName"] == self.name]
        self.target_group_arn = found[0] if found else elbv2.create_target_group(
            Name=self.name, TargetType="lambda")["TargetGroups"][0]["TargetGroupArn"]
        elbv2.modify_target_group_attributes(TargetGroupArn=self.target_group_arn, Attributes=[
            {"Key": "lambda.multi_value_headers.enabled", "Value": "false"}])
        _permit(lambda_client, FunctionName=self.name, StatementId="alb-playground",
                Action="lambda:InvokeFunction", Principal="elasticloadbalancing.amazonaws.com",
                SourceArn=self.target_group_arn)
        elbv2.register_targets(TargetGroupArn=self.target_group_arn,
                               Targets=[{"Id": self.function_arn}])
        balancers = [b for b in elbv2.describe_load_balancers()["LoadBalancers"]
                     if b["LoadBalancerName"] == self.name]
        if balancers:
            self.load_balancer_arn = balancers[0]["LoadBalancerArn"]
        else:
            subnets = [s["SubnetId"] for s in boto3.client("ec2").describe_subnets()["Subnets"]]
            self.load_balancer_arn = elbv2.create_load_balancer(
                Name=self.name, Subnets=subnets[:2])["LoadBalancers"][0]["LoadBalancerArn"]
            elbv2.create_listener(LoadBalancerArn=self.load_balancer_arn, Protocol="HTTP",
                                  Port=80, DefaultActions=[
                                      {"Type": "forward", "TargetGroupArn": self.target_group_arn}])
        self.url = self.lab.alb_url(self.load_balancer_arn)

    def _setup_url(self) -> None:
        lambda_client = boto3.client("lambda")
        try:
            lambda_client.create_function_url_config(FunctionName=self.name, AuthType="NONE")
        except lambda_client.exceptions.ResourceConflictException:
            lambda_client.update_function_url_config(FunctionName=self.name, AuthType="NONE")
        for sid, action, extra in (
                ("url-playground", "lambda:InvokeFunctionUrl", {"FunctionUrlAuthType": "NONE"}),
                ("url-playground-invoke", "lambda:InvokeFunction",
                 {"InvokedViaFunctionUrl": True})):
            _permit(lambda_client, FunctionName=self.name, StatementId=sid, Action=action,
                    Principal="*", **extra)
        self.url = self.lab.function_url(self.name)

    def _resources_exist(self) -> bool:
        try:
            boto3.client("lambda").get_function_configuration(FunctionName=self.name)
            if self.door == "alb":
                boto3.client("elbv2").describe_load_balancers(
                    LoadBalancerArns=[self.load_balancer_arn])
            else:
                boto3.client("lambda").get_function_url_config(FunctionName=self.name)
        except ClientError:
            return False
        return True

    def function_arns(self) -> list[str]:
        return [self.function_arn]

    def timeline_labels(self) -> dict:
        return front_door_labels(self.lab.trace, self.door, self.function_arn)

    # -- input ---------------------------------------------------------------------------

    def validate(self) -> tuple[str, list, bytes]:
        """(URL, headers, body) for the current settings, or an HttpPlaygroundError."""
        if self.method not in METHODS:
            raise HttpPlaygroundError(f"Choose a method: {', '.join(METHODS)}.")
        if self.auth_type not in AUTH_TYPES:
            raise HttpPlaygroundError(f"The auth type is {' or '.join(AUTH_TYPES)}.")
        path = (self.path or "/").strip()
        if not path.startswith("/") or " " in path or "?" in path:
            raise HttpPlaygroundError("The path starts with / and has no spaces; put the "
                                      "query string in its own field.")
        try:
            headers = parse_header_lines(self.headers_text)
        except PlaygroundInputError as error:
            raise HttpPlaygroundError(str(error)) from None
        body = self.body or ""
        if len(body) > MAX_BODY_CHARS:
            raise HttpPlaygroundError("The body is over 1 MB: the playground stops here.")
        query = (self.query or "").strip().lstrip("?")
        return self.url + path + (f"?{query}" if query else ""), headers, body.encode()

    # -- sending -------------------------------------------------------------------------

    def apply_settings(self) -> None:
        """Make the switches true of the resources: the function, the target group, the URL."""
        with self._lock:
            lambda_client = boto3.client("lambda")
            if self.failing != self._deployed["failing"]:
                lambda_client.update_function_configuration(
                    FunctionName=self.name,
                    Environment={"Variables": {"FAIL": str(int(self.failing))}})
                self._deployed["failing"] = self.failing
            if self.door == "alb" and self.multi_value != self._deployed["multi_value"]:
                boto3.client("elbv2").modify_target_group_attributes(
                    TargetGroupArn=self.target_group_arn, Attributes=[{
                        "Key": "lambda.multi_value_headers.enabled",
                        "Value": "true" if self.multi_value else "false"}])
                self._deployed["multi_value"] = self.multi_value
            if self.door == "function_url" and self.auth_type != self._deployed["auth_type"]:
                lambda_client.update_function_url_config(FunctionName=self.name,
                                                         AuthType=self.auth_type)
                self._deployed["auth_type"] = self.auth_type

    def _signed(self, url: str, headers: list, body: bytes) -> list:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=self.method, url=url, data=body, headers=dict(headers))
        credentials = boto3.Session().get_credentials().get_frozen_credentials()
        SigV4Auth(credentials, "lambda", self.lab.region).add_auth(request)
        return list(request.headers.items())

    def send(self) -> HttpResult:
        """Send one request with the current settings; returns (and keeps) the result."""
        self.validate()
        self.ensure_ready()
        url, headers, body = self.validate()  # the URL may be new after a set-up
        self.apply_settings()
        trace = None
        if self.door == "alb":  # the load balancer keeps a trace id it is given
            trace = f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"
            headers.append(("X-Amzn-Trace-Id", trace))
        if self.door == "function_url" and self.sign:
            headers = self._signed(url, headers, body)
        result = HttpResult(self.method, url, request_id=trace)
        result.request_text = _request_text(self.method, url, headers, body)
        answer_headers = send_http(result, self.method, url, headers, body)
        if answer_headers is not None and self.door == "function_url":
            result.request_id = answer_headers.get("x-amzn-RequestId")
        self.result = result
        return result

    # -- what happened (from the trace) -------------------------------------------------

    def _records(self, kind: str, result: HttpResult | None):
        result = result or self.result
        if result is None or result.request_id is None:
            return []
        key = "trace_id" if self.door == "alb" else "request_id"
        found = self.lab.trace.events(f"{self.door}.request", **{key: result.request_id})
        if kind == "request" or not found:
            return found
        return self.lab.trace.events(f"{self.door}.response", request_id=found[-1]["request_id"])

    def event(self, result: HttpResult | None = None) -> dict | None:
        """The event the function received (None if the front door built none)."""
        records = self._records("request", result)
        return records[-1]["event"] if records else None

    def invocation(self, result: HttpResult | None = None) -> dict:
        """What the front door and Lambda did: the outcome and why, the Lambda request id,
        cold or warm start, duration and the function's outcome."""
        answers = self._records("response", result)
        if not answers:
            return {}
        answer = answers[-1]
        info = {"door_outcome": answer["outcome"], "detail": answer.get("detail"),
                "lambda_request_id": answer["lambda_request_id"]}
        lambda_id = answer["lambda_request_id"]
        if lambda_id is None:
            info["state"] = "Lambda was not invoked"
            return info
        starts = self.lab.trace.events("attempt.start", request_id=lambda_id)
        ends = self.lab.trace.events("attempt.end", request_id=lambda_id)
        if starts:
            info["start"] = "cold start" if starts[-1]["cold"] else "warm start"
        if ends:
            info.update(outcome=ends[-1]["outcome"], error_type=ends[-1].get("error_type"),
                        duration_ms=ends[-1]["duration_ms"])
        return info

    def wait_for_function(self, timeout: float = 10.0) -> bool:
        """Wait until the last request's function has finished; False after ``timeout``."""
        def finished():
            info = self.invocation()
            return not info.get("lambda_request_id") or "outcome" in info

        try:
            return wait_until(finished, timeout, "the demo function to finish")
        except TimeoutError:
            return False

    def delete(self) -> None:
        """Delete the playground's load balancer (or URL) and function."""
        if self.door == "alb":
            elbv2 = boto3.client("elbv2")
            elbv2.delete_load_balancer(LoadBalancerArn=self.load_balancer_arn)
            elbv2.delete_target_group(TargetGroupArn=self.target_group_arn)
        boto3.client("lambda").delete_function(FunctionName=self.name)


def _permit(lambda_client, **statement) -> None:
    """Add a permission statement, replacing one of the same id (a set-up run again)."""
    try:
        lambda_client.remove_permission(FunctionName=statement["FunctionName"],
                                        StatementId=statement["StatementId"])
    except lambda_client.exceptions.ResourceNotFoundException:
        pass
    lambda_client.add_permission(**statement)


def _request_text(method: str, url: str, headers: list, body: bytes) -> str:
    """The request as urllib sends it: the request line, the headers it adds, ours, the body."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    names = {name.lower() for name, _ in headers}
    added = [("Host", parts.netloc), ("Accept-Encoding", "identity")]
    if "user-agent" not in names:
        added.append(("User-Agent", f"Python-urllib/{sys.version_info[0]}.{sys.version_info[1]}"))
    if body:
        added.append(("Content-Length", str(len(body))))
    lines = [f"{method} {target} HTTP/1.1"] + [f"{name}: {value}" for name, value in
                                              added + headers + [("Connection", "close")]]
    text = "\n".join(lines)
    if body:
        text += "\n\n" + body.decode("utf-8", "replace")
    return text
