"""Views of moto's EventBridge buses and rules, as the lab's PutEvents needs them.

Read-only: whether a bus exists, and each rule of a bus (its ARN, pattern text,
schedule, state and targets) as plain data. Targets are kept as PutTargets received
them (``Id``, ``Arn``, ``Input``, ``InputPath``, ``InputTransformer``, ``RetryPolicy``,
``DeadLetterConfig``, ...).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

__all__ = ["EventsState", "RuleInfo"]


@dataclass(frozen=True)
class RuleInfo:
    name: str
    arn: str
    bus: str  # the bus's name
    pattern: str | None  # the EventPattern's JSON text
    schedule: str | None  # ScheduleExpression
    enabled: bool
    targets: tuple  # of dicts


def bus_name(name_or_arn: str | None) -> str:
    """A bus's name, from its name or ARN (none: the default bus)."""
    if not name_or_arn:
        return "default"
    return name_or_arn.split("event-bus/", 1)[1] if "event-bus/" in name_or_arn \
        else name_or_arn


class EventsState:
    @staticmethod
    def _backend(account_id: str, region: str):
        from moto.events.models import events_backends  # on first use

        return events_backends[account_id][region]

    def bus_exists(self, name_or_arn: str | None, account_id: str, region: str) -> bool:
        return bus_name(name_or_arn) in self._backend(account_id, region).event_buses

    def rules(self, name_or_arn: str | None, account_id: str, region: str) -> list[RuleInfo]:
        bus = self._backend(account_id, region).event_buses.get(bus_name(name_or_arn))
        if bus is None:
            return []
        return [self._info(rule) for rule in list(bus.rules.values())]

    def all_rules(self, account_id: str, region: str) -> list[RuleInfo]:
        buses = list(self._backend(account_id, region).event_buses.values())
        return [self._info(rule) for bus in buses for rule in list(bus.rules.values())]

    def rule(self, name: str, name_or_arn: str | None, account_id: str,
             region: str) -> RuleInfo | None:
        bus = self._backend(account_id, region).event_buses.get(bus_name(name_or_arn))
        found = bus.rules.get(name) if bus is not None else None
        return self._info(found) if found is not None else None

    @staticmethod
    def _info(rule) -> RuleInfo:
        return RuleInfo(rule.name, rule.arn, rule.event_bus_name, rule.event_pattern.dump(),
                        rule.scheduled_expression, rule.state == "ENABLED",
                        tuple(copy.deepcopy(list(rule.targets))))
