"""HTTP requests through an Application Load Balancer and a function URL beside direct
synchronous invokes of the same function.

One lab, one warm function, four ways to call it, interleaved round by round so that
machine load hits all of them alike:

- a GET through an ALB listener (one rule, forward to a Lambda target group) with
  ``requests`` on a kept-alive connection;
- a GET through the function's URL (auth type NONE, both permissions), likewise;
- boto3 ``invoke`` (RequestResponse) with the event the ALB built, the way a program calls
  Lambda directly;
- the lab's Lambda service called in-process with the same event: the floor, no HTTP.

Target: each front door adds at most 1 ms to the median, measured against the direct
boto3 invoke; its whole cost (HTTP, routing or permissions, event, mapping) is also shown
against the in-process floor. Prints a table; ``BENCH`` lines feed ``tasks.py bench``.
Exits 0 whether the target is met or not.
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
TARGET_MS = 1.0
HANDLER = ("def lambda_handler(event, context):\n"
           "    return {'statusCode': 200, 'body': 'ok'}\n")
NAME = "bench-front-doors"


def build_alb(lab, arn: str) -> str:
    """The URL of GET /ping on a listener whose rule forwards to NAME."""
    elbv2, lambda_client = boto3.client("elbv2"), boto3.client("lambda")
    subnets = [s["SubnetId"] for s in boto3.client("ec2").describe_subnets()["Subnets"]][:2]
    balancer = elbv2.create_load_balancer(Name="bench", Subnets=subnets)["LoadBalancers"][0]
    group = elbv2.create_target_group(Name="bench", TargetType="lambda")["TargetGroups"][0]
    lambda_client.add_permission(FunctionName=NAME, StatementId="bench-alb",
                                 Action="lambda:InvokeFunction",
                                 Principal="elasticloadbalancing.amazonaws.com",
                                 SourceArn=group["TargetGroupArn"])
    elbv2.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": arn}])
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "404", "ContentType": "text/plain"}}])["Listeners"][0]
    elbv2.create_rule(ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/ping"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}])
    return lab.alb_url(balancer["LoadBalancerArn"]) + "/ping"


def build_url(lab) -> str:
    lambda_client = boto3.client("lambda")
    lambda_client.create_function_url_config(FunctionName=NAME, AuthType="NONE")
    lambda_client.add_permission(FunctionName=NAME, StatementId="bench-url",
                                 Action="lambda:InvokeFunctionUrl", Principal="*",
                                 FunctionUrlAuthType="NONE")
    lambda_client.add_permission(FunctionName=NAME, StatementId="bench-url-invoke",
                                 Action="lambda:InvokeFunction", Principal="*",
                                 InvokedViaFunctionUrl=True)
    return lab.function_url(NAME) + "/ping"


def main() -> int:
    lab = helpers.start_lab()
    try:
        lab.deploy(NAME, HANDLER)
        lambda_client = boto3.client("lambda")
        arn = lambda_client.get_function(FunctionName=NAME)["Configuration"]["FunctionArn"]
        alb_url, function_url = build_alb(lab, arn), build_url(lab)
        session = requests.Session()
        first = session.get(alb_url)
        if first.status_code != 200:
            print(f"the load balancer answered {first.status_code}: {first.text}")
            return 1
        event = lab.trace.events("alb.request")[-1]["event"]
        payload = json.dumps(event).encode()
        spec = lab.cloud.functions.find(NAME, None, ACCOUNT_ID, lab.region)

        def alb():
            response = session.get(alb_url)
            assert response.status_code == 200 and response.text == "ok", response.text

        def url():
            response = session.get(function_url)
            assert response.status_code == 200 and response.text == "ok", response.text

        def direct():
            response = lambda_client.invoke(FunctionName=NAME, Payload=payload)
            response["Payload"].read()
            assert "FunctionError" not in response

        def in_process():
            lab.service.invoke(spec, payload, spec.arn)

        calls = {"ALB (HTTP GET)": alb, "function URL (HTTP GET)": url,
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
    for label in ("ALB (HTTP GET)", "function URL (HTTP GET)"):
        added = medians[label] - direct_ms
        front_door = medians[label] - floor_ms
        status = "PASS" if added <= TARGET_MS else "MISS"
        print(f"{label}: adds {added:+.2f} ms to a direct boto3 invoke "
              f"(target <= {TARGET_MS:.0f} ms): {status}; the front door's own cost over "
              f"the in-process floor: {front_door:.2f} ms")
        print(f"BENCH\t{label}, median\t{medians[label]:.2f} ms\t-\t-")
        print(f"BENCH\t{label}, added to boto3 invoke\t{added:+.2f} ms\t<= {TARGET_MS:.0f} ms"
              f"\t{status}")
        print(f"BENCH\t{label}, over in-process invoke\t{front_door:.2f} ms\t-\t-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
