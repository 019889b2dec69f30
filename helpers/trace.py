"""The trace: one ledger of everything the lab's Lambda service does.

Every invoke, queued event, attempt, retry, environment change and outcome is recorded
here as a ``TraceEvent``. Code can query it (``trace.events(kind="event.completed")``)
or subscribe to it (widgets do); tests assert on it. Introduced in notebook 01.

Kinds, and their main fields:

- ``invoke``: request_id, function, invocation_type, source ("api" or a service)
- ``throttle``: request_id, function, qualifier, version, reason
- ``attempt.start`` / ``attempt.end``: request_id, function, attempt, environment,
  at the start qualifier (the version or alias invoked, or None), version and cold,
  and at the end outcome ("response", "error", "init_error", "timeout", "exit"),
  error_type and duration_ms
- ``environment``: environment, function, state ("initializing", "idle", "busy",
  "retired", "dead")
- ``event.queued``: request_id, function, qualifier (an asynchronous event entered the
  queue)
- ``event.retry``: request_id, attempt, reason, aws_delay_s, lab_delay_s
- ``event.completed``: request_id, function, qualifier, outcome ("succeeded",
  "delivered", "dropped"), condition, targets, reason, and destination_error /
  dead_letter_error when a delivery failed. Each queued event completes exactly once.
- ``front.hook_error`` / ``front.error``: a hook of the lab's front, or the front itself,
  failed (service, operation, error); the client still got an answer

Each integration records its own kinds, described in its module: ``s3.notification``
(``helpers.push.s3``), ``mapping.*`` and ``batch.*`` (``helpers.pollers``),
``apigateway.*``, ``alb.*``, ``function_url.*`` and ``cloudfront.*``
(``helpers.front_doors``: the shape every front door shares is in
``helpers.front_doors.http``), ``alarm.*``
(``helpers.push.alarms``). Lambda's CloudWatch metrics are read off the trace
(``helpers.lambda_.metrics``).

The trace is bounded in events and in bytes: a text field longer than ``MAX_FIELD_CHARS``
is kept shortened (with a marker saying how much was left out), and past ``max_bytes``
(an estimate of what the events hold) the oldest events go first, so a long session
with large bodies cannot fill the kernel's memory.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field

MAX_FIELD_CHARS = 64 * 1024
MAX_BYTES = 64 * 1024 * 1024
EVENT_OVERHEAD = 200  # bytes an event costs beyond its fields (object, dict, seq, time)

__all__ = ["MAX_BYTES", "MAX_FIELD_CHARS", "Trace", "TraceEvent"]


def _bounded(value, depth: int = 0):
    """(``value`` with over-long texts shortened, its approximate size in bytes)."""
    if isinstance(value, str):
        if len(value) > MAX_FIELD_CHARS:
            left_out = len(value) - MAX_FIELD_CHARS
            value = value[:MAX_FIELD_CHARS] + f"... [{left_out} more characters not kept]"
        return value, len(value) + 50
    if isinstance(value, (bytes, bytearray)):
        if len(value) > MAX_FIELD_CHARS:
            value = bytes(value[:MAX_FIELD_CHARS])
        return value, len(value) + 40
    if depth > 6 or value is None or isinstance(value, (bool, int, float)):
        return value, 32
    if isinstance(value, dict):
        total, changed, items = 64, False, {}
        for key, item in value.items():
            kept, size = _bounded(item, depth + 1)
            changed |= kept is not item
            items[key] = kept
            total += size + len(str(key)) + 50
        return (items if changed else value), total
    if isinstance(value, (list, tuple)):
        total, changed, items = 64, False, []
        for item in value:
            kept, size = _bounded(item, depth + 1)
            changed |= kept is not item
            items.append(kept)
            total += size + 8
        return ((type(value)(items) if changed else value), total)
    return value, 64


@dataclass(frozen=True)
class TraceEvent:
    seq: int
    time: float  # epoch seconds (wall clock)
    kind: str
    fields: dict = field(default_factory=dict)

    def __getitem__(self, name):
        return self.fields[name]

    def get(self, name, default=None):
        return self.fields.get(name, default)


class Trace:
    """Thread-safe, append-only, bounded: past ``limit`` events or ``max_bytes`` (an
    estimate), the oldest events go first."""

    def __init__(self, limit: int = 200_000, max_bytes: int = MAX_BYTES):
        self.limit = limit
        self.max_bytes = max_bytes
        self._events: deque = deque()  # (event, size)
        self._bytes = 0
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._subscribers: list = []

    @property
    def bytes(self) -> int:
        """What the kept events hold, approximately."""
        return self._bytes

    def record(self, kind: str, **fields) -> TraceEvent:
        fields, size = _bounded(fields)
        size += EVENT_OVERHEAD + len(kind)
        with self._lock:
            event = TraceEvent(next(self._seq), time.time(), kind, fields)
            self._events.append((event, size))
            self._bytes += size
            while len(self._events) > self.limit or (
                    self._bytes > self.max_bytes and len(self._events) > 1):
                self._bytes -= self._events.popleft()[1]
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a broken subscriber must not break the service
                pass
        return event

    def subscribe(self, callback):
        """Call ``callback(event)`` for every new event; returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe():
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def events(self, kind: str | None = None, **match) -> list[TraceEvent]:
        """Recorded events, oldest first, optionally of one kind and matching fields."""
        with self._lock:
            events = [event for event, _ in self._events]
        if kind is not None:
            events = [e for e in events if e.kind == kind or e.kind.startswith(kind + ".")]
        for name, value in match.items():
            events = [e for e in events if e.fields.get(name) == value]
        return events

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._bytes = 0
