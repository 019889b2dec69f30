"""Where Amazon Data Firehose puts an object in S3: prefixes, their expressions, object names.

An object's key is ``<evaluated prefix><suffix>``
(https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html): the suffix is
``<stream name>-<stream version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><file extension>``
(``.gz`` for GZIP). A prefix may hold expressions ``!{namespace:value}``
(https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html):

- ``!{timestamp:yyyy/MM/dd}``: a Java ``DateTimeFormatter`` pattern (text in single
  quotes is kept as it is), of the arrival time of the oldest record in the object, in
  UTC unless the destination names a ``CustomTimeZone``;
- ``!{firehose:error-output-type}`` (error prefix only): why the records failed
  (``processing-failed``, ``partitioning-failed``); ``!{firehose:random-string}``: 11
  random characters;
- ``!{partitionKeyFromLambda:key}``: the partition key the function returned for the
  record (dynamic partitioning).

A prefix without a timestamp expression gets ``yyyy/MM/dd/HH/`` appended (not with
dynamic partitioning); no ``ErrorOutputPrefix`` means ``<Prefix><error-output-type>/``
and the same time folders. Introduced in notebook 11.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from datetime import datetime, timezone

NAMESPACES = ("timestamp", "firehose", "partitionKeyFromLambda", "partitionKeyFromQuery")
FIREHOSE_VALUES = ("error-output-type", "random-string")
DEFAULT_TIME_FOLDERS = "yyyy/MM/dd/HH/"
_EXPRESSION = re.compile(r"!\{([^{}:]*):([^{}]*)\}")
# DateTimeFormatter letters the lab evaluates, and the strftime-like parts they give
_FIELDS = {"yyyy": "%Y", "uuuu": "%Y", "yy": "%y", "uu": "%y", "MM": "%m", "dd": "%d",
           "HH": "%H", "mm": "%M", "ss": "%S", "M": "month", "d": "day", "H": "hour",
           "m": "minute", "s": "second"}

__all__ = ["DEFAULT_TIME_FOLDERS", "PrefixError", "data_prefix_template",
           "error_prefix_template", "evaluate", "expressions", "extension", "has_timestamp",
           "moment_of", "object_key", "prefix_problem", "time_pattern"]


class PrefixError(ValueError):
    """A prefix Firehose would refuse; the message says why."""


def expressions(template: str) -> list[tuple[str, str]]:
    """The (namespace, value) of each ``!{...}`` in ``template``; PrefixError if a ``!{``
    is not the start of one."""
    found = [(m.group(1), m.group(2)) for m in _EXPRESSION.finditer(template)]
    if template.count("!{") != len(found):
        raise PrefixError("The sequence '!{' can only appear in !{namespace:value} "
                          "expressions.")
    return found


def time_pattern(pattern: str) -> list[tuple[str, str]]:
    """A DateTimeFormatter pattern as ("literal", text) and ("field", letters) parts;
    PrefixError for letters the lab does not evaluate."""
    parts, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            if end == -1:
                raise PrefixError(f"Unclosed quote in the timestamp pattern {pattern!r}.")
            parts.append(("literal", pattern[index + 1:end] or "'"))
            index = end + 1
        elif char in string.ascii_letters:
            end = index
            while end < len(pattern) and pattern[end] == char:
                end += 1
            letters = pattern[index:end]
            if letters not in _FIELDS:
                raise PrefixError(
                    f"The lab evaluates the timestamp letters yyyy, yy, MM, M, dd, d, HH, "
                    f"H, mm, m, ss and s; {letters!r} in {pattern!r} is not one of them.")
            parts.append(("field", letters))
            index = end
        else:
            parts.append(("literal", char))
            index += 1
    return parts


def _format_time(pattern: str, moment: datetime) -> str:
    out = []
    for kind, text in time_pattern(pattern):
        if kind == "literal":
            out.append(text)
        elif _FIELDS[text].startswith("%"):
            out.append(moment.strftime(_FIELDS[text]))
        else:
            out.append(str(getattr(moment, _FIELDS[text])))
    return "".join(out)


def has_timestamp(template: str) -> bool:
    return any(namespace == "timestamp" for namespace, _ in expressions(template))


def prefix_problem(prefix: str, error_prefix: str | None, dynamic: bool,
                   lambda_keys: bool) -> str | None:
    """Why Firehose would refuse this ``Prefix`` and ``ErrorOutputPrefix``, or None.
    ``lambda_keys``: a Lambda processor is configured to return partition keys."""
    try:
        found = expressions(prefix)
        found_errors = expressions(error_prefix or "")
        for namespace, value in found + found_errors:
            if namespace not in NAMESPACES:
                return (f"Unknown namespace {namespace!r} in !{{{namespace}:{value}}}: use "
                        f"one of {', '.join(NAMESPACES)}.")
            if namespace == "timestamp":
                time_pattern(value)
            elif namespace == "firehose" and value not in FIREHOSE_VALUES:
                return f"!{{firehose:{value}}} is not an expression: use " + ", ".join(
                    f"!{{firehose:{v}}}" for v in FIREHOSE_VALUES) + "."
    except PrefixError as error:
        return str(error)
    if ("firehose", "error-output-type") in found:
        return ("Prefix can't contain !{firehose:error-output-type}: it belongs in "
                "ErrorOutputPrefix.")
    if found and not error_prefix:
        return "ErrorOutputPrefix can't be null when Prefix contains expressions."
    if found_errors and ("firehose", "error-output-type") not in found_errors:
        return ("ErrorOutputPrefix must contain !{firehose:error-output-type} when it "
                "contains expressions.")
    partition_keys = [n for n, _ in found if n.startswith("partitionKeyFrom")]
    if any(n == "partitionKeyFromQuery" for n in partition_keys):
        return ("!{partitionKeyFromQuery:...} needs a MetadataExtraction processor (jq), "
                "which the lab does not run: return partition keys from a Lambda function "
                "and use !{partitionKeyFromLambda:...}.")
    if partition_keys and not dynamic:
        return "Prefix uses partition keys, but dynamic partitioning is not enabled."
    if partition_keys and not lambda_keys:
        return "!{partitionKeyFromLambda:...} needs a Lambda processor."
    if dynamic and not partition_keys:
        return ("With dynamic partitioning enabled, Prefix must use at least one partition "
                "key expression, such as !{partitionKeyFromLambda:customer}.")
    if dynamic and not error_prefix:
        return "With dynamic partitioning enabled, ErrorOutputPrefix must be specified."
    return None


def error_prefix_template(prefix: str, error_prefix: str | None) -> str:
    """The template failed records go under."""
    if error_prefix:
        return error_prefix
    return prefix + "!{firehose:error-output-type}/!{timestamp:" + DEFAULT_TIME_FOLDERS + "}"


def data_prefix_template(prefix: str, dynamic: bool) -> str:
    """The template delivered records go under (the time folders added when it has none)."""
    if dynamic or has_timestamp(prefix):
        return prefix
    return prefix + "!{timestamp:" + DEFAULT_TIME_FOLDERS + "}"


def evaluate(template: str, moment: datetime, *, partition_keys: dict | None = None,
             error_type: str | None = None, times: bool = True) -> str:
    """The template with its expressions replaced. ``times=False`` leaves the timestamp
    expressions (and random strings) for later: what records of one object share.
    KeyError names a partition key the record does not have."""

    def replace(match):
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            return _format_time(value, moment) if times else match.group(0)
        if namespace == "firehose":
            if value == "error-output-type":
                return error_type or ""
            return _random_string() if times else match.group(0)
        return str((partition_keys or {})[value])

    return _EXPRESSION.sub(replace, template)


def _random_string() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(11))


def extension(compression: str, file_extension: str | None) -> str:
    if file_extension:
        return file_extension
    return ".gz" if compression == "GZIP" else ""


def object_key(prefix: str, stream_name: str, version: str, moment: datetime,
               suffix_extension: str) -> str:
    """``<prefix><stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><extension>``."""
    return (f"{prefix}{stream_name}-{version}-{moment.strftime('%Y-%m-%d-%H-%M-%S')}-"
            f"{uuid.uuid4()}{suffix_extension}")


def moment_of(arrival_ms: int, time_zone=None) -> datetime:
    """A record's arrival time, in the destination's time zone (UTC by default)."""
    return datetime.fromtimestamp(arrival_ms / 1000, time_zone or timezone.utc)
