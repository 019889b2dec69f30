"""A timeline of what Lambda did, read from the lab's trace: the data behind the drawing.

Each execution environment of the watched functions is a lane. Every attempt is a span
on its environment's lane: a cold start's span begins with its Init phase, a warm
start's does not. Asynchronous retries are links from one attempt's end to the next
attempt's start, labelled with the wait (the lab's, and AWS's). Throttled invokes are
marks on a lane of their own. ``helpers.widgets.timeline`` draws it with plotly; tests
read it directly. Introduced in notebook 01, used by every playground.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

THROTTLED_LANE = "throttled"

__all__ = ["THROTTLED_LANE", "Link", "Mark", "Span", "Timeline", "environment_names",
           "from_trace"]


@dataclass
class Span:
    """A stretch of time on a lane: ``kind`` is "init" or "run"."""

    lane: str
    start: float  # epoch seconds
    end: float
    kind: str
    outcome: str  # "response", "error", "timeout", ..., or "running"
    request_id: str
    label: str = ""
    attempt: int = 1
    cold: bool = False

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)


@dataclass
class Link:
    """The wait between two attempts of one asynchronous event."""

    request_id: str
    start: float
    end: float
    from_lane: str
    to_lane: str
    lab_delay_s: float
    aws_delay_s: float
    reason: str


@dataclass
class Mark:
    """A moment: a throttled invoke."""

    lane: str
    time: float
    request_id: str
    text: str


@dataclass
class Timeline:
    spans: list[Span] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    lanes: list[str] = field(default_factory=list)

    @property
    def origin(self) -> float:
        """The first moment shown: the x axis counts seconds from here."""
        moments = ([s.start for s in self.spans] + [m.time for m in self.marks])
        return min(moments, default=0.0)

    @property
    def empty(self) -> bool:
        return not self.spans and not self.marks

    def attempts(self) -> list[Span]:
        """The "run" spans, one per attempt, oldest first."""
        return [span for span in self.spans if span.kind == "run"]


def _unqualified(function_arns) -> set[str]:
    return {arn.split(":$LATEST")[0] for arn in function_arns}


def environment_names(trace, function_arns, events=None) -> dict[str, str]:
    """Each execution environment's name ("env 1", "env 2", ... in the order they first
    ran; prefixed with the function's name when there are several functions).
    ``events``: the trace's events already read (one snapshot for a whole drawing)."""
    wanted = _unqualified(function_arns)
    several = len(wanted) > 1
    names: dict[str, str] = {}
    counters: dict[str, int] = {}
    for event in (trace.events() if events is None else events):
        if event.kind != "attempt.start":
            continue
        if event.get("function") not in wanted or event["environment"] in names:
            continue
        function = event["function"].rsplit(":", 1)[-1]
        counters[function] = counters.get(function, 0) + 1
        number = counters[function]
        names[event["environment"]] = f"{function} env {number}" if several else f"env {number}"
    return names


def from_trace(trace, function_arns, labels: dict | None = None, limit: int = 60,
               now: float | None = None) -> Timeline:
    """The latest ``limit`` attempts of the functions ``function_arns`` (unqualified ARNs),
    with their environments, retry waits and throttles. ``labels`` maps Lambda request
    ids to short texts shown on the spans (an S3 key, a batch, an HTTP request)."""
    wanted = _unqualified(function_arns)
    labels = labels or {}
    now = time.time() if now is None else now
    events = trace.events()  # one snapshot: the lanes and the spans agree
    lanes = environment_names(trace, function_arns, events)
    starts: dict[tuple, object] = {}
    ends: dict[tuple, object] = {}
    retries: dict[str, list] = {}
    throttles = []
    invoked: dict[str, float] = {}
    for event in events:
        if event.kind == "event.retry":
            retries.setdefault(event["request_id"], []).append(event)
        elif event.get("function") not in wanted:
            continue
        elif event.kind == "invoke":
            invoked.setdefault(event["request_id"], event.time)
        elif event.kind == "attempt.start":
            starts[(event["request_id"], event["attempt"])] = event
        elif event.kind == "attempt.end":
            ends[(event["request_id"], event["attempt"])] = event
        elif event.kind == "throttle":
            throttles.append(event)
    keys = list(starts)[-limit:]
    timeline = Timeline()
    for key in keys:
        start = starts[key]
        end = ends.get(key)
        lane = lanes[start["environment"]]
        finished = end.time if end is not None else now
        outcome = end["outcome"] if end is not None else "running"
        run_start = start.time
        if start["cold"] and end is not None:
            # the attempt's wall time less the handler's own duration is the Init phase
            run_start = max(start.time, finished - end["duration_ms"] / 1000)
            timeline.spans.append(Span(lane, start.time, run_start, "init", outcome,
                                       key[0], labels.get(key[0], ""), key[1], True))
        timeline.spans.append(Span(lane, run_start, finished, "run", outcome, key[0],
                                   labels.get(key[0], ""), key[1], start["cold"]))
    shown = set(keys)
    for request_id, waits in retries.items():
        for retry in waits:
            before = (request_id, retry["attempt"])
            after = (request_id, retry["attempt"] + 1)
            if before in shown and after in shown and before in ends:
                timeline.links.append(Link(
                    request_id, ends[before].time, starts[after].time,
                    lanes[starts[before]["environment"]], lanes[starts[after]["environment"]],
                    retry["lab_delay_s"], retry["aws_delay_s"], retry["reason"]))
    # throttles since the first shown request arrived (a throttle can come before the
    # first attempt of its burst has started)
    first = min((invoked.get(key[0], starts[key].time) for key in keys), default=None)
    for event in throttles:
        if first is None or event.time >= first:
            timeline.marks.append(Mark(THROTTLED_LANE, event.time, event["request_id"],
                                       event.get("reason") or "throttled"))
    used = {span.lane for span in timeline.spans}
    timeline.lanes = [lane for lane in lanes.values() if lane in used]
    if timeline.marks:
        timeline.lanes.append(THROTTLED_LANE)
    return timeline
