"""Several labs on one machine, as JupyterHub runs one per learner's kernel (issue 22,
item 7; benchmarks/workshop_benchmark.py runs 20 and measures them): each works, and
none can use another's functions or data.
"""

import json
import subprocess
import sys
import textwrap

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

LABS = 3
KERNEL = textwrap.dedent("""
    import json, sys, boto3, helpers
    lab = helpers.start_lab()
    lab.deploy("mine", "def lambda_handler(e, c):\\n    return 'mine'\\n")
    boto3.client("s3").create_bucket(Bucket="private-data")
    assert boto3.client("lambda").invoke(FunctionName="mine")["Payload"].read() == b'"mine"'
    key, secret = lab._credentials
    print(json.dumps({"endpoint": lab.endpoint_url, "key": key, "secret": secret,
                      "token": lab._session_token}), flush=True)
    request = sys.stdin.readline()  # another lab's endpoint: may this lab's function reach it?
    lab.deploy("reach", "import json, urllib.request\\n"
               "def lambda_handler(e, c):\\n"
               "    try:\\n"
               "        return urllib.request.urlopen(e['url'], timeout=3).status\\n"
               "    except Exception as error:\\n"
               "        return type(error).__name__ + ': ' + str(getattr(error, 'code', ''))\\n",
               timeout=10)
    answer = boto3.client("lambda").invoke(FunctionName="reach", Payload=request)
    print(answer["Payload"].read().decode(), flush=True)
    sys.stdin.readline()
    lab.stop()
""")


def client_for(lab: dict, endpoint: str, service: str = "lambda"):
    return boto3.session.Session(
        aws_access_key_id=lab["key"], aws_secret_access_key=lab["secret"],
        aws_session_token=lab["token"], region_name="us-east-1").client(
        service, endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def labs():
    kernels = [subprocess.Popen([sys.executable, "-c", KERNEL], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for _ in range(LABS)]
    try:
        started = [json.loads(kernel.stdout.readline()) for kernel in kernels]
        yield kernels, started
    finally:
        for kernel in kernels:
            if kernel.poll() is None:
                kernel.kill()
                kernel.wait()


def test_each_lab_works_and_refuses_the_others_credentials(labs):
    kernels, started = labs
    for index, lab in enumerate(started):
        own = client_for(lab, lab["endpoint"])
        assert own.invoke(FunctionName="mine")["Payload"].read() == b'"mine"'
        other = started[(index + 1) % LABS]
        for service, call in (("lambda", lambda c: c.invoke(FunctionName="mine")),
                              ("s3", lambda c: c.list_objects_v2(Bucket="private-data"))):
            with pytest.raises(ClientError) as refused:
                call(client_for(lab, other["endpoint"], service))
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_function_cannot_call_another_lab(labs):
    kernels, started = labs
    for index, kernel in enumerate(kernels):
        other = started[(index + 1) % LABS]
        url = other["endpoint"] + "/2015-03-31/functions/mine/invocations"
        kernel.stdin.write(json.dumps({"url": url}) + "\n")
        kernel.stdin.flush()
    answers = [json.loads(kernel.stdout.readline()) for kernel in kernels]
    for kernel in kernels:
        kernel.stdin.write("\n")
        kernel.stdin.flush()
        kernel.wait(timeout=30)
    for answer in answers:
        # In a sandbox the other lab is not even there; as a plain process its front
        # refuses the request (unsigned): either way nothing of the other lab runs.
        assert answer.startswith(("URLError", "HTTPError: 403")), answer
