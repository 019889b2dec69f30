"""Read-only views of moto's Elastic Load Balancing (elbv2) state, as plain data.

moto keeps load balancers, listeners, rules and target groups but never serves a
request; the lab's Application Load Balancer (``helpers.front_doors.alb``) reads them
through this module on every request, so a change made with boto3 applies to the next
request at once. moto's modules are imported on first use. Nothing here changes moto's
state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

__all__ = ["Elbv2State", "ListenerSpec", "LoadBalancerSpec", "RuleSpec", "TargetGroupSpec"]

MULTI_VALUE_HEADERS = "lambda.multi_value_headers.enabled"


@dataclass(frozen=True)
class RuleSpec:
    arn: str
    priority: int | None  # None: the default rule (evaluated last)
    conditions: tuple  # as the API takes them: {"Field": "path-pattern", ...}
    actions: tuple  # as the API takes them: {"Type": "forward", ...}, in their order


@dataclass(frozen=True)
class ListenerSpec:
    arn: str
    load_balancer_arn: str
    port: int
    protocol: str
    rules: tuple  # RuleSpec, by priority, the default rule last


@dataclass(frozen=True)
class LoadBalancerSpec:
    arn: str
    name: str
    dns_name: str
    type: str  # "application", "network", "gateway"
    ports: tuple  # the ports its listeners listen on


@dataclass(frozen=True)
class TargetGroupSpec:
    arn: str
    name: str
    target_type: str  # "lambda", "instance", "ip", "alb"
    targets: tuple  # registered target ids (function ARNs for "lambda")
    multi_value_headers: bool
    attributes: dict


def _actions(actions) -> tuple:
    ordered = sorted(enumerate(actions), key=lambda item: (item[1].data.get("Order", 0),
                                                            item[0]))
    return tuple(copy.deepcopy(action.data) for _, action in ordered)


class Elbv2State:
    @staticmethod
    def _backend(account_id: str, region: str):
        from moto.elbv2.models import elbv2_backends  # on first use

        return elbv2_backends[account_id][region]

    def load_balancer(self, arn: str, account_id: str, region: str) -> LoadBalancerSpec | None:
        balancer = self._backend(account_id, region).load_balancers.get(arn)
        if balancer is None:
            return None
        ports = tuple(sorted(int(listener.port) for listener in balancer.listeners.values()))
        return LoadBalancerSpec(arn=balancer.arn, name=balancer.name,
                                dns_name=balancer.dns_name, type=balancer.type, ports=ports)

    def listener(self, load_balancer_arn: str, port: int, account_id: str,
                 region: str) -> ListenerSpec | None:
        """The listener on ``port``, with its rules in the order they are evaluated."""
        balancer = self._backend(account_id, region).load_balancers.get(load_balancer_arn)
        if balancer is None:
            return None
        for listener in list(balancer.listeners.values()):
            if int(listener.port) != int(port):
                continue
            rules, default = [], None
            for rule in list(listener.rules.values()):
                spec = RuleSpec(
                    arn=rule.arn,
                    priority=None if rule.priority == "default" else int(rule.priority),
                    conditions=tuple(copy.deepcopy(rule.conditions or [])),
                    actions=_actions(rule.actions))
                if spec.priority is None:
                    default = spec
                else:
                    rules.append(spec)
            rules.sort(key=lambda spec: spec.priority)
            return ListenerSpec(arn=listener.arn, load_balancer_arn=load_balancer_arn,
                                port=int(listener.port), protocol=listener.protocol,
                                rules=tuple(rules + ([default] if default else [])))
        return None

    def target_group(self, arn: str, account_id: str, region: str) -> TargetGroupSpec | None:
        group = self._backend(account_id, region).target_groups.get(arn)
        if group is None:
            return None
        attributes = {key: str(value) for key, value in group.attributes.items()}
        return TargetGroupSpec(
            arn=group.arn, name=group.name, target_type=group.target_type,
            targets=tuple(group.targets), attributes=attributes,
            multi_value_headers=attributes.get(MULTI_VALUE_HEADERS, "false").lower() == "true")
