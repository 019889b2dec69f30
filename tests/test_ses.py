"""SES email receiving over real SMTP (event shapes §7): recipients refused during the
conversation, the size limit, rules in order and their actions, Event and
RequestResponse Lambda actions with their dispositions, S3 and SNS deliveries, the
verdicts, and the receipt rule API's checks. Every event is checked with Powertools'
SesModel."""

from __future__ import annotations

import base64
import json
import smtplib
import socket
import threading
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import boto3
import pytest
from async_support import drain, make_queue, make_topic_to_queue
from aws_lambda_powertools.utilities.parser.models import SesModel
from botocore.exceptions import ClientError
from pydantic import ValidationError

import helpers
from helpers.front_doors.ses_rules import EICAR, GTUBE, recipient_matches

ACCOUNT = "123456789012"
REGION = "us-east-1"
RECORDER = """
import json, os, time, boto3
sqs = boto3.client("sqs")

def lambda_handler(event, context):
    time.sleep(float(os.environ.get("SLEEP", "0")))
    sqs.send_message(QueueUrl=os.environ["RECORD_TO"], MessageBody=json.dumps(event))
    if os.environ.get("DISPOSITION"):
        return {"disposition": os.environ["DISPOSITION"]}
"""
READ_BODY = """
import boto3
s3 = boto3.client("s3")

def lambda_handler(event, context):
    mail = event["Records"][0]["ses"]["mail"]
    raw = s3.get_object(Bucket="%s", Key="inbox/" + mail["messageId"])["Body"].read()
    return raw.split(b"\\r\\n\\r\\n", 1)[1].decode()
"""


@pytest.fixture
def ses(lab):
    return boto3.client("ses")


@pytest.fixture
def domain(ses):
    name = f"d{uuid.uuid4().hex[:8]}.example"
    ses.verify_domain_identity(Domain=name)
    return name


@pytest.fixture
def rule_set(lab, ses):
    """A new rule set, active for the test; no rule set is active afterwards."""
    name = f"set-{uuid.uuid4().hex[:8]}"
    ses.create_receipt_rule_set(RuleSetName=name)
    ses.set_active_receipt_rule_set(RuleSetName=name)
    yield name
    ses.set_active_receipt_rule_set()
    ses.delete_receipt_rule_set(RuleSetName=name)


def rule_arn(rule_set: str, rule: str = "*") -> str:
    return f"arn:aws:ses:{REGION}:{ACCOUNT}:receipt-rule-set/{rule_set}:receipt-rule/{rule}"


@pytest.fixture
def recorder(lab, deploy, rule_set):
    """(function ARN, queue URL) of a function that sends each event to the queue."""

    def make(**environment):
        url, _ = make_queue("ses")
        name = deploy(RECORDER, timeout=10, environment={"RECORD_TO": url, **environment})
        boto3.client("lambda").add_permission(
            FunctionName=name, StatementId="ses", Action="lambda:InvokeFunction",
            Principal="ses.amazonaws.com", SourceAccount=ACCOUNT, SourceArn=rule_arn(rule_set))
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}", url

    return make


def add_rule(ses, rule_set, name, actions, recipients=None, after=None, **settings):
    rule = {"Name": name, "Enabled": True, "Actions": actions, **settings}
    if recipients is not None:
        rule["Recipients"] = recipients
    options = {"After": after} if after else {}
    ses.create_receipt_rule(RuleSetName=rule_set, Rule=rule, **options)


def lambda_action(arn, invocation_type="Event"):
    return {"LambdaAction": {"FunctionArn": arn, "InvocationType": invocation_type}}


def message(to, subject="Hello", body="Hi there", sender="alice@sender.test", **headers):
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate()
    mail["Message-ID"] = make_msgid(domain="sender.test")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail


def wire(mail: EmailMessage) -> bytes:
    """The message as an SMTP client sends it: lines end in CRLF."""
    return mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))


def deliver(lab, mail, sender="alice@sender.test", recipients=None) -> str:
    """Send over SMTP; the SES message id from the 250 reply."""
    raw = wire(mail) if isinstance(mail, EmailMessage) else mail
    recipients = recipients or [mail["To"]]
    with smtplib.SMTP(*lab.smtp_address(), timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.mail(sender)[0] == 250
        for recipient in recipients:
            code, reply = smtp.rcpt(recipient)
            assert code == 250, reply
        code, reply = smtp.data(raw)
    assert code == 250, reply
    return reply.decode().split()[-1]


def processed(lab, message_id, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = lab.trace.events("ses.processed", message_id=message_id)
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"message {message_id} was not processed in {timeout} s")


def actions(lab, message_id):
    return [(a["rule"], a["action"], a["outcome"]) for a in
            lab.trace.events("ses.action", message_id=message_id)]


def events_of(url, expect, timeout=15.0):
    found = [json.loads(m["Body"]) for m in drain(url, expect=expect, timeout=timeout)]
    assert len(found) == expect, found
    for event in found:
        SesModel.model_validate(event)  # every Event-mode event passes Powertools' model
    return found


# -- the SMTP conversation -------------------------------------------------------------


def test_a_message_invokes_the_function_with_the_event_ses_sends(lab, ses, domain, rule_set,
                                                                recorder):
    arn, url = recorder()
    add_rule(ses, rule_set, "all", [lambda_action(arn)], recipients=[domain], ScanEnabled=True)
    mail = message(f"Bob <bob@{domain}>", Cc=f"carol@{domain}", subject="Invoice 7")
    message_id = deliver(lab, mail, recipients=[f"bob@{domain}"])
    [event] = events_of(url, 1)
    record = event["Records"][0]
    assert (record["eventSource"], record["eventVersion"]) == ("aws:ses", "1.0")
    mail_object, receipt = record["ses"]["mail"], record["ses"]["receipt"]
    assert mail_object["messageId"] == message_id
    assert mail_object["source"] == "alice@sender.test"
    assert mail_object["destination"] == [f"bob@{domain}", f"carol@{domain}"]
    assert receipt["recipients"] == [f"bob@{domain}"]  # the envelope, not the headers
    common = mail_object["commonHeaders"]
    assert common["subject"] == "Invoice 7" and common["to"] == [f"Bob <bob@{domain}>"]
    assert common["messageId"] == mail["Message-ID"]
    assert common["returnPath"] == mail_object["source"]
    names = [h["name"] for h in mail_object["headers"]]
    assert names[:6] == ["Return-Path", "Received", "X-SES-Spam-Verdict", "X-SES-Virus-Verdict",
                         "Received-SPF", "Authentication-Results"]
    assert "Hi there" not in json.dumps(event)  # the body is never in the event
    assert receipt["action"] == {"type": "Lambda", "functionArn": arn, "invocationType": "Event"}
    assert {receipt[v]["status"] for v in ("spamVerdict", "virusVerdict")} == {"PASS"}
    assert processed(lab, message_id)["outcome"] == "delivered"


def test_a_recipient_no_rule_covers_is_refused_with_a_5xx(lab, ses, domain, rule_set, recorder):
    arn, _ = recorder()
    add_rule(ses, rule_set, "sales", [lambda_action(arn)], recipients=[f"sales@{domain}"])
    add_rule(ses, rule_set, "off", [lambda_action(arn)], recipients=[f"off@{domain}"],
             after="sales", Enabled=False)
    with smtplib.SMTP(*lab.smtp_address(), timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("alice@sender.test")
        for address, why in ((f"bob@{domain}", "no enabled rule"),
                             (f"off@{domain}", "no enabled rule"),
                             ("bob@unverified.test", "not a verified identity")):
            code, reply = smtp.rcpt(address)
            assert code == 550 and reply.startswith(b"5.1.1"), (address, code, reply)
            refused = lab.trace.events("ses.refused", stage="RCPT")[-1]
            assert refused["recipients"] == [address] and why in refused["reason"]
        assert smtp.rcpt(f"sales@{domain}")[0] == 250
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        smtplib.SMTP(*lab.smtp_address(), timeout=10).send_message(message(f"bob@{domain}"))


def test_without_an_active_rule_set_every_recipient_is_refused(lab, ses, domain, rule_set):
    ses.set_active_receipt_rule_set()
    with smtplib.SMTP(*lab.smtp_address(), timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("alice@sender.test")
        assert smtp.rcpt(f"bob@{domain}")[0] == 550
    assert lab.trace.events("ses.refused")[-1]["reason"] == "there is no active receipt rule set"


@pytest.mark.parametrize("condition, address, matches", [
    ("bob@example.com", "bob@example.com", True),
    ("bob@example.com", "Bob+news@Example.com", True),
    ("bob+news@example.com", "bob+other@example.com", False),
    ("bob@example.com", "bobby@example.com", False),
    ("example.com", "anyone@example.com", True),
    ("example.com", "anyone@mail.example.com", False),
    (".example.com", "anyone@mail.example.com", True),
    (".example.com", "anyone@a.b.example.com", True),
    (".example.com", "anyone@example.com", False),
])
def test_recipient_conditions_match_as_ses_documents(condition, address, matches):
    assert recipient_matches(condition, address) is matches


def test_a_subdomain_condition_over_smtp(lab, ses, domain, rule_set, recorder):
    arn, url = recorder()
    add_rule(ses, rule_set, "subs", [lambda_action(arn)], recipients=[f".{domain}"])
    with smtplib.SMTP(*lab.smtp_address(), timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("alice@sender.test")
        assert smtp.rcpt(f"bob@{domain}")[0] == 550
        assert smtp.rcpt(f"bob@eu.{domain}")[0] == 250
    deliver(lab, message(f"bob@eu.{domain}"))
    receipt = events_of(url, 1)[0]["Records"][0]["ses"]["receipt"]
    assert receipt["recipients"] == [f"bob@eu.{domain}"]


def test_a_message_over_40_mb_is_refused_at_data_and_not_kept(lab, ses, domain, rule_set, recorder):
    arn, _ = recorder()
    add_rule(ses, rule_set, "all", [lambda_action(arn)])
    big = message(f"bob@{domain}", body=("x" * 76 + "\n") * (41 * 1024 * 1024 // 77 + 1))
    with smtplib.SMTP(*lab.smtp_address(), timeout=30) as smtp:
        assert b"SIZE 41943040" in smtp.ehlo()[1]
        smtp.mail("alice@sender.test")
        smtp.rcpt(f"bob@{domain}")
        code, reply = smtp.data(wire(big))
        assert (code, reply) == (552, b"5.3.4 Message too big for system")
        smtp.rset()
        assert smtp.mail("alice@sender.test", ["SIZE=50000000"])[0] == 552
    assert [r["stage"] for r in lab.trace.events("ses.refused")[-2:]] == ["DATA", "MAIL"]
    assert not [r for r in lab.trace.events("ses.received") if r["size"] > 40 * 1024 * 1024]


def test_the_conversation_is_bounded(lab, ses, domain, rule_set, recorder):
    arn, _ = recorder()
    add_rule(ses, rule_set, "all", [lambda_action(arn)])
    with smtplib.SMTP(*lab.smtp_address(), timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("alice@sender.test")
        codes = [smtp.rcpt(f"user{n}@{domain}")[0] for n in range(101)]
        assert codes[:100] == [250] * 100 and codes[100] == 452
        smtp.rset()
        smtp.mail("alice@sender.test")
        smtp.rcpt(f"bob@{domain}")
        code, reply = smtp.data(b"Subject: long\r\n\r\n" + b"y" * 5000 + b"\r\n")
        assert code == 500
    held = [socket.create_connection(lab.smtp_address(), timeout=5) for _ in range(8)]
    try:
        for connection in held:
            assert connection.recv(100).startswith(b"220")
        extra = socket.create_connection(lab.smtp_address(), timeout=5)
        assert extra.recv(100).startswith(b"421")
        extra.close()
    finally:
        for connection in held:
            connection.close()


# -- rules and dispositions ------------------------------------------------------------


def test_event_mode_returns_before_a_slow_function_finishes(lab, ses, domain, rule_set, recorder):
    arn, url = recorder(SLEEP="1.5")
    add_rule(ses, rule_set, "slow", [lambda_action(arn), {"AddHeaderAction": {
        "HeaderName": "X-After", "HeaderValue": "lambda"}}])
    started = time.perf_counter()
    message_id = deliver(lab, message(f"bob@{domain}"))
    assert time.perf_counter() - started < 1.0  # SMTP answered long before the function ends
    done = processed(lab, message_id)
    [queued] = lab.trace.events("ses.action", message_id=message_id, action="Lambda")
    assert queued["outcome"] == "queued"
    attempt_end = [e for e in lab.trace.events("attempt.end", request_id=queued["request_id"])]
    assert attempt_end == []  # the rules ended, the function is still running
    assert actions(lab, message_id)[-1] == ("slow", "AddHeader", "added")
    events_of(url, 1)
    ended = lab.trace.events("attempt.end", request_id=queued["request_id"])[0]
    assert ended.seq > done.seq


@pytest.mark.parametrize("disposition, expected", [
    ("STOP_RULE", [("first", "Lambda", "invoked"), ("second", "AddHeader", "added")]),
    ("STOP_RULE_SET", [("first", "Lambda", "invoked")]),
    ("CONTINUE", [("first", "Lambda", "invoked"), ("first", "AddHeader", "added"),
                  ("second", "AddHeader", "added")]),
    ("not-a-disposition", [("first", "Lambda", "invoked"), ("first", "AddHeader", "added"),
                           ("second", "AddHeader", "added")]),
])
def test_request_response_dispositions(lab, ses, domain, rule_set, recorder, disposition,
                                       expected):
    arn, url = recorder(DISPOSITION=disposition)
    header = {"AddHeaderAction": {"HeaderName": "X-Seen", "HeaderValue": "yes"}}
    add_rule(ses, rule_set, "first", [lambda_action(arn, "RequestResponse"), header])
    add_rule(ses, rule_set, "second", [header], after="first")
    message_id = deliver(lab, message(f"bob@{domain}"))
    done = processed(lab, message_id)
    assert actions(lab, message_id) == expected
    invoked = lab.trace.events("ses.action", message_id=message_id, action="Lambda")[0]
    shown = disposition if disposition in ("STOP_RULE", "STOP_RULE_SET") else "CONTINUE"
    assert invoked["disposition"] == shown
    assert done["stopped_by"] == ("first" if disposition == "STOP_RULE_SET" else None)
    [event] = [json.loads(m["Body"]) for m in drain(url, expect=1)]
    # Powertools' SesModel allows only "Event": everything else in the event passes
    with pytest.raises(ValidationError) as refused:
        SesModel.model_validate(event)
    assert [e["loc"][-1] for e in refused.value.errors()] == ["invocationType"]
    assert event["Records"][0]["ses"]["receipt"]["action"]["invocationType"] == "RequestResponse"


def test_request_response_stops_waiting_after_30_seconds_scaled(lab, ses, domain, rule_set,
                                                                recorder):
    lab.speedup = 60  # SES's 30 s become 0.5 s
    try:
        arn, _ = recorder(SLEEP="2", DISPOSITION="STOP_RULE_SET")
        add_rule(ses, rule_set, "slow", [lambda_action(arn, "RequestResponse"),
                                         {"AddHeaderAction": {"HeaderName": "X-A",
                                                              "HeaderValue": "1"}}])
        message_id = deliver(lab, message(f"bob@{domain}"))
        processed(lab, message_id)
        assert actions(lab, message_id) == [("slow", "Lambda", "timed out"),
                                            ("slow", "AddHeader", "added")]
        deadline = time.monotonic() + 10
        while not lab.trace.events("ses.abandoned", message_id=message_id):
            assert time.monotonic() < deadline, "the function never finished"
            time.sleep(0.05)
    finally:
        lab.speedup = 1


def test_a_function_that_no_longer_allows_ses_is_not_invoked(lab, ses, domain, rule_set,
                                                            recorder):
    arn, url = recorder()
    add_rule(ses, rule_set, "all", [lambda_action(arn)])
    boto3.client("lambda").remove_permission(FunctionName=arn, StatementId="ses")
    message_id = deliver(lab, message(f"bob@{domain}"))
    processed(lab, message_id)
    assert actions(lab, message_id) == [("all", "Lambda", "not delivered")]
    assert drain(url, expect=0) == []


# -- deliveries: S3 and SNS, bounce and stop -------------------------------------------


def test_the_s3_action_stores_the_message_and_the_function_reads_its_body(lab, ses, domain,
                                                                         rule_set, deploy):
    s3 = boto3.client("s3")
    bucket = f"mail-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    name = deploy(READ_BODY % bucket)
    boto3.client("lambda").add_permission(
        FunctionName=name, StatementId="ses", Action="lambda:InvokeFunction",
        Principal="ses.amazonaws.com", SourceAccount=ACCOUNT, SourceArn=rule_arn(rule_set))
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    store = {"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "inbox/"}}
    with pytest.raises(ClientError) as refused:  # the bucket policy does not allow SES yet
        add_rule(ses, rule_set, "store", [store])
    assert refused.value.response["Error"]["Code"] == "InvalidS3Configuration"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ses.amazonaws.com"}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT},
                      "StringLike": {"AWS:SourceArn": rule_arn(rule_set)}}}]}))
    add_rule(ses, rule_set, "store", [{"AddHeaderAction": {"HeaderName": "X-Routed",
                                                           "HeaderValue": "store"}},
                                      store, lambda_action(arn, "RequestResponse")])
    message_id = deliver(lab, message(f"bob@{domain}", body="the body, from S3"))
    processed(lab, message_id)
    stored = s3.get_object(Bucket=bucket, Key=f"inbox/{message_id}")["Body"].read()
    assert stored.startswith(b"Return-Path: <alice@sender.test>\r\n")
    assert b"X-Routed: store\r\n" in stored and stored.endswith(b"the body, from S3\r\n")
    invoked = lab.trace.events("ses.action", message_id=message_id, action="Lambda")[0]
    ended = lab.trace.events("attempt.end", request_id=invoked["request_id"])[0]
    assert ended["outcome"] == "response"
    headers = invoked["event"]["Records"][0]["ses"]["mail"]["headers"]
    assert {"name": "X-Routed", "value": "store"} in headers


def test_the_sns_action_publishes_the_message_up_to_150_kb(lab, ses, domain, rule_set):
    topic, queue_url = make_topic_to_queue("ses")
    add_rule(ses, rule_set, "publish", [{"SNSAction": {"TopicArn": topic, "Encoding": "Base64"}}])
    small = deliver(lab, message(f"bob@{domain}", body="small"))
    large = deliver(lab, message(f"bob@{domain}", body="z" * 160_000))
    processed(lab, small), processed(lab, large)
    [notice] = drain(queue_url, expect=1)
    body = json.loads(json.loads(notice["Body"])["Message"])
    assert body["notificationType"] == "Received" and body["mail"]["messageId"] == small
    assert body["receipt"]["action"] == {"type": "SNS", "topicArn": topic, "encoding": "BASE64"}
    assert base64.b64decode(body["content"]).endswith(b"small\r\n")
    assert actions(lab, large) == [("publish", "SNS", "bounced")]


def test_bounce_and_stop_end_the_rule_set(lab, ses, domain, rule_set, recorder):
    arn, url = recorder()
    add_rule(ses, rule_set, "reject", [
        {"BounceAction": {"SmtpReplyCode": "550", "StatusCode": "5.1.1",
                          "Message": "Mailbox does not exist", "Sender": f"postmaster@{domain}"}},
        {"StopAction": {"Scope": "RuleSet"}}], recipients=[f"gone@{domain}"])
    add_rule(ses, rule_set, "rest", [lambda_action(arn)], after="reject")
    message_id = deliver(lab, message(f"gone@{domain}"))
    done = processed(lab, message_id)
    assert actions(lab, message_id) == [("reject", "Bounce", "bounced"),
                                        ("reject", "Stop", "stopped")]
    assert done["stopped_by"] == "reject"
    other = deliver(lab, message(f"bob@{domain}"))
    processed(lab, other)
    assert actions(lab, other) == [("rest", "Lambda", "queued")]
    events_of(url, 1)


# -- verdicts --------------------------------------------------------------------------


def test_verdicts_the_lab_decides(lab, ses, domain, rule_set, recorder):
    arn, url = recorder()
    add_rule(ses, rule_set, "scan", [lambda_action(arn)], recipients=[f"scan@{domain}"],
             ScanEnabled=True)
    add_rule(ses, rule_set, "plain", [lambda_action(arn)], recipients=[f"plain@{domain}"],
             after="scan")
    spam = message(f"scan@{domain}", body=f"Buy now! {GTUBE}")
    virus = message(f"scan@{domain}")
    virus.add_attachment(EICAR.encode(), maintype="application", subtype="octet-stream",
                         filename="eicar.com")
    spoofed = message(f"plain@{domain}", sender=f"ceo@{domain}")  # From: a verified domain
    own = message(f"plain@{domain}", sender=f"ceo@{domain}")
    for mail, sender in ((spam, "x@sender.test"), (virus, "x@sender.test"),
                         (spoofed, "x@sender.test"), (own, f"ceo@{domain}")):
        processed(lab, deliver(lab, mail, sender=sender))
    found = {json.dumps(e["Records"][0]["ses"]["mail"]["commonHeaders"]["messageId"]):
             e["Records"][0]["ses"]["receipt"] for e in events_of(url, 4)}

    def verdicts(mail):
        receipt = found[json.dumps(mail["Message-ID"])]
        return ({k[:-7]: receipt[k]["status"] for k in receipt if k.endswith("Verdict")},
                receipt.get("dmarcPolicy"))

    assert verdicts(spam) == ({"spam": "FAIL", "virus": "PASS", "spf": "GRAY", "dkim": "GRAY",
                               "dmarc": "GRAY"}, None)
    assert verdicts(virus)[0]["virus"] == "FAIL"
    assert verdicts(spoofed) == ({"spam": "GRAY", "virus": "GRAY", "spf": "GRAY",
                                  "dkim": "GRAY", "dmarc": "FAIL"}, "reject")
    assert verdicts(own) == ({"spam": "GRAY", "virus": "GRAY", "spf": "PASS", "dkim": "GRAY",
                              "dmarc": "PASS"}, None)


# -- the receipt rule API --------------------------------------------------------------


def test_the_receipt_rule_api_checks_what_ses_checks(lab, ses, rule_set, deploy):
    name = deploy("def lambda_handler(e, c):\n    return None\n")
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    with pytest.raises(ClientError) as refused:
        add_rule(ses, rule_set, "r", [lambda_action(arn)])
    assert refused.value.response["Error"] == {
        "Code": "InvalidLambdaFunction", "Message": f"Could not invoke Lambda function: {arn}",
        "Type": "Sender"}
    boto3.client("lambda").add_permission(
        FunctionName=name, StatementId="other-rule", Action="lambda:InvokeFunction",
        Principal="ses.amazonaws.com", SourceAccount=ACCOUNT, SourceArn=rule_arn(rule_set, "x"))
    with pytest.raises(ClientError):  # the permission names another rule
        add_rule(ses, rule_set, "r", [lambda_action(arn)])
    add_rule(ses, rule_set, "x", [lambda_action(arn)])
    with pytest.raises(ClientError) as duplicate:
        add_rule(ses, rule_set, "x", [])
    assert duplicate.value.response["Error"]["Code"] == "AlreadyExists"
    with pytest.raises(ClientError) as topic:
        add_rule(ses, rule_set, "y", [{"SNSAction": {
            "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic"}}])
    assert topic.value.response["Error"]["Code"] == "InvalidSnsTopic"


def test_stop_closes_the_endpoint_and_its_threads():
    if helpers.lab._current is not None:
        helpers.lab._current.stop()
    lab = helpers.start_lab()
    address = lab.smtp_address()
    assert address[0] == "127.0.0.1"
    socket.create_connection(address, timeout=5).close()
    lab.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=1)
    deadline = time.monotonic() + 3
    while [t.name for t in threading.enumerate() if t.name.startswith("lab-ses")]:
        assert time.monotonic() < deadline, "an SES thread outlived lab.stop()"
        time.sleep(0.05)


def test_a_message_the_lab_stops_under_ends_with_a_record_of_why():
    if helpers.lab._current is not None:
        helpers.lab._current.stop()
    lab = helpers.start_lab()
    ses = boto3.client("ses")
    ses.verify_domain_identity(Domain="stop.example")
    lab.deploy("slow-judge", "import time\ndef lambda_handler(e, c):\n    time.sleep(5)\n",
               timeout=10)
    boto3.client("lambda").add_permission(
        FunctionName="slow-judge", StatementId="ses", Action="lambda:InvokeFunction",
        Principal="ses.amazonaws.com", SourceAccount=ACCOUNT)
    ses.create_receipt_rule_set(RuleSetName="s")
    ses.set_active_receipt_rule_set(RuleSetName="s")
    add_rule(ses, "s", "judge", [lambda_action(
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:slow-judge", "RequestResponse")])
    ids = [deliver(lab, message("a@stop.example")) for _ in range(6)]  # more than the workers
    lab.stop()
    ended = {record["message_id"]: record for record in lab.trace.events("ses.processed")}
    assert set(ids) <= set(ended), "a message ended without a record"
    assert {ended[i]["outcome"] for i in ids} == {"dropped"}
    assert all(ended[i]["reason"] for i in ids)
