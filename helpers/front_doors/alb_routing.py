"""How an Application Load Balancer's listener chooses what to do with a request.

Pure functions over the rules as the API takes them (``helpers.cloud.elbv2_state``):
rules are evaluated from the lowest priority to the highest, the default rule last; a
rule applies when every one of its conditions holds, and a condition holds when any of
its values matches. The rule's last action (``forward``, ``redirect`` or
``fixed-response``) is what the listener does.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-action-types.html

- ``path-pattern``: the path (never the query), case-sensitive, ``*`` and ``?`` wildcards;
- ``host-header``: the Host header's name (its port left out), case-insensitive;
- ``http-header``: the named header, name and value case-insensitive, wildcards;
- ``http-request-method``: exact and case-sensitive;
- ``query-string``: key/value pairs (the key may be left out), case-insensitive, wildcards;
- ``source-ip``: the client's address in one of the CIDR blocks (never X-Forwarded-For).

Introduced in notebook 08.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from urllib.parse import unquote_plus

from ..aws import wildcard_match

__all__ = ["RequestFacts", "final_action", "matching_rule", "redirect", "pick_target_group"]


@dataclass(frozen=True)
class RequestFacts:
    """What conditions and redirects look at."""

    method: str
    path: str
    query: str  # raw, without "?"
    host: str  # the Host header without its port
    port: int
    headers: tuple  # (name, value) pairs as sent
    source_ip: str
    protocol: str = "http"


def _values(condition: dict, config: str) -> list:
    if config in condition:
        return list(condition[config].get("Values") or [])
    return list(condition.get("Values") or [])


def _holds(condition: dict, facts: RequestFacts) -> bool:
    field = condition.get("Field")
    if field == "path-pattern":
        return any(wildcard_match(v, facts.path) for v in _values(condition, "PathPatternConfig"))
    if field == "host-header":
        return any(wildcard_match(v, facts.host, ignore_case=True)
                   for v in _values(condition, "HostHeaderConfig"))
    if field == "http-request-method":
        return facts.method in _values(condition, "HttpRequestMethodConfig")
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        name = str(config.get("HttpHeaderName", "")).lower()
        sent = [value for key, value in facts.headers if key.lower() == name]
        return any(wildcard_match(v, value, ignore_case=True)
                   for v in config.get("Values") or [] for value in sent)
    if field == "query-string":
        pairs = [(unquote_plus(k), unquote_plus(v)) for k, _, v in
                 (part.partition("=") for part in facts.query.split("&") if part)]
        for wanted in (condition.get("QueryStringConfig") or {}).get("Values") or []:
            key, value = wanted.get("Key"), wanted.get("Value", "")
            if any((key is None or wildcard_match(key, k, ignore_case=True))
                   and wildcard_match(value, v, ignore_case=True) for k, v in pairs):
                return True
        return False
    if field == "source-ip":
        try:
            address = ipaddress.ip_address(facts.source_ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(block, strict=False)
                   for block in (condition.get("SourceIpConfig") or {}).get("Values") or [])
    return False  # a condition the lab does not know never matches


def matching_rule(rules, facts: RequestFacts):
    """The first rule (by priority, the default last) whose conditions all hold."""
    for rule in rules:
        if all(_holds(condition, facts) for condition in rule.conditions):
            return rule
    return None


def final_action(rule) -> dict:
    """The action that answers: the last one (authenticate actions may come before it)."""
    return rule.actions[-1] if rule.actions else {}


def pick_target_group(action: dict, rng=random) -> str | None:
    """A forward action's target group; with several, one chosen by weight."""
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    weighted = [(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups]
    weighted = [(arn, weight) for arn, weight in weighted if weight > 0]
    if weighted:
        arns, weights = zip(*weighted, strict=True)
        return rng.choices(arns, weights=weights)[0]
    return action.get("TargetGroupArn")


def redirect(config: dict, facts: RequestFacts) -> tuple[int, str]:
    """(status, Location) of a redirect action: ``#{protocol}``, ``#{host}``, ``#{port}``,
    ``#{path}`` (without its leading /) and ``#{query}`` keep the request's values."""
    keys = {"#{protocol}": facts.protocol, "#{host}": facts.host, "#{port}": str(facts.port),
            "#{path}": facts.path.lstrip("/"), "#{query}": facts.query}

    def fill(template: str) -> str:
        for key, value in keys.items():
            template = template.replace(key, value)
        return template

    protocol = fill(config.get("Protocol") or "#{protocol}").lower()
    host = fill(config.get("Host") or "#{host}")
    port = fill(config.get("Port") or "#{port}")
    path = fill(config.get("Path") or "/#{path}")
    query = fill(config.get("Query") if config.get("Query") is not None else "#{query}")
    status = 301 if config.get("StatusCode") == "HTTP_301" else 302
    location = f"{protocol}://{host}:{port}{path}" + (f"?{query}" if query else "")
    return status, location
