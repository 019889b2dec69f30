"""HTTP requests through API Gateway beside direct synchronous invokes of the same function.

One lab, one warm function, four ways to call it, interleaved round by round so that
machine load hits all of them alike:

- a GET through a REST API (payload 1.0) with ``requests`` on a kept-alive connection;
- a GET through an HTTP API (payload 2.0), likewise;
- boto3 ``invoke`` (RequestResponse) with the event the REST API built, the way a
  program calls Lambda directly;
- the lab's Lambda service called in-process with the same event: the floor, no HTTP.

Target: the API adds at most 2 ms to the median, measured against the direct boto3 invoke;
the front door's whole cost (HTTP, routing, event, mapping) is also shown against the
in-process floor. Prints a table; ``BENCH`` lines feed ``tasks.py bench``. Exits 0
whether the target is met or not.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402
import requests  # noqa: E402

import helpers  # noqa: E402
from helpers.aws import ACCOUNT_ID  # noqa: E402

ROUNDS = 400
WARMUP = 30
TARGET_MS = 2.0
HANDLER = ("def lambda_handler(event, context):\n"
           "    return {'statusCode': 200, 'body': 'ok'}\n")
NAME = "bench-apigateway"


def build_apis(lab) -> tuple[str, str]:
    """(REST API URL, HTTP API URL) for GET /ping, both invoking NAME."""
    apigateway, apigatewayv2 = boto3.client("apigateway"), boto3.client("apigatewayv2")
    lambda_client = boto3.client("lambda")
    arn = lambda_client.get_function(FunctionName=NAME)["Configuration"]["FunctionArn"]
    uri = f"arn:aws:apigateway:{lab.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    rest_id = apigateway.create_rest_api(name="bench")["id"]
    root = apigateway.get_resources(restApiId=rest_id)["items"][0]["id"]
    ping = apigateway.create_resource(restApiId=rest_id, parentId=root, pathPart="ping")["id"]
    apigateway.put_method(restApiId=rest_id, resourceId=ping, httpMethod="GET",
                          authorizationType="NONE")
    apigateway.put_integration(restApiId=rest_id, resourceId=ping, httpMethod="GET",
                               type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    apigateway.create_deployment(restApiId=rest_id, stageName="bench")
    http_id = apigatewayv2.create_api(Name="bench", ProtocolType="HTTP")["ApiId"]
    integration = apigatewayv2.create_integration(
        ApiId=http_id, IntegrationType="AWS_PROXY", IntegrationUri=arn,
        PayloadFormatVersion="2.0")["IntegrationId"]
    apigatewayv2.create_route(ApiId=http_id, RouteKey="GET /ping",
                              Target=f"integrations/{integration}")
    apigatewayv2.create_stage(ApiId=http_id, StageName="$default", AutoDeploy=True)
    for api_id in (rest_id, http_id):
        lambda_client.add_permission(
            FunctionName=NAME, StatementId=f"bench-{api_id}", Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{lab.region}:{ACCOUNT_ID}:{api_id}/*")
    return (lab.api_url(rest_id, "bench") + "/ping", lab.api_url(http_id, "$default") + "/ping")


def main() -> int:
    lab = helpers.start_lab()
    try:
        lab.deploy(NAME, HANDLER)
        rest_url, http_url = build_apis(lab)
        session = requests.Session()
        lambda_client = boto3.client("lambda")
        first = session.get(rest_url)
        if first.status_code != 200:
            print(f"the REST API answered {first.status_code}: {first.text}")
            return 1
        request_id = first.headers["x-amzn-RequestId"]
        event = lab.trace.events("apigateway.request", request_id=request_id)[-1]["event"]
        payload = json.dumps(event).encode()
        spec = lab.cloud.functions.find(NAME, None, ACCOUNT_ID, lab.region)

        def rest():
            response = session.get(rest_url)
            assert response.status_code == 200 and response.text == "ok", response.text

        def http():
            response = session.get(http_url)
            assert response.status_code == 200 and response.text == "ok", response.text

        def direct():
            response = lambda_client.invoke(FunctionName=NAME, Payload=payload)
            response["Payload"].read()
            assert "FunctionError" not in response

        def in_process():
            lab.service.invoke(spec, payload, spec.arn)

        calls = {"REST API (HTTP GET)": rest, "HTTP API (HTTP GET)": http,
                 "boto3 invoke (direct)": direct, "lab service, in-process": in_process}
        timings = {label: [] for label in calls}
        for _ in range(WARMUP):
            for call in calls.values():
                call()
        for _ in range(ROUNDS):
            for label, call in calls.items():
                started = time.perf_counter()
                call()
                timings[label].append((time.perf_counter() - started) * 1000)
        environments = len(lab.environments(NAME))
    finally:
        lab.stop()

    medians = {label: statistics.median(values) for label, values in timings.items()}
    p90 = {label: statistics.quantiles(values, n=10)[-1] for label, values in timings.items()}
    direct_ms = medians["boto3 invoke (direct)"]
    floor_ms = medians["lab service, in-process"]
    print(f"{ROUNDS} interleaved rounds, one warm environment ({environments} alive)")
    print(f"{'call':28} {'median ms':>10} {'p90 ms':>8} {'vs boto3':>9} {'vs floor':>9}")
    for label in calls:
        print(f"{label:28} {medians[label]:10.2f} {p90[label]:8.2f} "
              f"{medians[label] / direct_ms:8.2f}x {medians[label] / floor_ms:8.2f}x")
    print(f"BENCH\tboto3 invoke, median\t{direct_ms:.2f} ms\t-\t-")
    print(f"BENCH\tlab service in-process, median\t{floor_ms:.2f} ms\t-\t-")
    for label in ("REST API (HTTP GET)", "HTTP API (HTTP GET)"):
        added = medians[label] - direct_ms
        front_door = medians[label] - floor_ms
        status = "PASS" if added <= TARGET_MS else "MISS"
        door_status = "PASS" if front_door <= TARGET_MS else "MISS"
        print(f"{label}: adds {added:+.2f} ms to a direct boto3 invoke "
              f"(target <= {TARGET_MS:.0f} ms): {status}; the front door's own cost over "
              f"the in-process floor: {front_door:.2f} ms: {door_status}")
        print(f"BENCH\t{label}, median\t{medians[label]:.2f} ms\t-\t-")
        print(f"BENCH\t{label}, added to boto3 invoke\t{added:+.2f} ms\t<= {TARGET_MS:.0f} ms"
              f"\t{status}")
        print(f"BENCH\t{label}, over in-process invoke\t{front_door:.2f} ms\t"
              f"<= {TARGET_MS:.0f} ms\t{door_status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
