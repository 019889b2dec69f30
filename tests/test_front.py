"""The front: one endpoint for every AWS API call, signed requests only (issue 12).

Through plain boto3 and raw HTTP: which operation a request calls, keep-alive, SigV4
checked on every request (unsigned, unknown keys and bad signatures refused with each
service's own error), and the lab's hooks never failing a request.
"""

from __future__ import annotations

import json
import re
import uuid

import boto3
import botocore.session
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from helpers.cloud import operations

SERVICES = ("lambda", "s3", "apigateway", "apigatewayv2")


def synthetic_request(model, name):
    """A request as botocore would send it for ``name``, with every required part."""
    op = model.operation_model(name)
    path, _, literal = op.http["requestUri"].partition("?")
    path = re.sub(r"\{[^}+]+\+\}", "a/b", path)
    path = re.sub(r"\{[^}]+\}", "x", path)
    query = dict(part.partition("=")[::2] for part in literal.split("&") if part)
    headers = {}
    if op.input_shape is not None:
        for member in op.input_shape.required_members:
            shape = op.input_shape.members[member]
            wire = shape.serialization.get("name", member)
            if shape.serialization.get("location") == "querystring":
                query[wire] = "1"
            elif shape.serialization.get("location") == "header":
                headers[wire.lower()] = "1"
    query_string = "&".join(f"{k}={v}" if v else k for k, v in query.items())
    return op.http["method"], path, query_string, headers


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_of_a_rest_service_is_told_apart(service):
    model = botocore.session.get_session().get_service_model(service)
    names = [n for n in model.operation_names if not model.operation_model(n).deprecated]
    assert len(names) > 50, f"{service}: found only {len(names)} operations"
    wrong = []
    for name in names:
        method, path, query, headers = synthetic_request(model, name)
        found = operations.identify(service, method, path, query, headers.get, b"")
        if found is None or found.name != name:
            wrong.append((name, found and found.name))
    # S3's ListDirectoryBuckets differs from ListBuckets only by its host (S3 Express).
    assert wrong in ([], [("ListDirectoryBuckets", "ListBuckets")]), wrong


def test_json_and_query_operations_are_read_from_the_target_and_action():
    assert operations.identify("sqs", "POST", "/", "", {
        "x-amz-target": "AmazonSQS.SendMessage"}.get, b"").name == "SendMessage"
    assert operations.identify("sns", "POST", "/", "", {}.get,
                               b"Action=Publish&Version=2010-03-31").name == "Publish"
    assert operations.identify("lambda", "POST",
                               "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A"
                               "123456789012%3Afunction%3Amy-fn/invocations", "", {}.get,
                               b"").params == {
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:my-fn"}


def test_one_client_keeps_one_connection(lab):
    server = lab.cloud.front.server
    client = boto3.client("sqs")
    before = server.connections_accepted
    for n in range(100):
        client.list_queues(QueueNamePrefix=f"none-{n}")
    assert server.connections_accepted - before == 1


def signed(method: str, url: str, service: str, key: str, secret: str, body: bytes = b"",
           headers: dict | None = None, token: str | None = None) -> requests.Response:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(key, secret, token), service, "us-east-1").add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers), timeout=10)


def test_unsigned_and_wrongly_signed_requests_are_refused_and_run_nothing(lab, deploy):
    name = deploy("def lambda_handler(event, context):\n    return 'ran'\n")
    url = f"{lab.endpoint_url}/2015-03-31/functions/{name}/invocations"
    key, secret = lab._credentials
    token = lab._session_token
    answers = {
        "unsigned": requests.post(url, data=b"{}", timeout=10),
        "unknown key": signed("POST", url, "lambda", "AKIAIOSFODNN7EXAMPLE", secret, b"{}"),
        "wrong secret": signed("POST", url, "lambda", key, "not-the-secret", b"{}",
                               token=token),
    }
    expected = {"unsigned": "MissingAuthenticationTokenException",
                "unknown key": "UnrecognizedClientException",
                "wrong secret": "InvalidSignatureException"}
    for case, answer in answers.items():
        assert answer.status_code == 403, (case, answer.text)
        assert answer.headers["x-amzn-ErrorType"] == expected[case], case
        assert "ran" not in answer.text
    assert lab.trace.events("attempt.start", function=f"arn:aws:lambda:us-east-1:"
                            f"123456789012:function:{name}") == []
    good = signed("POST", url, "lambda", key, secret, b"{}", token=token)
    assert good.status_code == 200 and good.json() == "ran"


def test_each_service_refuses_a_bad_signature_in_its_own_words(lab):
    key = lab._credentials[0]
    bad = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key="wrong",
                                aws_session_token=lab._session_token)
    config = Config(retries={"total_max_attempts": 1})
    cases = [
        (lambda: bad.client("s3", config=config).list_buckets(), "SignatureDoesNotMatch"),
        (lambda: bad.client("sns", config=config).list_topics(), "SignatureDoesNotMatch"),
        (lambda: bad.client("sqs", config=config).list_queues(), "InvalidSignatureException"),
        (lambda: bad.client("lambda", config=config).list_functions(),
         "InvalidSignatureException"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == code
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_iam_users_access_key_made_in_the_lab_signs_requests(lab):
    iam = boto3.client("iam")
    user = f"signer-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    access = iam.create_access_key(UserName=user)["AccessKey"]
    s3 = boto3.client("s3", aws_access_key_id=access["AccessKeyId"],
                      aws_secret_access_key=access["SecretAccessKey"],
                      aws_session_token=None)
    bucket = f"signed-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                    ExpiresIn=60)
    assert requests.get(url, timeout=10).content == b"v"
    later = url.replace("Expires=", "Expires=1")  # a URL presigned by boto3: Signature V2
    assert requests.get(later, timeout=10).status_code == 403
    v4 = boto3.client("s3", aws_access_key_id=access["AccessKeyId"],
                      aws_secret_access_key=access["SecretAccessKey"], aws_session_token=None,
                      config=Config(signature_version="s3v4"))
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                    ExpiresIn=60)
    assert requests.get(url, timeout=10).content == b"v"
    assert requests.get(url + "&extra=1", timeout=10).status_code == 403
    iam.update_access_key(UserName=user, AccessKeyId=access["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as refused:
        s3.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_moto_s_own_api_is_not_reachable(lab):
    answer = requests.post(f"{lab.endpoint_url}/moto-api/reset", timeout=10)
    assert answer.status_code == 403
    assert boto3.client("lambda").list_functions() is not None  # nothing was reset


def test_an_observer_that_fails_never_fails_the_request(lab):
    def broken(request, response):
        raise RuntimeError("observer bug")

    lab.cloud.front.after("sqs", "ListQueues", broken)
    try:
        boto3.client("sqs").list_queues()
    finally:
        lab.cloud.front._after[("sqs", "ListQueues")].remove(broken)
    errors = lab.trace.events("front.hook_error", operation="ListQueues")
    assert errors and "observer bug" in errors[-1]["error"]


def test_a_body_over_the_front_s_limit_is_answered_without_being_kept(lab):
    from helpers.cloud.front import MAX_BODY

    key, secret = lab._credentials
    url = f"{lab.endpoint_url}/2015-03-31/functions/any/invocations"
    request = AWSRequest(method="POST", url=url, data=b"",
                         headers={"Content-Length": str(MAX_BODY + 1)})
    SigV4Auth(Credentials(key, secret, lab._session_token), "lambda",
              "us-east-1").add_auth(request)
    import socket

    host, port = lab.endpoint_url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        head = ["POST /2015-03-31/functions/any/invocations HTTP/1.1", f"Host: {host}:{port}"]
        head += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b"x" * 70)
        answer = connection.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "RequestEntityTooLargeException" in answer
    assert json.loads(answer.split("\r\n\r\n", 1)[1])["message"].startswith("Request must be")
