"""The routing playground's logic: publish one event, and see where it went and why.

A plain class, no widgets: ``helpers.routing_playground`` draws it, notebooks and tests
drive it directly. It sets up a small shop with plain boto3: an SNS topic with two Lambda
subscriptions (``billing`` with a filter policy, ``audit`` without) and two EventBridge
rules on the default bus (``big-orders`` for billing, ``all-orders`` for audit). Each
``publish()`` sends one order through SNS or EventBridge; ``routes()`` reads from the
lab's trace which subscriptions or rules matched and why the others did not, and the
asynchronous invokes that followed, with their attempts. Resources deleted by a
notebook's clean-up are set up again by the next ``publish()``. Introduced in notebook 12.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import boto3
from botocore.exceptions import ClientError

from ..aws import function_arn
from ..errors import LabError

SERVICES = ("SNS", "EventBridge")
KINDS = ("order", "refund")
BEHAVIOURS = ("succeed", "raise an error")
BILLING_POLICY = {"kind": ["order"], "total": [{"numeric": [">=", 100]}]}
BIG_ORDERS = {"source": ["shop.orders"], "detail": {"kind": ["order"],
                                                    "total": [{"numeric": [">=", 100]}]}}
ALL_ORDERS = {"source": [{"prefix": "shop."}]}
SOURCE = '''
import os


def lambda_handler(event, context):
    if os.environ["BEHAVIOUR"] == "raise an error":
        raise RuntimeError("billing is down")
    return "handled"
'''

__all__ = ["BEHAVIOURS", "KINDS", "SERVICES", "Publication", "RoutingError", "RoutingModel"]


class RoutingError(LabError):
    """Bad input in the routing playground, with a message for the learner."""


@dataclass
class Publication:
    """One event the playground sent, and how SNS or EventBridge answered."""

    service: str
    kind: str
    total: float
    started: float
    message_id: str | None = None  # the SNS MessageId or the EventBridge event id
    seconds: float = 0.0
    error: str | None = None
    labels: dict = field(default_factory=dict)


class RoutingModel:
    """Settings, ``publish()`` that uses them, and ``routes()`` that follow each event."""

    def __init__(self, lab, prefix: str = "routing-demo"):
        self.lab = lab
        self.prefix = prefix
        self.service, self.kind, self.total, self.behaviour = "SNS", "order", 120.0, "succeed"
        self.publications: list[Publication] = []
        self._lock = threading.RLock()
        self._deployed_behaviour = None
        self.topic_arn = None
        self.function_names = {"billing": f"{prefix}-billing", "audit": f"{prefix}-audit"}
        self._setup()

    # -- resources (the shape of the playgrounds' shared base) ------------------------------

    def _setup(self) -> None:
        sns, events, lam = boto3.client("sns"), boto3.client("events"), boto3.client("lambda")
        self.topic_arn = sns.create_topic(Name=f"{self.prefix}-orders")["TopicArn"]
        self.rule_arns = {}
        for role, name in self.function_names.items():
            arn = self.lab.deploy(name, SOURCE, timeout=3, environment={
                "BEHAVIOUR": "succeed"})["FunctionArn"].split(":$LATEST")[0]
            lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
            policy = {"FilterPolicy": json.dumps(BILLING_POLICY)} if role == "billing" else {}
            sns.subscribe(TopicArn=self.topic_arn, Protocol="lambda", Endpoint=arn,
                          Attributes=policy)
            rule = f"{self.prefix}-{'big' if role == 'billing' else 'all'}-orders"
            pattern = BIG_ORDERS if role == "billing" else ALL_ORDERS
            self.rule_arns[role] = events.put_rule(Name=rule, EventPattern=json.dumps(
                pattern))["RuleArn"]
            events.put_targets(Rule=rule, Targets=[{"Id": role, "Arn": arn}])
            for principal, source in (("sns", self.topic_arn),
                                      ("events", self.rule_arns[role])):
                try:
                    lam.add_permission(FunctionName=name, StatementId=principal,
                                       Action="lambda:InvokeFunction",
                                       Principal=f"{principal}.amazonaws.com",
                                       SourceArn=source)
                except lam.exceptions.ResourceConflictException:
                    pass  # set up before, in this lab
        self._deployed_behaviour = "succeed"

    def _resources_exist(self) -> bool:
        try:
            boto3.client("sns").get_topic_attributes(TopicArn=self.topic_arn)
            for name in self.function_names.values():
                boto3.client("lambda").get_function_configuration(FunctionName=name)
            for role in self.rule_arns:
                boto3.client("events").describe_rule(Name=self.rule_arns[role].rsplit("/")[-1])
        except ClientError:
            return False
        return True

    def ensure_ready(self) -> bool:
        """Set the resources up again if something deleted them; True if it had to."""
        with self._lock:
            try:
                if self._resources_exist():
                    return False
            except Exception:  # a resource half-deleted: set it all up again
                pass
            self._setup()
            return True

    def function_arns(self) -> list[str]:
        return [function_arn(name, self.lab.region) for name in self.function_names.values()]

    # -- publishing --------------------------------------------------------------------------

    def _check(self) -> None:
        if self.service not in SERVICES:
            raise RoutingError(f"Choose a service: {', '.join(SERVICES)}.")
        if self.kind not in KINDS:
            raise RoutingError(f"Choose a kind: {', '.join(KINDS)}.")
        if self.behaviour not in BEHAVIOURS:
            raise RoutingError(f"Choose what billing does: {', '.join(BEHAVIOURS)}.")
        if not isinstance(self.total, (int, float)) or not 0 <= self.total <= 1_000_000:
            raise RoutingError("The total must be a number between 0 and 1000000.")

    def publish(self) -> Publication:
        """Send one order with the current settings through SNS or EventBridge."""
        self._check()
        self.ensure_ready()
        with self._lock:
            if self.behaviour != self._deployed_behaviour:
                boto3.client("lambda").update_function_configuration(
                    FunctionName=self.function_names["billing"],
                    Environment={"Variables": {"BEHAVIOUR": self.behaviour}})
                self._deployed_behaviour = self.behaviour
        item = Publication(self.service, self.kind, float(self.total), time.time())
        started = time.perf_counter()
        try:
            if self.service == "SNS":
                item.message_id = boto3.client("sns").publish(
                    TopicArn=self.topic_arn, Message=json.dumps({"total": self.total}),
                    MessageAttributes={
                        "kind": {"DataType": "String", "StringValue": self.kind},
                        "total": {"DataType": "Number", "StringValue": f"{self.total:g}"}},
                )["MessageId"]
            else:
                answer = boto3.client("events").put_events(Entries=[{
                    "Source": "shop.orders", "DetailType": "Order Event",
                    "Detail": json.dumps({"kind": self.kind, "total": self.total})}])
                found = answer["Entries"][0]
                item.message_id = found.get("EventId")
                item.error = found.get("ErrorMessage")
        except ClientError as error:
            item.error = f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
        item.seconds = time.perf_counter() - started
        with self._lock:
            self.publications.append(item)
        return item

    # -- what happened (from the trace) -----------------------------------------------------

    def routes(self, item: Publication) -> list[dict]:
        """One row per subscription or rule: matched or why not, and the invoke it caused."""
        if item.message_id is None:
            return []
        rows = []
        if item.service == "SNS":
            for delivery in self.lab.trace.events("sns.delivery", message_id=item.message_id):
                rows.append(self._row(delivery["endpoint"], delivery))
        else:
            arns = {arn: role for role, arn in self.rule_arns.items()}
            deliveries = {d["rule_arn"]: d for d in self.lab.trace.events(
                "events.delivery", event_id=item.message_id)}
            for looked in self.lab.trace.events("events.rule", event_id=item.message_id):
                if looked["rule_arn"] not in arns:
                    continue
                delivery = deliveries.get(looked["rule_arn"], {"outcome": "filtered",
                                                               "reason": looked["reason"]})
                row = self._row(looked["rule"], delivery)
                row["route"] = f"rule {looked['rule']}"
                rows.append(row)
        return rows

    def _row(self, route: str, delivery) -> dict:
        get = delivery.get
        row = {"route": route.rsplit(":", 1)[-1], "matched": get("outcome") != "filtered",
               "why": get("reason") or "", "request_id": get("request_id"),
               "attempts": [], "outcome": "" if get("outcome") == "queued" else get("outcome")}
        if row["request_id"]:
            for step in self.lab.trace.events(request_id=row["request_id"]):
                if step.kind == "attempt.end":
                    row["attempts"].append(step["outcome"])
                elif step.kind == "event.completed":
                    row["outcome"] = step["outcome"] + (
                        f" ({step.get('condition')})" if step.get("condition") else "")
        return row

    def pending(self) -> int:
        with self._lock:
            items = list(self.publications)
        return sum(1 for item in items for row in self.routes(item)
                   if row["request_id"] and not row["outcome"])

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until every invoke of the playground's events has ended; False if one had
        not after ``timeout`` seconds (retries wait about 1 and 2 minutes, divided by
        ``lab.speedup``)."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def describe(self) -> str:
        """Every event and its routes, as text (for code cells and logs)."""
        lines = []
        with self._lock:
            items = list(self.publications)
        for item in items:
            answer = item.error or f"answered in {item.seconds * 1000:.0f} ms"
            lines.append(f"{item.service} {item.kind} of {item.total:g}: {answer}")
            for row in self.routes(item):
                if not row["matched"]:
                    lines.append(f"    {row['route']}: no match ({row['why']})")
                else:
                    tries = ", ".join(row["attempts"]) or "waiting"
                    lines.append(f"    {row['route']}: matched; attempts: {tries}; "
                                 f"{row['outcome'] or 'in progress'}")
        return "\n".join(lines)
