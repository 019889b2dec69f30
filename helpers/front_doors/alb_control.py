"""Elastic Load Balancing's control plane as moto answers it, mended at the lab's front.

What moto accepts and AWS refuses, for target groups with Lambda targets:

- ``register_targets`` takes one function per target group, a function that exists, and
  only once the function's resource-based policy lets ``elasticloadbalancing.amazonaws.com``
  invoke it from this target group (else ``AccessDenied``, as AWS answers it: add the
  permission first);
- ``modify_target_group_attributes`` takes ``lambda.multi_value_headers.enabled`` as
  ``true`` or ``false`` only.

https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
Introduced in notebook 08.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from ..aws import function_name_parts, policy_allows
from ..errors import AwsError, LambdaApiError
from .alb import PRINCIPAL

__all__ = ["register_alb_control_plane"]

MULTI_VALUE_HEADERS = "lambda.multi_value_headers.enabled"


def _members(params: dict, prefix: str, field: str) -> list[str]:
    """``Targets.member.1.Id``, ``Targets.member.2.Id``, ... in order."""
    found = []
    for key, value in params.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == prefix and parts[3] == field and parts[2].isdigit():
            found.append((int(parts[2]), value))
    return [value for _, value in sorted(found)]


class AlbControlPlane:
    def __init__(self, state, functions):
        self.state = state  # helpers.cloud.elbv2_state.Elbv2State
        self.functions = functions  # helpers.cloud.lambda_state.LambdaState

    def register(self, front) -> None:
        front.before("elbv2", "RegisterTargets", self._check_targets)
        front.before("elbv2", "ModifyTargetGroupAttributes", self._check_attributes)

    def _check_targets(self, request) -> None:
        params = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        group = self.state.target_group(params.get("TargetGroupArn", ""), request.account_id,
                                        request.region)
        if group is None or group.target_type != "lambda":
            return  # moto answers for the rest
        targets = _members(params, "Targets", "Id")
        if len(set(targets) | set(group.targets)) > 1:
            raise AwsError(400, "TooManyTargets",
                           "A target group with target type 'lambda' can have only one "
                           "target: one Lambda function")
        for target in targets:
            parts = function_name_parts(target)
            if parts is None or not target.startswith("arn:"):
                raise AwsError(400, "InvalidTarget",
                               f"The target '{target}' is not a Lambda function ARN")
            try:
                self.functions.find(target, None, request.account_id, request.region)
            except LambdaApiError:
                raise AwsError(400, "InvalidTarget",
                               f"Lambda function '{target}' does not exist") from None
            statements = self.functions.policy_statements(
                parts.name, parts.qualifier, request.account_id, request.region)
            if not policy_allows(statements, action="lambda:InvokeFunction", resource=target,
                                 service=PRINCIPAL,
                                 context={"aws:SourceArn": group.arn,
                                          "aws:SourceAccount": request.account_id}):
                raise AwsError(403, "AccessDenied",
                               f"elasticloadbalancing principal does not have permission to "
                               f"invoke {target} from target group {group.arn}")

    def _check_attributes(self, request) -> None:
        params = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        keys = _members(params, "Attributes", "Key")
        values = _members(params, "Attributes", "Value")
        for key, value in zip(keys, values, strict=False):
            if key == MULTI_VALUE_HEADERS and value not in ("true", "false"):
                raise AwsError(400, "InvalidConfigurationRequest",
                               f"The value of '{MULTI_VALUE_HEADERS}' must be 'true' or "
                               f"'false', not '{value}'")


def register_alb_control_plane(front, state, functions) -> None:
    AlbControlPlane(state, functions).register(front)
