"""SES email receiving: what the SMTP conversation costs, and how fast the rules run.

On one lab, through smtplib and plain boto3:

- 200 messages over one SMTP connection to a rule whose Lambda action is ``Event``:
  the time of each message's conversation (MAIL, RCPT, DATA), and from SES's ``250`` to
  the end of its rules (``ses.received`` to ``ses.processed`` in the trace);
- the same with a ``RequestResponse`` action, whose rules wait for the (warm) function;
- one 10 MB message: the conversation's time.

Prints a table; ``BENCH`` lines feed ``tasks.py bench``. No targets: the issue names
none; the figures show that a message's conversation does not wait for its functions.
"""

from __future__ import annotations

import smtplib
import statistics
import sys
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402

import helpers  # noqa: E402

MESSAGES = 200
ACCOUNT = "123456789012"
NOOP = "def lambda_handler(event, context):\n    return {'disposition': 'CONTINUE'}\n"


def wire(subject: str, body: str = "hello") -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "a@sender.example", "b@bench.example", subject
    mail.set_content(body)
    return mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))


def run(lab, invocation_type: str) -> tuple[list, list]:
    ses = boto3.client("ses")
    ses.update_receipt_rule(RuleSetName="bench", Rule={
        "Name": "all", "Enabled": True, "Actions": [{"LambdaAction": {
            "FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bench-noop",
            "InvocationType": invocation_type}}]})
    conversations, ids = [], []
    with smtplib.SMTP(*lab.smtp_address()) as smtp:
        smtp.ehlo()
        for number in range(MESSAGES):
            started = time.perf_counter()
            smtp.mail("a@sender.example")
            smtp.rcpt("b@bench.example")
            code, reply = smtp.data(wire(f"{invocation_type} {number}"))
            conversations.append(time.perf_counter() - started)
            ids.append(reply.decode().split()[-1])
    deadline = time.monotonic() + 120
    while len(lab.trace.events("ses.processed")) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    received = {e["message_id"]: e.time for e in lab.trace.events("ses.received")}
    done = {e["message_id"]: e.time for e in lab.trace.events("ses.processed")}
    rules = [done[i] - received[i] for i in ids if i in done]
    lab.wait_for_events(60)
    lab.trace.clear()
    return conversations, rules


def main() -> int:
    lab = helpers.start_lab()
    ses = boto3.client("ses")
    ses.verify_domain_identity(Domain="bench.example")
    lab.deploy("bench-noop", NOOP)
    boto3.client("lambda").add_permission(
        FunctionName="bench-noop", StatementId="ses", Action="lambda:InvokeFunction",
        Principal="ses.amazonaws.com", SourceAccount=ACCOUNT)
    ses.create_receipt_rule_set(RuleSetName="bench")
    ses.create_receipt_rule(RuleSetName="bench", Rule={"Name": "all", "Enabled": True})
    ses.set_active_receipt_rule_set(RuleSetName="bench")
    run(lab, "RequestResponse")  # warm the function
    print(f"{'action':16} {'SMTP median ms':>15} {'p95 ms':>8} {'rules median ms':>16}")
    for invocation_type in ("Event", "RequestResponse"):
        conversations, rules = run(lab, invocation_type)
        smtp_ms = statistics.median(conversations) * 1000
        p95 = sorted(conversations)[int(len(conversations) * 0.95)] * 1000
        rules_ms = statistics.median(rules) * 1000
        print(f"{invocation_type:16} {smtp_ms:15.2f} {p95:8.2f} {rules_ms:16.2f}")
        print(f"BENCH\tSES {invocation_type}: SMTP conversation per message (median)\t"
              f"{smtp_ms:.2f} ms\t-\t-")
        print(f"BENCH\tSES {invocation_type}: accepted to rules done (median)\t"
              f"{rules_ms:.2f} ms\t-\t-")
    big = wire("big", ("x" * 76 + "\n") * (10 * 1024 * 1024 // 77))
    started = time.perf_counter()
    with smtplib.SMTP(*lab.smtp_address()) as smtp:
        smtp.sendmail("a@sender.example", ["b@bench.example"], big)
    seconds = time.perf_counter() - started
    print(f"one {len(big) / 1e6:.1f} MB message: {seconds * 1000:.0f} ms")
    print(f"BENCH\tSES: a 10 MB message's SMTP conversation\t{seconds * 1000:.0f} ms\t-\t-")
    lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
