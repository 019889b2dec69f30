"""The trace: one ledger of everything the lab's Lambda service does.

Every invoke, queued event, attempt, retry, environment change and outcome is recorded
here as a ``TraceEvent``. Code can query it (``trace.events(kind="event.completed")``)
or subscribe to it (widgets do); tests assert on it. Introduced in notebook 01.

Kinds, and their main fields:

- ``invoke``: request_id, function, invocation_type, source ("api" or a service)
- ``throttle``: request_id, function, reason
- ``attempt.start`` / ``attempt.end``: request_id, function, attempt, environment,
  cold, and at the end outcome ("response", "error", "init_error", "timeout", "exit"),
  error_type and duration_ms
- ``environment``: environment, function, state ("initializing", "idle", "busy",
  "retired", "dead")
- ``event.queued``: request_id, function (an asynchronous event entered the queue)
- ``event.retry``: request_id, attempt, reason, aws_delay_s, lab_delay_s
- ``event.completed``: request_id, outcome ("succeeded", "delivered", "dropped"),
  targets, reason. Each queued event completes exactly once.
- ``front.hook_error`` / ``front.error``: a hook of the lab's front, or the front itself,
  failed (service, operation, error); the client still got an answer

Each integration records its own kinds, described in its module: ``s3.notification``
(``helpers.push.s3``), ``mapping.*`` and ``batch.*`` (``helpers.pollers``),
``apigateway.*``, ``alb.*`` and ``function_url.*`` (``helpers.front_doors``: the shape
every front door shares is in ``helpers.front_doors.http``).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Trace", "TraceEvent"]


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
    """Thread-safe, append-only, bounded (the oldest events go first past ``limit``)."""

    def __init__(self, limit: int = 200_000):
        self.limit = limit
        self._events: list[TraceEvent] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._subscribers: list = []

    def record(self, kind: str, **fields) -> TraceEvent:
        with self._lock:
            event = TraceEvent(next(self._seq), time.time(), kind, fields)
            self._events.append(event)
            if len(self._events) > self.limit:
                del self._events[: len(self._events) - self.limit]
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
            events = list(self._events)
        if kind is not None:
            events = [e for e in events if e.kind == kind or e.kind.startswith(kind + ".")]
        for name, value in match.items():
            events = [e for e in events if e.fields.get(name) == value]
        return events

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
