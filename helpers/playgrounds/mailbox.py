"""The mailbox playground's logic: send mail to the lab's SES and follow each message.

A plain class, no widgets: ``helpers.mailbox_view`` draws it, notebooks and tests drive
it directly. It sets up a verified domain, a bucket SES may write to, two functions and
a receipt rule set of two rules:

1. ``filter`` (scans for spam and viruses): a Lambda action that invokes
   ``<name>-filter`` (``RequestResponse`` by default): it answers ``STOP_RULE_SET`` for
   spam or a virus, ``CONTINUE`` otherwise;
2. ``deliver``: an S3 action that stores the message under ``inbox/``, then a Lambda
   action that invokes ``<name>-reader`` (``Event``), which reads the body from S3.

It sends each message over SMTP with ``smtplib`` and reads what followed from the lab's
trace: SMTP's answer, the rules the message matched, each action's outcome, the
filter's disposition and the reader's asynchronous outcome. Sending makes the
playground's rule set the active one. Introduced in notebook 09.
"""

from __future__ import annotations

import json
import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import boto3
from botocore.exceptions import ClientError

from ..front_doors.ses_rules import GTUBE
from .base import PlaygroundBase, PlaygroundInputError, wait_until

DOMAIN = "mailbox.example"
RECIPIENTS = (f"orders@{DOMAIN}", f"support@{DOMAIN}", "someone@elsewhere.example")
CONTENTS = ("ordinary", "spam (the GTUBE test string)")
MODES = ("RequestResponse", "Event")
MAX_BODY = 64 * 1024  # what the playground sends at most (SES itself takes 40 MB)

FILTER_SOURCE = '''
def lambda_handler(event, context):
    receipt = event["Records"][0]["ses"]["receipt"]
    verdicts = (receipt["spamVerdict"]["status"], receipt["virusVerdict"]["status"])
    if "FAIL" in verdicts:
        print("dropping", event["Records"][0]["ses"]["mail"]["messageId"])
        return {"disposition": "STOP_RULE_SET"}
    return {"disposition": "CONTINUE"}
'''
READER_SOURCE = '''
import os

import boto3

s3 = boto3.client("s3")


def lambda_handler(event, context):
    mail = event["Records"][0]["ses"]["mail"]
    raw = s3.get_object(Bucket=os.environ["BUCKET"], Key="inbox/" + mail["messageId"])["Body"]
    body = raw.read().split(b"\\r\\n\\r\\n", 1)[-1].decode("utf-8", "replace")
    print(f"{mail['commonHeaders'].get('subject')}: {len(body)} characters")
    return {"subject": mail["commonHeaders"].get("subject"), "characters": len(body)}
'''

__all__ = ["CONTENTS", "MODES", "RECIPIENTS", "MailboxError", "MailboxModel", "SentMail"]


class MailboxError(PlaygroundInputError):
    """Bad input in the mailbox playground, with a message for the learner."""


@dataclass
class SentMail:
    """One message the playground sent, and SMTP's answer."""

    header_message_id: str
    recipient: str
    subject: str
    mode: str
    reply: str = ""
    accepted: bool = False
    ses_message_id: str | None = None
    sent_at: float = field(default_factory=time.time)


class MailboxModel(PlaygroundBase):
    """Settings, ``send()`` that uses them, and ``rows()`` that follow each message."""

    def __init__(self, lab, name: str = "mailbox-demo"):
        super().__init__(lab)
        self.name = name
        self.rule_set = name
        self.bucket = f"{name}-store"
        self.recipient = RECIPIENTS[0]
        self.subject = "Order 1042"
        self.body = "Please send two boxes of tea."
        self.content = CONTENTS[0]
        self.mode = MODES[0]
        self.sent: list[SentMail] = []
        self._deployed_mode = None
        self._ses = boto3.client("ses")
        self._lambda = boto3.client("lambda")
        self._s3 = boto3.client("s3")
        self.filter_arn = self.reader_arn = None
        self._setup()

    # -- set-up ----------------------------------------------------------------------------

    def _arn(self, rule: str = "*") -> str:
        return (f"arn:aws:ses:{self.lab.region}:{self._account()}:receipt-rule-set/"
                f"{self.rule_set}:receipt-rule/{rule}")

    def _account(self) -> str:
        return self.filter_arn.split(":")[4] if self.filter_arn else "123456789012"

    def _setup(self) -> None:
        self._ses.verify_domain_identity(Domain=DOMAIN)
        self.filter_arn = self._function(f"{self.name}-filter", FILTER_SOURCE, {})
        self.reader_arn = self._function(f"{self.name}-reader", READER_SOURCE,
                                         {"BUCKET": self.bucket})
        self._s3.create_bucket(Bucket=self.bucket)
        self._s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ses.amazonaws.com"},
                "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{self.bucket}/*",
                "Condition": {"StringEquals": {"AWS:SourceAccount": self._account()},
                              "StringLike": {"AWS:SourceArn": self._arn()}}}]}))
        try:
            self._ses.create_receipt_rule_set(RuleSetName=self.rule_set)
        except ClientError:
            self._ses.set_active_receipt_rule_set()
            self._ses.delete_receipt_rule_set(RuleSetName=self.rule_set)
            self._ses.create_receipt_rule_set(RuleSetName=self.rule_set)
        self._ses.create_receipt_rule(RuleSetName=self.rule_set, Rule=self._filter_rule())
        self._ses.create_receipt_rule(RuleSetName=self.rule_set, After="filter", Rule={
            "Name": "deliver", "Enabled": True, "Recipients": [DOMAIN], "Actions": [
                {"S3Action": {"BucketName": self.bucket, "ObjectKeyPrefix": "inbox/"}},
                {"LambdaAction": {"FunctionArn": self.reader_arn, "InvocationType": "Event"}}]})
        self._deployed_mode = self.mode

    def _filter_rule(self) -> dict:
        return {"Name": "filter", "Enabled": True, "ScanEnabled": True,
                "Recipients": [DOMAIN], "Actions": [{"LambdaAction": {
                    "FunctionArn": self.filter_arn, "InvocationType": self.mode}}]}

    def _function(self, name: str, source: str, environment: dict) -> str:
        arn = self.lab.deploy(name, source, timeout=10,
                              environment=environment)["FunctionArn"].rsplit(":$LATEST", 1)[0]
        try:
            self._lambda.add_permission(
                FunctionName=name, StatementId="mailbox-ses", Action="lambda:InvokeFunction",
                Principal="ses.amazonaws.com", SourceArn=self._arn())
        except self._lambda.exceptions.ResourceConflictException:
            pass  # set up before, in this lab
        return arn

    def _resources_exist(self) -> bool:
        try:
            self._ses.describe_receipt_rule(RuleSetName=self.rule_set, RuleName="deliver")
            self._s3.head_bucket(Bucket=self.bucket)
            for name in (f"{self.name}-filter", f"{self.name}-reader"):
                self._lambda.get_function_configuration(FunctionName=name)
        except ClientError:
            return False
        return True

    def function_arns(self) -> list[str]:
        return [self.filter_arn, self.reader_arn]

    def timeline_labels(self) -> dict:
        subjects = {m.ses_message_id: m.subject for m in self.sent if m.ses_message_id}
        return {a["request_id"]: subjects[a["message_id"]]
                for a in self.lab.trace.events("ses.action")
                if a.get("request_id") and a.get("message_id") in subjects}

    # -- sending ---------------------------------------------------------------------------

    def compose(self) -> EmailMessage:
        """The message from the settings, or a MailboxError saying what is wrong."""
        if self.recipient not in RECIPIENTS:
            raise MailboxError(f"Choose a recipient: {', '.join(RECIPIENTS)}.")
        if self.content not in CONTENTS or self.mode not in MODES:
            raise MailboxError(f"Choose the content ({', '.join(CONTENTS)}) and the filter's "
                               f"invocation type ({', '.join(MODES)}).")
        subject = (self.subject or "").strip()
        if not subject or "\n" in subject or len(subject) > 200:
            raise MailboxError("The subject is one line of 1 to 200 characters.")
        body = self.body or ""
        if len(body.encode()) > MAX_BODY:
            raise MailboxError(f"The playground sends bodies up to {MAX_BODY // 1024} KB.")
        if self.content != CONTENTS[0]:
            body += f"\n\n{GTUBE}\n"
        mail = EmailMessage()
        mail["From"] = "Alice <alice@customer.example>"
        mail["To"] = self.recipient
        mail["Subject"] = subject
        mail["Date"] = formatdate()
        mail["Message-ID"] = make_msgid(domain="customer.example")
        mail.set_content(body)
        return mail

    def send(self) -> SentMail:
        """Send the message from the settings over SMTP to the lab's SES."""
        mail = self.compose()
        self.ensure_ready()
        self._apply_mode()
        self._ses.set_active_receipt_rule_set(RuleSetName=self.rule_set)
        sent = SentMail(mail["Message-ID"], self.recipient, mail["Subject"], self.mode)
        try:
            with smtplib.SMTP(*self.lab.smtp_address(), timeout=30) as smtp:
                smtp.send_message(mail)
            sent.accepted = True
            sent.reply = "250 Ok"
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            sent.reply = f"{code} {text.decode('utf-8', 'replace')}"
        except smtplib.SMTPResponseException as error:
            sent.reply = f"{error.smtp_code} {error.smtp_error.decode('utf-8', 'replace')}"
        if sent.accepted:
            found = wait_until(lambda: self.lab.trace.events(
                "ses.received", header_message_id=sent.header_message_id), 10,
                "SES to record the message")
            sent.ses_message_id = found[0]["message_id"]
        with self._lock:
            self.sent.append(sent)
        return sent

    def _apply_mode(self) -> None:
        with self._lock:
            if self.mode != self._deployed_mode:
                self._ses.update_receipt_rule(RuleSetName=self.rule_set,
                                              Rule=self._filter_rule())
                self._deployed_mode = self.mode

    # -- what happened (from the trace) ---------------------------------------------------

    def rows(self) -> list[dict]:
        """One row per message: SMTP's answer, the rules, the actions, the outcome."""
        with self._lock:
            sent = list(self.sent)
        rows = []
        for mail in sent:
            row = {"when": mail.sent_at, "message": f"{mail.subject} → {mail.recipient}",
                   "smtp": mail.reply, "mode": mail.mode, "rules": [], "actions": [],
                   "disposition": "", "outcome": "", "ses_message_id": mail.ses_message_id}
            if not mail.accepted:
                refused = self.lab.trace.events("ses.refused", stage="RCPT")
                why = next((r["reason"] for r in reversed(refused)
                            if r["recipients"] == [mail.recipient]), "")
                row["outcome"] = f"refused during SMTP: {why}"
                rows.append(row)
                continue
            for rule in self.lab.trace.events("ses.rule", message_id=mail.ses_message_id):
                row["rules"].append(rule["rule"])
            for action in self.lab.trace.events("ses.action", message_id=mail.ses_message_id):
                row["actions"].append(self._action_text(action))
                if action.get("disposition"):
                    row["disposition"] = action["disposition"]
            done = self.lab.trace.events("ses.processed", message_id=mail.ses_message_id)
            if done:
                stopped = done[0].get("stopped_by")
                row["outcome"] = (f"stopped by rule {stopped}" if stopped
                                  else done[0]["outcome"])
            rows.append(row)
        return rows

    def _action_text(self, action) -> str:
        text = f"{action['rule']}: {action['action']} {action['outcome']}"
        if action["action"] == "Lambda" and action["outcome"] == "queued":
            ended = self.lab.trace.events("event.completed", request_id=action["request_id"])
            text += f" → {ended[0]['outcome']}" if ended else " → running"
        return text

    def pending(self) -> int:
        """Messages still in the rules, or with an Event invocation still running."""
        return sum(1 for row in self.rows() if (row["ses_message_id"] and not row["outcome"])
                   or any(text.endswith("→ running") for text in row["actions"]))

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until every message sent has been processed and its invocations ended;
        False if one has not after ``timeout`` seconds."""
        try:
            return wait_until(lambda: not self.pending(), timeout,
                              "the playground's messages to go through the rules")
        except TimeoutError:
            return False

    def latest_event(self) -> dict | None:
        """The last event a function received from the playground's rules."""
        ids = {m.ses_message_id for m in self.sent if m.ses_message_id}
        found = [a for a in self.lab.trace.events("ses.action", action="Lambda")
                 if a.get("message_id") in ids and "event" in a.fields]
        return found[-1]["event"] if found else None

    def describe(self) -> str:
        """The rows as text (for code cells and logs)."""
        lines = []
        for row in self.rows():
            lines.append(f"{row['message']}: SMTP {row['smtp'].split(' ')[0]}")
            for text in row["actions"]:
                lines.append(f"    {text}")
            lines.append(f"    outcome: {row['outcome']}")
        return "\n".join(lines)
