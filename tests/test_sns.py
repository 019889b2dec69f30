"""SNS through plain boto3 (event shapes §10): Publish answers at once and each subscribed
function is invoked asynchronously with the event AWS sends (checked against Powertools'
SnsModel), filter policies in both scopes, fan-out to queues and functions, the
permission SNS needs, dead-letter queues, retries by Lambda, PublishBatch and FIFO."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

import boto3
import pytest
from async_support import drain, make_queue, wait_for
from aws_lambda_powertools.utilities.parser.models import SnsModel
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from helpers.events.sns import Notification, string_to_sign

ACCOUNT = "123456789012"
REGION = "us-east-1"

# Sends each event it receives to the queue in RECORD_TO; sleeps SLEEP seconds; fails
# when FAIL is set.
RECORDER = """
import json, os, time, boto3
sqs = boto3.client("sqs")

def lambda_handler(event, context):
    sqs.send_message(QueueUrl=os.environ["RECORD_TO"], MessageBody=json.dumps({
        "request_id": context.aws_request_id, "event": event}))
    time.sleep(float(os.environ.get("SLEEP", "0")))
    if os.environ.get("FAIL"):
        raise RuntimeError("cannot handle " + event["Records"][0]["Sns"]["MessageId"])
"""


@pytest.fixture
def sns(lab):
    return boto3.client("sns")


@pytest.fixture
def topic(sns):
    return sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}")["TopicArn"]


@pytest.fixture
def recorder(lab, deploy, lambda_client):
    """A function that records its events, allowed to be invoked by SNS for ``topic``:
    returns (name, arn, the queue its events land in)."""

    def make(topic_arn, allow=True, **environment):
        url, _ = make_queue("events")
        name = deploy(RECORDER, timeout=10,
                      environment={"RECORD_TO": url, **environment})
        if allow:
            lambda_client.add_permission(FunctionName=name, StatementId="sns",
                                         Action="lambda:InvokeFunction",
                                         Principal="sns.amazonaws.com", SourceArn=topic_arn)
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        return name, arn, url

    return make


def events_in(url, expect, timeout=10.0):
    return [json.loads(m["Body"]) for m in drain(url, expect=expect, timeout=timeout)]


def deliveries(lab, message_id):
    return lab.trace.events("sns.delivery", message_id=message_id)


def test_publish_answers_before_a_slow_function_finishes_and_the_event_is_snsmodel(
        lab, sns, topic, recorder):
    name, arn, url = recorder(topic, SLEEP="1.5")
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)[
        "SubscriptionArn"]
    started = time.monotonic()
    published = sns.publish(TopicArn=topic, Message="order 7 placed", Subject="Orders",
                            MessageAttributes={
                                "kind": {"DataType": "String", "StringValue": "order"},
                                "total": {"DataType": "Number", "StringValue": "42.5"},
                                "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    answered = time.monotonic() - started
    assert answered < 1.0, f"Publish took {answered:.2f} s: it waited for the function"
    message_id = published["MessageId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", message_id)
    (received,) = events_in(url, 1)
    finished = wait_for(lambda: lab.trace.events("event.completed",
                                                 request_id=received["request_id"]), 10)
    assert finished and finished[0]["outcome"] == "succeeded"
    event = received["event"]
    SnsModel.model_validate(event)
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription
    body = record["Sns"]
    assert (body["Type"], body["MessageId"], body["TopicArn"], body["Subject"],
            body["Message"]) == ("Notification", message_id, topic, "Orders", "order 7 placed")
    assert body["MessageAttributes"] == {
        "kind": {"Type": "String", "Value": "order"},
        "total": {"Type": "Number", "Value": "42.5"},
        "blob": {"Type": "Binary", "Value": base64.b64encode(b"\x00\x01").decode()}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["Timestamp"])
    assert body["UnsubscribeUrl"] == (f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe"
                                      f"&SubscriptionArn={subscription}")
    assert re.fullmatch(rf"https://sns\.{REGION}\.amazonaws\.com/SimpleNotificationService-"
                        r"[0-9a-f]{32}\.pem", body["SigningCertUrl"])
    assert body["SignatureVersion"] == "1"
    delivered = deliveries(lab, message_id)
    assert [d["outcome"] for d in delivered] == ["queued"]
    assert delivered[0]["request_id"] == received["request_id"]


def test_the_signature_verifies_with_the_labs_key(lab, sns, topic, recorder):
    _, arn, url = recorder(topic)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="signed")
    body = events_in(url, 1)[0]["event"]["Records"][0]["Sns"]
    hooks = lab.cloud.front._after[("sns", "Publish")]
    signer = next(h.__self__.signer for h in hooks if hasattr(h.__self__, "signer"))
    key = serialization.load_pem_public_key(signer.public_key_pem())
    note = Notification(message_id=body["MessageId"], topic_arn=topic, message="signed",
                        when=0)
    text = string_to_sign(note).replace(note.timestamp, body["Timestamp"])
    key.verify(base64.b64decode(body["Signature"]), text.encode(), padding.PKCS1v15(),
               hashes.SHA1())


def test_without_the_permission_sns_invokes_nothing_and_says_why(lab, sns, topic, recorder):
    _, arn, url = recorder(topic, allow=False)
    dlq_url, dlq_arn = make_queue("sns-dlq")
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)[
        "SubscriptionArn"]
    first = sns.publish(TopicArn=topic, Message="lost")["MessageId"]
    (delivery,) = deliveries(lab, first)
    assert delivery["outcome"] == "not delivered"
    assert "sns.amazonaws.com" in delivery["reason"] and "does not retry" in delivery["reason"]
    sns.set_subscription_attributes(SubscriptionArn=subscription, AttributeName="RedrivePolicy",
                                    AttributeValue=json.dumps({"deadLetterTargetArn": dlq_arn}))
    second = sns.publish(TopicArn=topic, Message="kept")["MessageId"]
    assert deliveries(lab, second)[0]["outcome"] == "dead-lettered"
    (kept,) = drain(dlq_url, expect=1)
    assert json.loads(kept["Body"])["MessageId"] == second
    assert drain(url) == [], "the function ran without the permission"


def test_a_filtered_out_message_invokes_nothing(lab, sns, topic, recorder):
    _, arn, url = recorder(topic)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn, Attributes={
        "FilterPolicy": json.dumps({"kind": ["order"], "total": [{"numeric": [">=", 100]}]})})
    small = sns.publish(TopicArn=topic, Message="small", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"},
        "total": {"DataType": "Number", "StringValue": "20"}})["MessageId"]
    bare = sns.publish(TopicArn=topic, Message="no attributes")["MessageId"]
    big = sns.publish(TopicArn=topic, Message="big", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"},
        "total": {"DataType": "Number", "StringValue": "1.5e2"}})["MessageId"]
    received = events_in(url, 1)
    assert [e["event"]["Records"][0]["Sns"]["MessageId"] for e in received] == [big]
    lab.wait_for_events(10)
    assert drain(url) == []
    for message_id, why in ((small, "total: 20.0 matches none of"),
                            (bare, "no attributes")):
        (delivery,) = deliveries(lab, message_id)
        assert delivery["outcome"] == "filtered" and why in delivery["reason"], delivery.fields
        assert not lab.trace.events("invoke", request_id=delivery.get("request_id"))


def test_the_message_body_scope_filters_on_the_message_itself(lab, sns, topic, recorder):
    _, arn, url = recorder(topic)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn, Attributes={
        "FilterPolicyScope": "MessageBody",
        "FilterPolicy": json.dumps({"order": {"country": [{"anything-but": ["FR"]}]}})})
    for text in ('{"order": {"country": "FR"}}', "not json", '{"order": {"country": "DE"}}'):
        sns.publish(TopicArn=topic, Message=text)
    received = events_in(url, 1)
    assert [e["event"]["Records"][0]["Sns"]["Message"] for e in received] == [
        '{"order": {"country": "DE"}}']
    lab.wait_for_events(10)
    assert drain(url) == []


@pytest.mark.parametrize("policy, scope, reason", [
    ({"a": "b"}, None, "must be an object or a non-empty array"),
    ({"a": {"b": ["c"]}}, None, "nested"),
    ({"a": [{"wildcard": "x*"}]}, None, "does not support"),
])
def test_sns_refuses_invalid_filter_policies(sns, topic, policy, scope, reason):
    queue_arn = make_queue()[1]
    attributes = {"FilterPolicy": json.dumps(policy)}
    if scope:
        attributes["FilterPolicyScope"] = scope
    with pytest.raises(ClientError) as caught:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameter" and reason in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_scope_change_is_checked_against_the_policy(sns, topic):
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=make_queue()[1],
                                 Attributes={"FilterPolicyScope": "MessageBody",
                                             "FilterPolicy": json.dumps({"a": {"b": ["c"]}})})[
        "SubscriptionArn"]
    with pytest.raises(ClientError, match="nested"):
        sns.set_subscription_attributes(SubscriptionArn=subscription,
                                        AttributeName="FilterPolicyScope",
                                        AttributeValue="MessageAttributes")
    sns.set_subscription_attributes(  # cidr: valid in SNS (moto alone refuses it)
        SubscriptionArn=subscription, AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"ip": [{"cidr": "10.0.0.0/8"}]}))


def test_fan_out_to_a_queue_and_a_function_from_one_topic(lab, sns, topic, recorder):
    _, arn, events_url = recorder(topic)
    queue_url, queue_arn = make_queue("fan")
    raw_url, raw_arn = make_queue("raw")
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    queued = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)[
        "SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn,
                  Attributes={"RawMessageDelivery": "true"})
    message_id = sns.publish(TopicArn=topic, Message="to everyone", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "news"}})["MessageId"]
    function_event = events_in(events_url, 1)[0]["event"]
    assert function_event["Records"][0]["Sns"]["MessageId"] == message_id
    (message,) = drain(queue_url, expect=1)
    body = json.loads(message["Body"])
    assert (body["Type"], body["MessageId"], body["TopicArn"], body["Message"]) == (
        "Notification", message_id, topic, "to everyone")
    assert body["UnsubscribeURL"].endswith(f"SubscriptionArn={queued}")
    assert body["SigningCertURL"].startswith(f"https://sns.{REGION}.amazonaws.com/")
    assert "SigningCertUrl" not in body and "Subject" not in body
    assert body["MessageAttributes"] == {"kind": {"Type": "String", "Value": "news"}}
    (raw,) = drain(raw_url, expect=1)
    assert raw["Body"] == "to everyone"
    assert raw["MessageAttributes"]["kind"]["StringValue"] == "news"
    assert sorted(d["outcome"] for d in deliveries(lab, message_id)) == ["queued", "sent", "sent"]


def test_each_protocol_gets_its_own_message_with_a_json_structure(sns, topic, recorder):
    _, arn, events_url = recorder(topic)
    queue_url, queue_arn = make_queue("structured")
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps(
        {"default": "for everyone", "lambda": "for functions"}))
    assert events_in(events_url, 1)[0]["event"]["Records"][0]["Sns"]["Message"] == \
        "for functions"
    assert json.loads(drain(queue_url, expect=1)[0]["Body"])["Message"] == "for everyone"
    with pytest.raises(ClientError, match="default"):
        sns.publish(TopicArn=topic, MessageStructure="json", Message='{"lambda": "x"}')


def test_a_failing_function_is_retried_by_lambda_then_sent_to_its_destination(
        lab, sns, topic, recorder, lambda_client):
    lab.speedup = 600
    try:
        name, arn, url = recorder(topic, FAIL="1")
        failures_url, failures_arn = make_queue("failures")
        lambda_client.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnFailure": {"Destination": failures_arn}})
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
        message_id = sns.publish(TopicArn=topic, Message="poison")["MessageId"]
        attempts = events_in(url, 3, timeout=20)
        assert len({a["request_id"] for a in attempts}) == 1, "three attempts of one event"
        (failure,) = drain(failures_url, expect=1, timeout=10)
        record = json.loads(failure["Body"])
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["requestPayload"]["Records"][0]["Sns"]["MessageId"] == message_id
        SnsModel.model_validate(record["requestPayload"])
        retries = lab.trace.events("event.retry", request_id=attempts[0]["request_id"])
        assert [r["aws_delay_s"] for r in retries] == [60, 120]
    finally:
        lab.wait_for_events(20)
        lab.speedup = 1


def test_publish_batch_delivers_each_entry_with_its_id(lab, sns, topic, recorder):
    _, arn, url = recorder(topic)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn, Attributes={
        "FilterPolicy": json.dumps({"keep": ["yes"]})})
    entries = [{"Id": f"e{n}", "Message": f"message {n}", "MessageAttributes": {
        "keep": {"DataType": "String", "StringValue": "yes" if n % 2 == 0 else "no"}}}
        for n in range(4)]
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    ids = {item["Id"]: item["MessageId"] for item in answer["Successful"]}
    assert sorted(ids) == ["e0", "e1", "e2", "e3"]
    received = sorted(e["event"]["Records"][0]["Sns"]["MessageId"] for e in events_in(url, 2))
    assert received == sorted([ids["e0"], ids["e2"]])
    assert [d["outcome"] for d in deliveries(lab, ids["e1"])] == ["filtered"]


def test_fifo_topics_deliver_to_queues_only_in_order(lab, sns):
    topic = sns.create_topic(Name=f"orders-{uuid.uuid4().hex[:8]}.fifo", Attributes={
        "FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"orders-{uuid.uuid4().hex[:8]}.fifo", Attributes={
        "FifoQueue": "true"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    with pytest.raises(ClientError, match="SQS queues only"):
        sns.subscribe(TopicArn=topic, Protocol="lambda",
                      Endpoint=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:any")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    answers = [sns.publish(TopicArn=topic, Message=f"step {n}", MessageGroupId="order-7",
                           MessageDeduplicationId=f"d{n}") for n in range(3)]
    numbers = [int(a["SequenceNumber"]) for a in answers]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    bodies = [json.loads(m["Body"]) for m in drain(url, expect=3)]
    assert [b["Message"] for b in bodies] == ["step 0", "step 1", "step 2"]
    assert [b["SequenceNumber"] for b in bodies] == [a["SequenceNumber"] for a in answers]
