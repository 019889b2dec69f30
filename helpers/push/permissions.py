"""Whether a service may invoke a function: its resource-based policy, as AWS checks it.

SNS and EventBridge invoke a function only if the function's policy allows the
service's principal (``sns.amazonaws.com``, ``events.amazonaws.com``) the action
``lambda:InvokeFunction`` for the topic's or rule's ARN (``aws:SourceArn``, and
``aws:SourceAccount`` when the statement names one). Without it the delivery fails, at
delivery time. https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html
"""

from __future__ import annotations

from ..aws import function_name_parts, policy_allows

__all__ = ["refusal"]


def refusal(functions, function_arn: str, principal: str, source_arn: str,
            source_account: str) -> tuple[str, str] | None:
    """None if ``principal`` may invoke the function; else (error code, why not)."""
    named = function_name_parts(function_arn)
    if named is None or named.account is None or not functions.exists(
            function_arn, named.account, named.region):
        return "ResourceNotFoundException", f"the function {function_arn} does not exist"
    statements = functions.policy_statements(named.name, named.qualifier, named.account,
                                             named.region)
    if policy_allows(statements, action="lambda:InvokeFunction", resource=function_arn,
                     service=principal, context={"aws:SourceArn": source_arn,
                                                 "aws:SourceAccount": source_account}):
        return None
    return ("AccessDeniedException",
            f"the function's resource-based policy does not allow {principal} to invoke it "
            f"from {source_arn}")
