"""SES's receipt rule API as moto answers it, mended at the lab's front.

``CreateReceiptRule`` and ``UpdateReceiptRule`` are checked as SES checks them before
moto stores the rule: a rule name is used once per rule set; SES must be allowed to
invoke each Lambda action's function (its resource-based policy, principal
``ses.amazonaws.com`` with ``SourceAccount`` and the rule's ``SourceArn``), to write to
each S3 action's bucket (the bucket policy, action ``s3:PutObject``), and each topic must
exist (https://docs.aws.amazon.com/ses/latest/dg/receiving-email-permissions.html).
SES's refusals: ``InvalidLambdaFunction`` "Could not invoke Lambda function: ARN" and
``InvalidS3Configuration`` "Could not write to bucket: NAME".
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from ..aws import function_name_parts, policy_allows
from ..errors import AwsError

PRINCIPAL = "ses.amazonaws.com"
ACTION_FIELD = re.compile(r"^Rule\.Actions\.member\.(\d+)\.(\w+)\.(\w+)$")

__all__ = ["PRINCIPAL", "ReceiptRuleChecks", "function_may_be_invoked", "rule_arn"]


def rule_arn(region: str, account: str, rule_set: str, rule: str) -> str:
    """The ``SourceArn`` SES presents for a rule."""
    return f"arn:aws:ses:{region}:{account}:receipt-rule-set/{rule_set}:receipt-rule/{rule}"


def function_may_be_invoked(functions, function_arn: str, source_arn: str,
                            account: str, region: str) -> bool:
    """Does the function exist, and does its policy let SES (this rule) invoke it?"""
    named = function_name_parts(function_arn)
    if named is None or not functions.exists(function_arn, account, region):
        return False
    statements = functions.policy_statements(named.name, named.qualifier,
                                             named.account or account, named.region or region)
    return policy_allows(statements, action="lambda:InvokeFunction", resource=function_arn,
                         service=PRINCIPAL, context={"aws:SourceArn": source_arn,
                                                     "aws:SourceAccount": account})


def bucket_may_be_written(state, bucket: str, key: str, source_arn: str, account: str) -> bool:
    statements = state.bucket_policy(bucket, account)
    if statements is None:
        return False
    return policy_allows(statements, action="s3:PutObject", resource=f"arn:aws:s3:::{bucket}/{key}",
                         service=PRINCIPAL, context={"aws:SourceArn": source_arn,
                                                     "aws:SourceAccount": account})


def _rule_params(body: bytes) -> tuple[str, str, dict]:
    """(rule set, rule name, {position: (kind, {field: value})}) of a query request."""
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    actions: dict[int, tuple[str, dict]] = {}
    for key, value in params.items():
        found = ACTION_FIELD.match(key)
        if found:
            position, kind, name = int(found[1]), found[2], found[3]
            actions.setdefault(position, (kind, {}))[1][name] = value
    return params.get("RuleSetName", ""), params.get("Rule.Name", ""), actions


class ReceiptRuleChecks:
    def __init__(self, state, functions):
        self.state = state  # helpers.cloud.ses_state.SesState
        self.functions = functions

    def register(self, front) -> None:
        front.before("ses", "CreateReceiptRule", self._check)
        front.before("ses", "UpdateReceiptRule", self._check)

    def _check(self, request) -> None:
        rule_set, name, actions = _rule_params(request.body)
        account, region = request.account_id, request.region
        found = self.state.rule_set(rule_set, account, region)
        if found is None:
            return  # moto answers RuleSetDoesNotExist
        if request.operation == "CreateReceiptRule" and any(r.name == name for r in found.rules):
            raise AwsError(400, "AlreadyExists", f"Rule already exists: {name}")
        source_arn = rule_arn(region, account, rule_set, name)
        for _, (kind, fields) in sorted(actions.items()):
            if kind == "LambdaAction" and fields.get("FunctionArn"):
                arn = fields["FunctionArn"]
                if not function_may_be_invoked(self.functions, arn, source_arn, account, region):
                    raise AwsError(400, "InvalidLambdaFunction",
                                   f"Could not invoke Lambda function: {arn}")
            if kind == "S3Action" and fields.get("BucketName"):
                bucket = fields["BucketName"]
                key = fields.get("ObjectKeyPrefix", "") + "a-message-id"  # any key under the prefix
                if not bucket_may_be_written(self.state, bucket, key, source_arn, account):
                    raise AwsError(400, "InvalidS3Configuration",
                                   f"Could not write to bucket: {bucket}")
            topic = fields.get("TopicArn")
            if topic and not self.state.topic_exists(topic, account, region):
                raise AwsError(400, "InvalidSnsTopic", f"Invalid SNS topic: {topic}")
