"""The edge view's logic: send a request through a distribution, and see its way through
the four Lambda@Edge triggers and the cache.

A plain class, no widgets: ``helpers.edge_view`` draws it, notebooks and tests drive it
directly. It sets up, with plain boto3, a bucket with a small site, an execution role
that ``edgelambda.amazonaws.com`` may assume, one function (version 1) associated with
all four triggers of a distribution's default behaviour (CachingOptimized), and answers
each ``send()`` with the stages the request went through (``steps()``): which triggers
ran and what each changed, hit or miss, what the origin answered. The function:

- viewer-request: ``/`` becomes ``/a/index.html`` or ``/b/index.html`` by the ``group``
  cookie (A/B testing);
- origin-request: a path without a dot gets ``.html`` (``/about`` is ``about.html``);
- origin-response: adds security headers, and with the request header ``X-Break: 1`` the
  disallowed header ``X-Cache`` too (CloudFront answers 502);
- viewer-response: adds ``X-Viewer-Response: ran``.

Resources deleted by a notebook's clean-up are set up again by the next ``send()``.
Introduced in notebook 10.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import boto3
from botocore.exceptions import ClientError

from ..front_doors.cloudfront_cache import CACHING_OPTIMIZED
from .base import PlaygroundBase, PlaygroundInputError, send_http

GROUPS = ("none", "a", "b")
STAGES = ("viewer-request", "cache", "origin-request", "origin", "origin-response",
          "viewer-response")
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}}]}
SITE = {"a/index.html": "<h1>Version A</h1>", "b/index.html": "<h1>Version B</h1>",
        "about.html": "<h1>About</h1>"}
SOURCE = '''
def lambda_handler(event, context):
    cf = event["Records"][0]["cf"]
    kind = cf["config"]["eventType"]
    request = cf["request"]
    if kind == "viewer-request":
        cookies = "; ".join(h["value"] for h in request["headers"].get("cookie", []))
        group = "b" if "group=b" in cookies else "a"
        if request["uri"] == "/":
            request["uri"] = f"/{group}/index.html"
        return request
    if kind == "origin-request":
        last = request["uri"].rsplit("/", 1)[-1]
        if last and "." not in last:
            request["uri"] += ".html"
        return request
    response = cf["response"]
    headers = response["headers"]
    if kind == "origin-response":
        headers["strict-transport-security"] = [
            {"key": "Strict-Transport-Security", "value": "max-age=63072000"}]
        headers["x-content-type-options"] = [{"key": "X-Content-Type-Options",
                                              "value": "nosniff"}]
        if request["headers"].get("x-break"):
            headers["x-cache"] = [{"key": "X-Cache", "value": "from my function"}]
        return response
    headers["x-viewer-response"] = [{"key": "X-Viewer-Response", "value": "ran"}]
    return response
'''

__all__ = ["GROUPS", "STAGES", "EdgeError", "EdgeModel", "EdgeResult"]


class EdgeError(PlaygroundInputError):
    """Bad input in the edge view, with a message for the learner."""


@dataclass
class EdgeResult:
    """One request through the distribution, as the viewer saw the answer."""

    path: str
    group: str
    broken: bool
    status: int | None = None
    reason: str = ""
    headers: list = field(default_factory=list)
    body: str = ""
    seconds: float = 0.0
    request_id: str | None = None  # CloudFront's (X-Amz-Cf-Id)
    error: str | None = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def summary(self) -> str:
        if self.error:
            return self.error
        return (f"HTTP {self.status} {self.reason}, X-Cache: {self.header('X-Cache')}, "
                f"{self.seconds * 1000:.0f} ms")


class EdgeModel(PlaygroundBase):
    """The request's settings, ``send()``, ``invalidate()`` and ``steps()``."""

    def __init__(self, lab, name: str = "edge-demo"):
        super().__init__(lab)
        self.name = name
        self.path = "/"
        self.group = "none"
        self.broken = False
        self.results: list[EdgeResult] = []
        self.bucket = f"{name}-site"
        self.distribution_id = self.function_arn = self.url = None
        self._setup()

    # -- set-up ---------------------------------------------------------------------------

    def _role(self) -> str:
        iam = boto3.client("iam")
        name = f"{self.name}-edge-role"
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
                TRUST))["Role"]["Arn"]

    def _setup(self) -> None:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=self.bucket)
        for key, text in SITE.items():
            s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode(),
                          ContentType="text/html")
        self.lab.deploy(self.name, SOURCE, timeout=5, role=self._role(), publish=True)
        versions = boto3.client("lambda").list_versions_by_function(
            FunctionName=self.name)["Versions"]
        self.function_arn = versions[-1]["FunctionArn"]
        associations = [{"LambdaFunctionARN": self.function_arn, "EventType": kind,
                         "IncludeBody": False}
                        for kind in ("viewer-request", "origin-request", "origin-response",
                                     "viewer-response")]
        created = boto3.client("cloudfront").create_distribution(DistributionConfig={
            "CallerReference": f"{self.name}-{uuid.uuid4().hex}", "Comment": self.name,
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "site", "DomainName": f"{self.bucket}.s3.us-east-1.amazonaws.com",
                "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {
                "TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all",
                "CachePolicyId": CACHING_OPTIMIZED,
                "LambdaFunctionAssociations": {"Quantity": 4, "Items": associations}}})
        self.distribution_id = created["Distribution"]["Id"]
        self.url = self.lab.cloudfront_url(self.distribution_id)

    def _resources_exist(self) -> bool:
        try:
            boto3.client("s3").head_object(Bucket=self.bucket, Key="a/index.html")
            boto3.client("lambda").get_function(FunctionName=self.function_arn)
            boto3.client("cloudfront").get_distribution(Id=self.distribution_id)
        except ClientError:
            return False
        return True

    def function_arns(self) -> list[str]:
        return [self.function_arn.rsplit(":", 1)[0]]

    # -- requests -------------------------------------------------------------------------

    def validate(self) -> None:
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise EdgeError("The path starts with '/', such as / or /about.")
        if " " in self.path:
            raise EdgeError("A path has no spaces (write %20).")
        if self.group not in GROUPS:
            raise EdgeError(f"The group cookie is one of {', '.join(GROUPS)}.")

    def send(self) -> EdgeResult:
        """GET the path through the distribution, with the group cookie (if any)."""
        self.validate()
        self.ensure_ready()
        headers = []
        if self.group != "none":
            headers.append(("Cookie", f"group={self.group}"))
        if self.broken:
            headers.append(("X-Break", "1"))
        result = EdgeResult(self.path, self.group, self.broken)
        answer = send_http(result, "GET", self.url + self.path, headers, b"")
        if answer is not None:
            result.request_id = answer.get("X-Amz-Cf-Id")
        with self._lock:
            self.results.append(result)
        return result

    def invalidate(self, paths=("/*",)) -> str:
        """Empty the edge cache of ``paths`` with create_invalidation; its id."""
        self.ensure_ready()
        answer = boto3.client("cloudfront").create_invalidation(
            DistributionId=self.distribution_id, InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": list(paths)},
                "CallerReference": uuid.uuid4().hex})
        return answer["Invalidation"]["Id"]

    # -- what happened (from the trace) ---------------------------------------------------

    def steps(self, result: EdgeResult | None = None) -> list[dict]:
        """One row per stage of the way: stage, ran (True / False), what happened."""
        result = result or (self.results[-1] if self.results else None)
        if result is None or result.request_id is None:
            return []
        trace = self.lab.trace
        triggers = {t["event_type"]: t for t in trace.events(
            "cloudfront.trigger", request_id=result.request_id)}
        answers = trace.events("cloudfront.response", request_id=result.request_id)
        answer = answers[-1] if answers else {}
        origins = trace.events("cloudfront.origin", request_id=result.request_id)
        cache = answer.get("cache")
        stopped = answer.get("outcome") not in (None, "integration", "generated")
        rows = []
        for stage in STAGES:
            if stage in triggers:
                t = triggers[stage]
                what = t["outcome"] + (": " + "; ".join(t["changes"]) if t["changes"] else "")
                if t.get("detail"):
                    what += f" ({t['detail']})"
                rows.append({"stage": stage, "ran": True, "what": what})
            elif stage == "cache":
                ran = cache in ("Hit", "Miss")
                rows.append({"stage": stage, "ran": ran, "what": {
                    "Hit": "hit: answered from the cache", "Miss": "miss: go to the origin",
                    "LambdaGeneratedResponse": "not looked up: viewer-request answered"}.get(
                        cache, "not reached")})
            elif stage == "origin":
                if origins:
                    o = origins[-1]
                    rows.append({"stage": stage, "ran": True,
                                 "what": f"{o['method']} {o['uri']} -> {o['status']}"})
                else:
                    rows.append({"stage": stage, "ran": False,
                                 "what": "skipped: cache hit" if cache == "Hit"
                                 else "not reached"})
            else:
                rows.append({"stage": stage, "ran": False,
                             "what": self._why_skipped(stage, cache, result, stopped)})
        if stopped:
            rows.append({"stage": "CloudFront", "ran": True,
                         "what": f"answered {answer['status']} itself: {answer['outcome']} "
                                 f"({answer.get('detail')})"})
        return rows

    @staticmethod
    def _why_skipped(stage: str, cache, result: EdgeResult, stopped: bool) -> str:
        if stopped:
            return "not reached"
        if stage.startswith("origin-") and cache == "Hit":
            return "skipped: cache hit"
        if stage == "viewer-response" and (result.status or 0) >= 400:
            return "skipped: the origin answered 400 or more"
        return "not reached"

    def describe(self, result: EdgeResult | None = None) -> str:
        """The request's way, as text (for code cells and logs)."""
        result = result or (self.results[-1] if self.results else None)
        if result is None:
            return "Nothing sent yet."
        lines = [f"GET {result.path} (group {result.group}): {result.summary}"]
        for row in self.steps(result):
            mark = "ran " if row["ran"] else "--  "
            lines.append(f"  {mark}{row['stage']:<16} {row['what']}")
        return "\n".join(lines)
