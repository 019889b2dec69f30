"""Only the lab's own clients are served (helpers/cloud/signatures.py): for every AWS API the
course uses, an unsigned request, an unknown key and a wrong secret are refused with the
service's 403 and change nothing; the HTTP front doors stay open, as AWS's are.
"""

import uuid

import boto3
import botocore
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

NO_RETRY = {"retries": {"total_max_attempts": 1}}
RUN = uuid.uuid4().hex[:8]

# service -> (an operation that creates something, how to list what exists)
CASES = {
    "lambda": (lambda c: c.create_function(
        FunctionName=f"sig-{RUN}", Role="arn:aws:iam::123456789012:role/r",
        Runtime="python3.12", Handler="a.b", Code={"ZipFile": b"PK\x05\x06" + bytes(18)}),
        lambda c: [f["FunctionName"] for f in c.list_functions()["Functions"]]),
    "s3": (lambda c: c.create_bucket(Bucket=f"sig-{RUN}"),
           lambda c: [b["Name"] for b in c.list_buckets()["Buckets"]]),
    "sqs": (lambda c: c.create_queue(QueueName=f"sig-{RUN}"),
            lambda c: c.list_queues().get("QueueUrls", [])),
    "sns": (lambda c: c.create_topic(Name=f"sig-{RUN}"),
            lambda c: [t["TopicArn"] for t in c.list_topics()["Topics"]]),
    "iam": (lambda c: c.create_user(UserName=f"sig-{RUN}"),
            lambda c: [u["UserName"] for u in c.list_users()["Users"]]),
    "logs": (lambda c: c.create_log_group(logGroupName=f"sig-{RUN}"),
             lambda c: [g["logGroupName"] for g in c.describe_log_groups()["logGroups"]]),
    "dynamodb": (lambda c: c.create_table(
        TableName=f"sig-{RUN}", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}]),
        lambda c: c.list_tables()["TableNames"]),
    "kinesis": (lambda c: c.create_stream(StreamName=f"sig-{RUN}", ShardCount=1),
                lambda c: c.list_streams()["StreamNames"]),
    "events": (lambda c: c.create_event_bus(Name=f"sig-{RUN}"),
               lambda c: [b["Name"] for b in c.list_event_buses()["EventBuses"]]),
    "apigateway": (lambda c: c.create_rest_api(name=f"sig-{RUN}"),
                   lambda c: [a["name"] for a in c.get_rest_apis()["items"]]),
    "apigatewayv2": (lambda c: c.create_api(Name=f"sig-{RUN}", ProtocolType="HTTP"),
                     lambda c: [a["Name"] for a in c.get_apis()["Items"]]),
    "cloudwatch": (lambda c: c.put_metric_data(Namespace=f"sig-{RUN}", MetricData=[
        {"MetricName": "m", "Value": 1.0}]),
        lambda c: [m["Namespace"] for m in c.list_metrics()["Metrics"]]),
    "ses": (lambda c: c.verify_email_identity(EmailAddress=f"sig-{RUN}@example.com"),
            lambda c: c.list_identities()["Identities"]),
    "firehose": (lambda c: c.create_delivery_stream(
        DeliveryStreamName=f"sig-{RUN}", S3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/r",
            "BucketARN": "arn:aws:s3:::nowhere"}),
        lambda c: c.list_delivery_streams()["DeliveryStreamNames"]),
    "sts": (lambda c: c.get_caller_identity(), None),
}


def clients(lab, service):
    key, secret = lab._credentials
    token = lab._session_token
    return {
        "unsigned": boto3.client(service, config=Config(signature_version=botocore.UNSIGNED,
                                                         **NO_RETRY)),
        "unknown key": boto3.session.Session(
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key=secret,
            aws_session_token=token).client(service, config=Config(**NO_RETRY)),
        "wrong secret": boto3.session.Session(
            aws_access_key_id=key, aws_secret_access_key="not-the-secret",
            aws_session_token=token).client(service, config=Config(**NO_RETRY)),
    }


@pytest.mark.parametrize("service", sorted(CASES))
def test_requests_not_signed_by_the_lab_are_refused_and_change_nothing(lab, service):
    # SigV4: "requests ... must be signed"; an unsigned or wrongly signed one is refused
    # with 403: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html
    create, listing = CASES[service]
    for case, client in clients(lab, service).items():
        with pytest.raises(ClientError) as refused:
            create(client)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, case
    if listing is not None:
        names = listing(boto3.client(service))
        assert not any(f"sig-{RUN}" in str(name) for name in names), names


def test_the_front_doors_stay_open_as_aws_s_are(lab, deploy):
    # An API Gateway stage is a public endpoint unless an authorizer says otherwise:
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-control-access-to-api.html
    from test_api_gateway import rest_api

    name = deploy("def lambda_handler(e, c):\n    return {'statusCode': 200, 'body': 'open'}\n")
    api_id = rest_api(boto3.client("apigateway"), name)
    answer = requests.get(lab.api_url(api_id, "prod") + "/items/1", timeout=10)  # unsigned
    assert (answer.status_code, answer.text) == (200, "open")
