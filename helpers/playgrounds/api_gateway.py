"""The API Gateway playground's logic: send HTTP requests through a REST API to a demo
function, and read what happened from the lab's trace.

A plain class, no widgets: ``helpers.api_playground`` draws it; notebooks and tests
drive it directly. It sets up its API with plain boto3 (a REST API with ``ANY /`` and
``ANY /{proxy+}`` Lambda proxy integrations, a stage, a permission for API Gateway),
sends requests with urllib, and changes the integration timeout (``put_integration`` and
a new deployment) and the demo function's behaviour (environment variables) on demand.
Introduced in notebook 07.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import boto3
from botocore.exceptions import ClientError

from ..aws import ACCOUNT_ID
from .base import (
    PlaygroundBase,
    PlaygroundInputError,
    front_door_labels,
    parse_header_lines,
    send_http,
    wait_until,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
TIMEOUT_RANGE_MS = (50, 29000)  # what REST API integrations accept
SLOW_SECONDS = 1.5
MAX_BODY_CHARS = 1024 * 1024

DEMO_SOURCE = '''
import json
import os
import time


def lambda_handler(event, context):
    print(f"{event['httpMethod']} {event['path']}")
    if os.environ.get("SLOW") == "1":
        time.sleep(float(os.environ["SLOW_SECONDS"]))
        print("finished sleeping")
    if os.environ.get("FAIL") == "1":
        raise RuntimeError("The demo function was told to fail")
    if os.environ.get("MALFORMED") == "1":
        return {"statusCode": 200, "body": {"note": "a body that is not a string"}}
    answer = {
        "method": event["httpMethod"],
        "path": event["path"],
        "query": event["multiValueQueryStringParameters"],
        "body": event["body"],
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(answer)}
'''

__all__ = ["METHODS", "ApiPlaygroundError", "ApiPlaygroundModel", "ApiResult"]


class ApiPlaygroundError(PlaygroundInputError):
    """Bad input in the API playground, with a message for the learner."""


@dataclass
class ApiResult:
    """One HTTP request as the client saw it, and the ids that find it in the trace."""

    method: str
    url: str
    status: int | None = None
    reason: str = ""
    headers: list = field(default_factory=list)
    body: str = ""
    seconds: float = 0.0
    request_id: str | None = None  # API Gateway's (x-amzn-RequestId)
    error: str | None = None  # the client could not get an answer at all

    @property
    def summary(self) -> str:
        if self.error:
            return self.error
        return f"HTTP {self.status} {self.reason} in {self.seconds * 1000:.0f} ms"


class ApiPlaygroundModel(PlaygroundBase):
    """Request settings, switches for the demo function, and ``send()``."""

    def __init__(self, lab, name: str = "api-playground"):
        super().__init__(lab)
        self.name = name
        self.method = "GET"
        self.path = "/todos/42"
        self.query = "done=false"
        self.headers_text = "Accept: application/json"
        self.body = ""
        self.timeout_ms = TIMEOUT_RANGE_MS[1]
        self.slow = False
        self.failing = False
        self.malformed = False
        self.result: ApiResult | None = None
        self.function_arn = None
        self._deployed_timeout = None
        self._deployed_switches = None
        self.api_id = None
        self.url = None
        self._setup()

    # -- set-up --------------------------------------------------------------------------

    def _switches(self) -> dict:
        return {"SLOW": str(int(self.slow)), "FAIL": str(int(self.failing)),
                "MALFORMED": str(int(self.malformed)), "SLOW_SECONDS": str(SLOW_SECONDS)}

    def _setup(self):
        apigateway = boto3.client("apigateway")
        config = self.lab.deploy(self.name, DEMO_SOURCE, timeout=int(SLOW_SECONDS) + 3,
                                 environment=self._switches())
        self._deployed_switches = self._switches()
        function_arn = self.function_arn = config["FunctionArn"].rsplit(":$LATEST", 1)[0]
        self._uri = (f"arn:aws:apigateway:{self.lab.region}:lambda:path/2015-03-31/functions/"
                     f"{function_arn}/invocations")
        existing = [api["id"] for api in apigateway.get_rest_apis()["items"]
                    if api["name"] == self.name]
        self.api_id = existing[0] if existing else apigateway.create_rest_api(
            name=self.name)["id"]
        resources = {r["path"]: r["id"]
                     for r in apigateway.get_resources(restApiId=self.api_id)["items"]}
        if "/{proxy+}" not in resources:
            resources["/{proxy+}"] = apigateway.create_resource(
                restApiId=self.api_id, parentId=resources["/"], pathPart="{proxy+}")["id"]
        self._resource_ids = [resources["/"], resources["/{proxy+}"]]
        for resource_id in self._resource_ids:
            apigateway.put_method(restApiId=self.api_id, resourceId=resource_id,
                                  httpMethod="ANY", authorizationType="NONE")
        self._deploy_timeout(apigateway)
        lambda_client = boto3.client("lambda")
        try:
            lambda_client.remove_permission(FunctionName=self.name, StatementId="api-playground")
        except lambda_client.exceptions.ResourceNotFoundException:
            pass
        lambda_client.add_permission(
            FunctionName=self.name, StatementId="api-playground",
            Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{self.lab.region}:{ACCOUNT_ID}:{self.api_id}/*")
        self.url = self.lab.api_url(self.api_id, "demo")

    def _resources_exist(self) -> bool:
        try:
            boto3.client("apigateway").get_rest_api(restApiId=self.api_id)
            boto3.client("lambda").get_function_configuration(FunctionName=self.name)
        except ClientError:
            return False
        return True

    def function_arns(self) -> list[str]:
        return [self.function_arn]

    def timeline_labels(self) -> dict:
        return front_door_labels(self.lab.trace, "apigateway", self.function_arn)

    def _deploy_timeout(self, apigateway=None):
        apigateway = apigateway or boto3.client("apigateway")
        for resource_id in self._resource_ids:
            apigateway.put_integration(
                restApiId=self.api_id, resourceId=resource_id, httpMethod="ANY",
                type="AWS_PROXY", integrationHttpMethod="POST", uri=self._uri,
                timeoutInMillis=int(self.timeout_ms))
        apigateway.create_deployment(restApiId=self.api_id, stageName="demo")
        self._deployed_timeout = self.timeout_ms

    # -- input ---------------------------------------------------------------------------

    def validate(self) -> tuple[str, list, bytes]:
        """(URL, headers, body) for the current settings, or an ApiPlaygroundError."""
        if self.method not in METHODS:
            raise ApiPlaygroundError(f"Choose a method: {', '.join(METHODS)}.")
        path = (self.path or "/").strip()
        if not path.startswith("/") or " " in path or "?" in path:
            raise ApiPlaygroundError("The path starts with / and has no spaces; put the "
                                     "query string in its own field.")
        low, high = TIMEOUT_RANGE_MS
        if not low <= int(self.timeout_ms) <= high:
            raise ApiPlaygroundError(f"The integration timeout is {low} to {high} ms.")
        try:
            headers = parse_header_lines(self.headers_text)
        except PlaygroundInputError as error:
            raise ApiPlaygroundError(str(error)) from None
        body = self.body or ""
        if len(body) > MAX_BODY_CHARS:
            raise ApiPlaygroundError("The body is over 1 MB: the playground stops here.")
        query = (self.query or "").strip().lstrip("?")
        url = self.url + path + (f"?{query}" if query else "")
        return url, headers, body.encode()

    # -- sending -------------------------------------------------------------------------

    def apply_settings(self) -> None:
        """Redeploy what changed: the integration timeout, the function's switches."""
        with self._lock:
            if self.timeout_ms != self._deployed_timeout:
                self._deploy_timeout()
            if self._switches() != self._deployed_switches:
                boto3.client("lambda").update_function_configuration(
                    FunctionName=self.name, Environment={"Variables": self._switches()})
                self._deployed_switches = self._switches()

    def send(self) -> ApiResult:
        """Send one request with the current settings; returns (and keeps) the result."""
        self.validate()
        self.ensure_ready()
        url, headers, body = self.validate()  # the API's URL may be new
        self.apply_settings()
        result = ApiResult(self.method, url)
        answer_headers = send_http(result, self.method, url, headers, body)
        if answer_headers is not None:
            result.request_id = answer_headers.get("x-amzn-RequestId")
        self.result = result
        return result

    # -- what happened (from the trace) -------------------------------------------------

    def event(self, result: ApiResult | None = None) -> dict | None:
        """The Lambda event API Gateway built for the request (None if none was built)."""
        result = result or self.result
        if result is None or result.request_id is None:
            return None
        records = self.lab.trace.events("apigateway.request", request_id=result.request_id)
        return records[-1]["event"] if records else None

    def invocation(self, result: ApiResult | None = None) -> dict:
        """What Lambda did for the request: ids, cold or warm, duration, outcome, and
        whether the function was still running when the gateway answered."""
        result = result or self.result
        if result is None or result.request_id is None:
            return {}
        trace = self.lab.trace
        answers = trace.events("apigateway.response", request_id=result.request_id)
        if not answers:
            return {}
        answer = answers[-1]
        info = {"gateway_outcome": answer["outcome"], "detail": answer.get("detail"),
                "lambda_request_id": answer["lambda_request_id"]}
        lambda_id = answer["lambda_request_id"]
        if lambda_id is None:
            info["state"] = "Lambda was not invoked"
            return info
        starts = trace.events("attempt.start", request_id=lambda_id)
        ends = trace.events("attempt.end", request_id=lambda_id)
        if starts:
            info["start"] = "cold start" if starts[-1]["cold"] else "warm start"
        if ends:
            info["outcome"] = ends[-1]["outcome"]
            info["error_type"] = ends[-1].get("error_type")
            info["duration_ms"] = ends[-1]["duration_ms"]
        abandoned = trace.events("apigateway.abandoned", request_id=result.request_id)
        if answer["outcome"] == "timeout":
            if abandoned:
                info["state"] = (f"finished {abandoned[-1]['seconds_after_response']:.1f} s "
                                 "after the gateway answered the client")
            else:
                info["state"] = "still running: the gateway stopped waiting"
        elif ends:
            info["state"] = "finished before the gateway answered"
        return info

    def function_log(self, result: ApiResult | None = None) -> str:
        """The function's log lines for the request, from CloudWatch Logs."""
        info = self.invocation(result)
        lambda_id = info.get("lambda_request_id")
        if not lambda_id:
            return ""
        events = boto3.client("logs").filter_log_events(
            logGroupName=f"/aws/lambda/{self.name}")["events"]
        lines, inside = [], False
        for event in events:
            message = event["message"]
            if message.startswith(f"START RequestId: {lambda_id}"):
                inside = True
            if inside:
                lines.append(message)
            if message.startswith(f"REPORT RequestId: {lambda_id}"):
                break
        return "\n".join(lines)

    def wait_for_function(self, timeout: float = 10.0) -> bool:
        """Wait until the last request's function has finished (it may outlive a 504);
        False if it is still running after ``timeout`` seconds."""
        def finished():
            info = self.invocation()
            return not info.get("lambda_request_id") or "outcome" in info

        try:
            return wait_until(finished, timeout, "the demo function to finish")
        except TimeoutError:
            return False

    def delete(self) -> None:
        """Delete the playground's API and function."""
        boto3.client("apigateway").delete_rest_api(restApiId=self.api_id)
        boto3.client("lambda").delete_function(FunctionName=self.name)


def pretty(text: str) -> str:
    """JSON re-indented for reading; anything else as it is."""
    try:
        return json.dumps(json.loads(text), indent=2)
    except (TypeError, ValueError):
        return text
