"""What EventBridge sends a target (Powertools' ``EventBridgeModel``), and how a target's
input settings change it.

``build_event`` turns one ``PutEvents`` entry into the event every matching rule sees:
``version`` "0", ``id``, ``detail-type``, ``source``, ``account``, ``time`` (ISO-8601,
whole seconds, UTC), ``region``, ``resources`` and ``detail``. ``scheduled_event`` is
what a rule with a ``ScheduleExpression`` sends. ``target_input`` applies a target's
``Input`` (fixed JSON), ``InputPath`` (one part of the event) or ``InputTransformer``
(``InputPathsMap`` names parts of the event; ``InputTemplate`` places them with
``<name>``, plus the predefined ``<aws.events.rule-arn>``, ``<aws.events.rule-name>``,
``<aws.events.event.ingestion-time>``, ``<aws.events.event>`` and
``<aws.events.event.json>``).
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
Introduced in notebook 12.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

POWERTOOLS_MODEL = "EventBridgeModel"  # aws_lambda_powertools.utilities.parser.models
_PATH = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")

__all__ = ["POWERTOOLS_MODEL", "InputError", "build_event", "event_time", "json_path",
           "scheduled_event", "target_input"]


class InputError(ValueError):
    """A target's input settings that EventBridge would refuse."""


def event_time(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_event(entry: dict, event_id: str, account: str, region: str, when: float) -> dict:
    """The event of one PutEvents entry (``Source``, ``DetailType``, ``Detail`` as JSON
    text, ``Resources``, ``Time`` in epoch seconds)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": account,
        "time": event_time(entry.get("Time", when)),
        "region": region,
        "resources": list(entry.get("Resources") or []),
        "detail": json.loads(entry["Detail"]),
    }


def scheduled_event(rule_arn: str, event_id: str, account: str, region: str,
                    when: float) -> dict:
    return {"version": "0", "id": event_id, "detail-type": "Scheduled Event",
            "source": "aws.events", "account": account, "time": event_time(when),
            "region": region, "resources": [rule_arn], "detail": {}}


def json_path(event, path: str):
    """The part of ``event`` at a JSONPath such as ``$.detail.items[0]``; KeyError when
    the event has nothing there."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise InputError(f"{path!r} is not a JSONPath (it must start with $)")
    rest, node = path[1:], event
    while rest:
        found = _PATH.match(rest)
        if found is None:
            raise InputError(f"{path!r} is not a JSONPath the lab understands")
        key, index, quoted = found.groups()
        if index is not None:
            if not isinstance(node, list) or int(index) >= len(node):
                raise KeyError(path)
            node = node[int(index)]
        else:
            name = key if key is not None else quoted
            if not isinstance(node, dict) or name not in node:
                raise KeyError(path)
            node = node[name]
        rest = rest[found.end():]
    return node


def target_input(target: dict, event: dict, rule_arn: str, ingestion_time: str) -> str:
    """The payload the target receives, as text."""
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        try:
            return json.dumps(json_path(event, target["InputPath"]))
        except KeyError:
            return "null"
    transformer = target.get("InputTransformer")
    if not transformer:
        return json.dumps(event)
    values = {"aws.events.rule-arn": rule_arn,
              "aws.events.rule-name": rule_arn.rsplit("/", 1)[-1],
              "aws.events.event.ingestion-time": ingestion_time,
              "aws.events.event": event, "aws.events.event.json": event}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        try:
            values[name] = json_path(event, path)
        except KeyError:
            values[name] = None
    return _fill(transformer.get("InputTemplate", ""), values)


def _fill(template: str, values: dict) -> str:
    """Replace each ``<name>``: inside a JSON string with the value's text, elsewhere
    with the value as JSON; a template that is not JSON gets the values' text."""
    pieces, last, quoted = [], 0, False
    for found in _PLACEHOLDER.finditer(template):
        before = template[last:found.start()]
        quoted = _inside_string(before, quoted)
        pieces.append(before)
        name = found[1]
        if name not in values:
            pieces.append(found[0])  # not a variable: left as written
        else:
            value = values[name]
            if quoted:
                text = value if isinstance(value, str) else json.dumps(value)
                pieces.append(json.dumps(text)[1:-1])
            elif isinstance(value, str) and not template.lstrip().startswith(("{", "[")):
                pieces.append(value)  # a plain-text template
            else:
                pieces.append(json.dumps(value))
        last = found.end()
    pieces.append(template[last:])
    return "".join(pieces)


def _inside_string(text: str, quoted: bool) -> bool:
    """Whether the text after ``text`` is inside a JSON string, given the state before."""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    return quoted
