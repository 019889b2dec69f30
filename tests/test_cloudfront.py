"""CloudFront with Lambda@Edge: distributions made with plain boto3 (cloudfront), called
with real HTTP on loopback, functions at the four triggers around a real cache (spec
event-shapes §8)."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from helpers.front_doors import cloudfront as edge
from helpers.front_doors.cloudfront_cache import (
    ALL_VIEWER,
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    MANAGED_CACHE_POLICIES,
    CachePolicy,
    time_to_live,
)

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}}]}

PASS = """
def lambda_handler(event, context):
    cf = event["Records"][0]["cf"]
    return cf.get("response") or cf["request"]
"""

# The request a viewer-request function saw, sent back as a generated response.
SHOW_EVENT = """
import json
def lambda_handler(event, context):
    return {"status": "200", "headers": {"content-type": [{"key": "Content-Type",
            "value": "application/json"}]}, "body": json.dumps(event)}
"""

REWRITE = """
def lambda_handler(event, context):
    request = event["Records"][0]["cf"]["request"]
    if request["uri"].endswith("/"):
        request["uri"] += "index.html"
    return request
"""

SECURITY_HEADERS = """
def lambda_handler(event, context):
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["strict-transport-security"] = [
        {"key": "Strict-Transport-Security", "value": "max-age=63072000"}]
    return response
"""


@pytest.fixture(scope="module")
def edge_role():
    import helpers

    helpers.start_lab()
    iam = boto3.client("iam")
    name = f"edge-{uuid.uuid4().hex[:8]}"
    return iam.create_role(RoleName=name,
                           AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


@pytest.fixture
def cloudfront(lab):
    return boto3.client("cloudfront")


@pytest.fixture
def edge_fn(deploy, edge_role):
    """Deploy ``source`` as an edge function; its numbered version's ARN."""

    def _deploy(source, **options):
        options.setdefault("role", edge_role)
        name = deploy(source, publish=True, **options)
        version = boto3.client("lambda").list_versions_by_function(
            FunctionName=name)["Versions"][-1]
        return version["FunctionArn"]

    return _deploy


class _Origin(BaseHTTPRequestHandler):
    """Echoes the request as JSON; ``/status/<n>`` answers n; ``?cache=<v>`` sets
    Cache-Control; ``/slow`` sleeps 2 s."""

    hits: list = []

    def _answer(self):
        type(self).hits.append(self.path)
        if self.path.startswith("/slow"):
            time.sleep(2)
        status = int(self.path.split("/status/")[1][:3]) if "/status/" in self.path else 200
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"path": self.path, "headers": dict(self.headers),
                           "body": self.rfile.read(length).decode("latin-1")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if "cache=" in self.path:
            self.send_header("Cache-Control", self.path.split("cache=")[1].split("&")[0])
        self.send_header("Content-Length", str(len(body)))
        try:
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the edge stopped waiting (the origin's read timeout)
            pass

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origin_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def association(arn: str, event_type: str, include_body: bool = False) -> dict:
    return {"LambdaFunctionARN": arn, "EventType": event_type, "IncludeBody": include_body}


def behaviour(origin_id: str, associations=(), policy=CACHING_OPTIMIZED, pattern=None,
              methods=("GET", "HEAD"), **extra) -> dict:
    config = {"TargetOriginId": origin_id, "ViewerProtocolPolicy": "allow-all",
              "CachePolicyId": policy,
              "AllowedMethods": {"Quantity": len(methods), "Items": list(methods),
                                 "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}},
              "LambdaFunctionAssociations": {"Quantity": len(associations),
                                             "Items": list(associations)}, **extra}
    if pattern is not None:
        config["PathPattern"] = pattern
    return config


def config(origin_port: int, default: dict, behaviours=(), bucket: str | None = None) -> dict:
    origins = [{"Id": "web", "DomainName": "127.0.0.1", "CustomOriginConfig": {
        "HTTPPort": origin_port, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only",
        "OriginReadTimeout": 1}}]
    if bucket is not None:
        origins.append({"Id": "bucket", "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""}})
    return {"CallerReference": uuid.uuid4().hex, "Comment": "", "Enabled": True,
            "Origins": {"Quantity": len(origins), "Items": origins},
            "DefaultCacheBehavior": default,
            "CacheBehaviors": {"Quantity": len(behaviours), "Items": list(behaviours)}}


@pytest.fixture
def distribution(lab, cloudfront, origin_server):
    """(distribution id, base URL) for a default behaviour with ``associations``."""

    def _make(associations=(), policy=CACHING_OPTIMIZED, behaviours=(), bucket=None,
              default_origin="web", **extra):
        created = cloudfront.create_distribution(DistributionConfig=config(
            origin_server.server_port, behaviour(default_origin, associations, policy,
                                                 **extra), behaviours, bucket))
        dist_id = created["Distribution"]["Id"]
        return dist_id, lab.cloudfront_url(dist_id)

    return _make


def triggers_of(lab, edge_request_id: str) -> list[str]:
    return [e.fields["event_type"] for e in lab.trace.events(kind="cloudfront.trigger")
            if e.fields["request_id"] == edge_request_id]


# -- the control plane ----------------------------------------------------------------------


def test_associations_are_kept_and_returned_by_create_get_and_update(
        cloudfront, distribution, edge_fn):
    arn = edge_fn(PASS)
    dist_id, _ = distribution([association(arn, "viewer-request"),
                               association(arn, "origin-request", include_body=True)],
                              behaviours=[behaviour("web", [association(
                                  arn, "origin-response")], pattern="/api/*")])
    got = cloudfront.get_distribution_config(Id=dist_id)
    patterned = got["DistributionConfig"]["CacheBehaviors"]["Items"][0]
    assert patterned["LambdaFunctionAssociations"]["Items"] == [
        association(arn, "origin-response")]
    items = got["DistributionConfig"]["DefaultCacheBehavior"]["LambdaFunctionAssociations"]
    assert items["Quantity"] == 2
    assert {(i["EventType"], i["IncludeBody"]) for i in items["Items"]} == {
        ("viewer-request", False), ("origin-request", True)}
    assert all(i["LambdaFunctionARN"] == arn for i in items["Items"])
    updated = got["DistributionConfig"]
    updated["DefaultCacheBehavior"]["LambdaFunctionAssociations"] = {
        "Quantity": 1, "Items": [association(arn, "viewer-response")]}
    answer = cloudfront.update_distribution(Id=dist_id, IfMatch=got["ETag"],
                                            DistributionConfig=updated)
    kept = answer["Distribution"]["DistributionConfig"]["DefaultCacheBehavior"][
        "LambdaFunctionAssociations"]
    assert [i["EventType"] for i in kept["Items"]] == ["viewer-response"]


@pytest.mark.parametrize("qualifier", ["$LATEST", "live", None])
def test_an_association_needs_a_numbered_version(cloudfront, distribution, edge_fn,
                                                 qualifier):
    arn = edge_fn(PASS)
    name = arn.split(":")[6]
    if qualifier == "live":
        boto3.client("lambda").create_alias(FunctionName=name, Name="live",
                                            FunctionVersion="1")
    unqualified = arn.rsplit(":", 1)[0]
    target = unqualified if qualifier is None else f"{unqualified}:{qualifier}"
    with pytest.raises(ClientError) as refused:
        distribution([association(target, "viewer-request")])
    assert refused.value.response["Error"]["Code"] == "InvalidLambdaFunctionAssociation"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "specific function version" in refused.value.response["Error"]["Message"]


def test_an_association_needs_us_east_1_and_a_role_edgelambda_may_assume(
        lab, distribution, edge_fn, edge_role):
    from helpers.deploy import zip_source

    west = boto3.client("lambda", region_name="us-west-2")
    fn = west.create_function(FunctionName=f"west-{uuid.uuid4().hex[:6]}", Runtime="python3.12",
                              Role=edge_role, Handler="lambda_function.lambda_handler",
                              Code={"ZipFile": zip_source({"lambda_function.py": PASS})},
                              Publish=True)
    with pytest.raises(ClientError) as refused:
        distribution([association(f"{fn['FunctionArn'].removesuffix(':1')}:1",
                                  "viewer-request")])
    assert refused.value.response["Error"]["Code"] == "InvalidLambdaFunctionAssociation"
    assert "us-east-1" in refused.value.response["Error"]["Message"]
    lambda_only = edge_fn(PASS, role=None)  # the lab's role: lambda.amazonaws.com only
    with pytest.raises(ClientError) as refused:
        distribution([association(lambda_only, "viewer-request")])
    assert refused.value.response["Error"]["Code"] == "InvalidLambdaFunctionAssociation"
    assert "edgelambda.amazonaws.com" in refused.value.response["Error"]["Message"]


def test_the_lab_role_is_refused_but_the_same_code_with_an_edge_role_is_accepted(
        distribution, deploy, edge_role):
    client = boto3.client("lambda")
    name = deploy(PASS, publish=True)
    with pytest.raises(ClientError) as refused:
        distribution([association(
            client.get_function(FunctionName=name, Qualifier="1")["Configuration"][
                "FunctionArn"], "viewer-request")])
    assert "edgelambda" in refused.value.response["Error"]["Message"]
    client.update_function_configuration(FunctionName=name, Role=edge_role)
    version = client.publish_version(FunctionName=name)
    dist_id, _ = distribution([association(version["FunctionArn"], "viewer-request")])
    assert dist_id


@pytest.mark.parametrize("options,event_type,words", [
    ({"environment": {"COLOUR": "blue"}}, "origin-request", "environment variables"),
    ({"memory_size": 256}, "viewer-request", "128 MB"),
    ({"timeout": 10}, "viewer-response", "5 seconds"),
    ({"timeout": 31}, "origin-response", "30 seconds"),
])
def test_edge_limits_are_checked_when_the_function_is_associated(
        distribution, edge_fn, options, event_type, words):
    arn = edge_fn(PASS, **options)
    with pytest.raises(ClientError) as refused:
        distribution([association(arn, event_type)])
    assert refused.value.response["Error"]["Code"] == "InvalidLambdaFunctionAssociation"
    assert words in refused.value.response["Error"]["Message"]


def test_an_unknown_cache_policy_is_refused(distribution):
    with pytest.raises(ClientError) as refused:
        distribution(policy="00000000-0000-0000-0000-000000000000")
    assert refused.value.response["Error"]["Code"] == "NoSuchCachePolicy"


@pytest.mark.parametrize("headers,seconds", [
    ([], 86400),  # the origin says nothing: the default TTL
    ([("Cache-Control", "max-age=0")], 1),  # held at the minimum TTL
    ([("Cache-Control", "public, max-age=120")], 120),
    ([("Cache-Control", "max-age=120, s-maxage=30")], 30),  # s-maxage is for CloudFront
    ([("Cache-Control", "no-store")], 1),
    ([("Cache-Control", "max-age=99999999")], 31536000),  # held at the maximum TTL
    ([("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")], 1),
])
def test_time_to_live_follows_the_policy_and_the_origin(headers, seconds):
    assert time_to_live(MANAGED_CACHE_POLICIES[CACHING_OPTIMIZED], headers) == seconds


def test_caching_disabled_caches_nothing_whatever_the_origin_says():
    disabled = MANAGED_CACHE_POLICIES[CACHING_DISABLED]
    assert time_to_live(disabled, [("Cache-Control", "max-age=600")]) == 0
    assert time_to_live(CachePolicy("legacy", 0, 0, 600, False, False), []) == 0


# -- the request path -----------------------------------------------------------------------


def test_the_cache_answers_a_hit_and_skips_the_origin_triggers(lab, distribution, edge_fn):
    viewer, origin = edge_fn(REWRITE), edge_fn(SECURITY_HEADERS)
    _Origin.hits.clear()
    _, url = distribution([association(viewer, "viewer-request"),
                           association(origin, "origin-response"),
                           association(edge_fn(PASS), "viewer-response")])
    first = requests.get(url + "/docs/?cache=max-age=60")  # the query is not sent
    assert first.status_code == 200, first.text
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    assert first.json()["path"] == "/docs/index.html"  # rewritten; no query (not in the key)
    assert first.headers["Strict-Transport-Security"] == "max-age=63072000"
    second = requests.get(url + "/docs/?other=1")
    assert second.headers["X-Cache"] == "Hit from cloudfront"
    assert second.json() == first.json()
    assert second.headers["Strict-Transport-Security"] == "max-age=63072000"  # cached as changed
    assert _Origin.hits == ["/docs/index.html"]
    assert triggers_of(lab, first.headers["X-Amz-Cf-Id"]) == [
        "viewer-request", "origin-response", "viewer-response"]
    assert triggers_of(lab, second.headers["X-Amz-Cf-Id"]) == [
        "viewer-request", "viewer-response"]


def test_caching_disabled_always_goes_to_the_origin(distribution):
    _Origin.hits.clear()
    _, url = distribution(policy=CACHING_DISABLED)
    answers = [requests.get(url + "/page?cache=max-age=600") for _ in range(2)]
    assert [a.headers["X-Cache"] for a in answers] == ["Miss from cloudfront"] * 2
    assert len(_Origin.hits) == 2


def test_max_age_expires_and_an_invalidation_empties_the_cache(cloudfront, distribution):
    # AllViewer sends the query string to the origin (CachingOptimized alone does not)
    dist_id, url = distribution(OriginRequestPolicyId=ALL_VIEWER)
    assert requests.get(url + "/a?cache=max-age=1").headers["X-Cache"] == "Miss from cloudfront"
    assert requests.get(url + "/a").headers["X-Cache"] == "Hit from cloudfront"
    time.sleep(1.1)
    assert requests.get(url + "/a").headers["X-Cache"] == "Miss from cloudfront"
    requests.get(url + "/b/one?cache=max-age=600")
    assert requests.get(url + "/b/one").headers["X-Cache"] == "Hit from cloudfront"
    done = cloudfront.create_invalidation(DistributionId=dist_id, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/b/*"]}, "CallerReference": uuid.uuid4().hex})
    assert done["Invalidation"]["Id"]
    assert requests.get(url + "/b/one").headers["X-Cache"] == "Miss from cloudfront"


def test_path_patterns_choose_the_behaviour_and_an_s3_origin_serves_a_bucket(
        lab, distribution, edge_fn):
    s3 = boto3.client("s3")
    bucket = f"site-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="img/logo.txt", Body=b"logo", ContentType="text/plain")
    _, url = distribution(behaviours=[behaviour("bucket", pattern="/img/*")], bucket=bucket)
    answer = requests.get(url + "/img/logo.txt")
    assert answer.status_code == 200 and answer.text == "logo"
    assert answer.headers["Content-Type"] == "text/plain"
    assert requests.get(url + "/img/none.txt").status_code == 404
    assert requests.get(url + "/other").json()["path"] == "/other"  # the default: web


def test_generated_responses_viewer_not_cached_origin_cached(lab, distribution, edge_fn):
    generate = """
def lambda_handler(event, context):
    return {"status": "302", "statusDescription": "Found",
            "headers": {"location": [{"key": "Location", "value": "/new"}]}}
"""
    viewer_response = edge_fn(SECURITY_HEADERS)
    _, url = distribution([association(edge_fn(generate), "viewer-request"),
                           association(viewer_response, "viewer-response")])
    first = requests.get(url + "/old", allow_redirects=False)
    assert first.status_code == 302 and first.headers["Location"] == "/new"
    assert first.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"
    assert "Strict-Transport-Security" not in first.headers  # viewer-response did not run
    _Origin.hits.clear()
    _, url = distribution([association(edge_fn(generate), "origin-request")])
    answers = [requests.get(url + "/old", allow_redirects=False) for _ in range(2)]
    assert [a.status_code for a in answers] == [302, 302]
    assert [a.headers["X-Cache"] for a in answers] == ["Miss from cloudfront",
                                                      "Hit from cloudfront"]
    assert _Origin.hits == []


def test_viewer_response_skips_origin_errors_and_cannot_change_the_status(
        lab, distribution, edge_fn):
    set_status = """
def lambda_handler(event, context):
    response = event["Records"][0]["cf"]["response"]
    response["status"] = "201"
    response["headers"]["x-seen"] = [{"key": "X-Seen", "value": "yes"}]
    return response
"""
    _, url = distribution([association(edge_fn(set_status), "viewer-response")],
                          policy=CACHING_DISABLED)
    ok = requests.get(url + "/fine")
    assert ok.status_code == 200 and ok.headers["X-Seen"] == "yes"
    missing = requests.get(url + "/status/404")
    assert missing.status_code == 404 and "X-Seen" not in missing.headers
    assert triggers_of(lab, missing.headers["X-Amz-Cf-Id"]) == []


def test_origin_response_runs_for_origin_errors_and_may_change_the_status(
        distribution, edge_fn):
    mend = """
def lambda_handler(event, context):
    response = event["Records"][0]["cf"]["response"]
    if response["status"] == "500":
        response["status"] = "200"
        response["statusDescription"] = "OK"
        response["body"] = "fallback"
        response["headers"]["content-type"] = [{"key": "Content-Type", "value": "text/plain"}]
    return response
"""
    _, url = distribution([association(edge_fn(mend), "origin-response")],
                          policy=CACHING_DISABLED)
    answer = requests.get(url + "/status/500")
    assert answer.status_code == 200 and answer.text == "fallback"


# -- what CloudFront refuses ----------------------------------------------------------------


@pytest.mark.parametrize("event_type,body", [
    ("viewer-request", 'request["headers"]["host"] = [{"key": "Host", "value": "evil"}]'),
    ("origin-request", 'request["headers"]["via"] = [{"key": "Via", "value": "me"}]'),
    ("viewer-request", 'request["headers"]["x-cache"] = [{"key": "X-Cache", "value": "x"}]'),
    ("viewer-request", 'request["headers"]["X-Mixed"] = [{"key": "X-Mixed", "value": "x"}]'),
    ("viewer-request", 'request = "not an object"'),
    ("viewer-request", 'request = {"status": "200", "body": "x" * 41000}'),
    ("viewer-request", 'request = {"status": "204", "body": "a 204 has no body"}'),
    ("viewer-request", 'request["uri"] = "/" + "a" * 8200'),
    ("origin-response", 'request = {"status": "700"}'),
])
def test_answers_cloudfront_refuses_are_502(lab, distribution, edge_fn, event_type, body):
    source = f"""
def lambda_handler(event, context):
    cf = event["Records"][0]["cf"]
    request = cf.get("response") or cf["request"]
    {body}
    return request
"""
    _, url = distribution([association(edge_fn(source), event_type)], policy=CACHING_DISABLED)
    answer = requests.get(url + "/x")
    assert answer.status_code == 502, answer.text
    assert answer.headers["X-Cache"] == "Error from cloudfront"
    record = lab.trace.events(kind="cloudfront.response")[-1]
    assert record.fields["outcome"] == "invalid", record.fields["detail"]


def test_a_function_error_a_timeout_and_a_throttle_are_503(lab, distribution, edge_fn,
                                                           monkeypatch):
    raising = edge_fn("def lambda_handler(event, context):\n    raise ValueError('no')\n")
    _, url = distribution([association(raising, "viewer-request")])
    assert requests.get(url + "/x").status_code == 503
    assert lab.trace.events(kind="cloudfront.response")[-1].fields["outcome"] == \
        "function_error"
    slow = edge_fn("import time\ndef lambda_handler(event, context):\n    time.sleep(2)\n"
                   "    return event['Records'][0]['cf']['request']\n", timeout=5)
    monkeypatch.setitem(edge.TRIGGER_TIMEOUTS, "viewer", 0.5)  # the 5 s limit, shortened
    _, url = distribution([association(slow, "viewer-request")])
    assert requests.get(url + "/x").status_code == 503
    assert lab.trace.events(kind="cloudfront.response")[-1].fields["outcome"] == "timeout"
    throttled = edge_fn(PASS)
    boto3.client("lambda").put_function_concurrency(
        FunctionName=throttled.split(":")[6], ReservedConcurrentExecutions=0)
    _, url = distribution([association(throttled, "viewer-request")])
    assert requests.get(url + "/x").status_code == 503
    assert lab.trace.events(kind="cloudfront.response")[-1].fields["outcome"] == "throttled"


def test_include_body_gives_the_body_base64_and_truncates_it(distribution, edge_fn):
    # answers with the body object it got, the data decoded to its length
    show_body = """
import base64, json
def lambda_handler(event, context):
    body = dict(event["Records"][0]["cf"]["request"].get("body") or {})
    body["data"] = base64.b64decode(body.get("data", "")).decode()[:8]
    body["length"] = len(base64.b64decode(event["Records"][0]["cf"]["request"].get(
        "body", {}).get("data", "")))
    return {"status": "200", "body": json.dumps(body)}
"""
    _, url = distribution([association(edge_fn(show_body), "viewer-request",
                                       include_body=True)],
                          methods=("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH",
                                   "DELETE"))
    small = requests.post(url + "/form", data=b"a=1").json()
    assert small == {"inputTruncated": False, "action": "read-only", "encoding": "base64",
                     "data": "a=1", "length": 3}
    large = requests.post(url + "/form", data=b"x" * 50_000).json()
    assert large["inputTruncated"] is True and large["length"] == 40 * 1024
    assert requests.post(url + "/form").json()["length"] == 0


def test_the_events_carry_what_cloudfront_sends(lab, distribution, edge_fn):
    viewer = edge_fn(PASS)
    origin = edge_fn(PASS)
    dist_id, url = distribution([association(viewer, "viewer-request"),
                                 association(origin, "origin-request"),
                                 association(origin, "origin-response")],
                                policy=CACHING_DISABLED)
    answer = requests.get(url + "/shape?q=1", headers={"X-Custom": "v"})
    assert answer.status_code == 200
    events = {e.fields["event_type"]: e.fields["event"]
              for e in lab.trace.events(kind="cloudfront.trigger")
              if e.fields["request_id"] == answer.headers["X-Amz-Cf-Id"]}
    assert set(events) == {"viewer-request", "origin-request", "origin-response"}
    vr = events["viewer-request"]["Records"][0]["cf"]
    assert vr["config"]["distributionId"] == dist_id
    assert vr["config"]["eventType"] == "viewer-request"
    assert vr["config"]["requestId"] == answer.headers["X-Amz-Cf-Id"]
    assert vr["config"]["distributionDomainName"].endswith(".cloudfront.net")
    assert vr["request"]["uri"] == "/shape" and vr["request"]["querystring"] == "q=1"
    assert vr["request"]["headers"]["x-custom"] == [{"key": "X-Custom", "value": "v"}]
    assert vr["request"]["headers"]["host"][0]["value"] == vr["config"][
        "distributionDomainName"]
    assert "origin" not in vr["request"] and "response" not in vr
    orq = events["origin-request"]["Records"][0]["cf"]["request"]
    assert orq["origin"]["custom"]["domainName"] == "127.0.0.1"
    ors = events["origin-response"]["Records"][0]["cf"]
    assert ors["response"]["status"] == "200" and "body" not in ors["response"]


def test_a_slow_origin_is_504_and_one_that_cannot_be_reached_502(lab, cloudfront, distribution):
    _, url = distribution(policy=CACHING_DISABLED)
    slow = requests.get(url + "/slow")  # the origin's read timeout is 1 s
    assert slow.status_code == 504 and slow.headers["X-Cache"] == "Error from cloudfront"
    assert lab.trace.events("cloudfront.response")[-1]["outcome"] == "origin_timeout"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    made = cloudfront.create_distribution(DistributionConfig=config(
        port, behaviour("web", policy=CACHING_DISABLED)))["Distribution"]["Id"]
    answer = requests.get(lab.cloudfront_url(made) + "/x")
    assert answer.status_code == 502
    assert lab.trace.events("cloudfront.response")[-1]["outcome"] == "origin_error"


def test_an_origin_request_function_may_send_the_request_to_another_origin(
        distribution, edge_fn):
    s3 = boto3.client("s3")
    bucket = f"other-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="page", Body=b"from the bucket")
    to_bucket = f"""
def lambda_handler(event, context):
    request = event["Records"][0]["cf"]["request"]
    request["origin"] = {{"s3": {{"domainName": "{bucket}.s3.us-east-1.amazonaws.com",
                                "authMethod": "none", "path": "", "region": "us-east-1",
                                "customHeaders": {{}}}}}}
    request["headers"]["host"] = [{{"key": "Host", "value": "{bucket}.s3.amazonaws.com"}}]
    return request
"""
    _, url = distribution([association(edge_fn(to_bucket), "origin-request")],
                          policy=CACHING_DISABLED)
    answer = requests.get(url + "/page")
    assert answer.status_code == 200 and answer.text == "from the bucket"
