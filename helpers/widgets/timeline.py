"""The timeline, drawn with plotly: execution environments against time.

``TimelineFigure(timeline)`` displays as an interactive plotly chart in JupyterLab
(plotly's own JupyterLab renderer, no network needed) and carries a plain HTML table of
the same attempts for places that cannot run JavaScript (a notebook on a website).
The playgrounds show it in their Timeline tab; ``playground.timeline()`` returns one
for a notebook cell. Introduced in notebook 01.
"""

from __future__ import annotations

import json
import time

from ..playgrounds.timeline import THROTTLED_LANE, Timeline
from . import html

# Mid-tone colours that read on JupyterLab's light and dark backgrounds alike (plotly
# draws on a canvas of its own: theme variables do not reach it).
OUTCOME_COLORS = {"response": "#43a047", "error": "#e53935", "timeout": "#fb8c00",
                  "init_error": "#8e24aa", "exit": "#6d4c41", "running": "#1e88e5"}
INIT_COLOR = "#90a4ae"
TEXT_COLOR = "#8c8c8c"
GRID_COLOR = "rgba(140, 140, 140, 0.25)"
OUTCOME_NAMES = {"response": "succeeded", "error": "function error", "timeout": "timed out",
                 "init_error": "Init failed", "exit": "crashed", "running": "running"}

__all__ = ["TimelineFigure", "chart_bundle", "figure", "lay_out"]


def figure(timeline: Timeline, title: str = "Execution environments over time"):
    """A plotly Figure of ``timeline``: one row per execution environment."""
    import plotly.graph_objects as go  # imported on use: plotly is needed only to draw

    origin = timeline.origin
    last = max([s.end for s in timeline.spans] + [m.time for m in timeline.marks])
    shortest = max((last - origin) * 0.008, 0.002)  # a 1 ms run still shows as a bar
    fig = go.Figure()
    init = [s for s in timeline.spans if s.kind == "init"]
    if init:
        fig.add_trace(go.Bar(
            name="Init (cold start)", orientation="h", y=[s.lane for s in init],
            base=[s.start - origin for s in init], x=[max(s.seconds, shortest) for s in init],
            marker={"color": INIT_COLOR, "pattern": {"shape": "/"}},
            hovertemplate=[f"Init phase of a cold start<br>{_short(s.request_id)}"
                           f"<br>%{{x:.3f}} s<extra></extra>" for s in init]))
    for outcome, color in OUTCOME_COLORS.items():
        runs = [s for s in timeline.attempts() if s.outcome == outcome]
        if not runs:
            continue
        fig.add_trace(go.Bar(
            name=OUTCOME_NAMES[outcome], orientation="h", y=[s.lane for s in runs],
            base=[s.start - origin for s in runs], x=[max(s.seconds, shortest) for s in runs],
            marker={"color": color}, text=[_bar_text(s) for s in runs],
            textposition="inside", insidetextanchor="start",
            hovertemplate=[_hover(s) for s in runs]))
    for number, link in enumerate(timeline.links):
        fig.add_trace(go.Scatter(
            x=[link.start - origin, link.end - origin], y=[link.from_lane, link.to_lane],
            mode="lines", line={"color": TEXT_COLOR, "dash": "dot", "width": 1.5},
            showlegend=False, hoverinfo="text",
            text=f"retry after {link.reason}: waited {link.lab_delay_s:.1f} s here, "
                 f"{link.aws_delay_s:g} s in AWS"))
        fig.add_annotation(x=(link.start + link.end) / 2 - origin, y=link.to_lane,
                           text=f"wait {link.aws_delay_s:g} s in AWS", showarrow=False,
                           yshift=14 if number % 2 == 0 else -14,
                           font={"size": 10, "color": TEXT_COLOR})
    if timeline.marks:
        fig.add_trace(go.Scatter(
            name="throttled (429)", mode="markers", y=[m.lane for m in timeline.marks],
            x=[m.time - origin for m in timeline.marks],
            marker={"symbol": "x", "size": 10, "color": OUTCOME_COLORS["error"]},
            hovertemplate=[f"throttled: {m.text}<br>{_short(m.request_id)}<extra></extra>"
                           for m in timeline.marks]))
    return lay_out(fig, title, timeline.lanes, origin)


def lay_out(fig, title: str, lanes: list[str], origin: float, left: int = 70):
    """What every timeline chart shares: bars on ``lanes`` (top to bottom) against the
    seconds since ``origin``, colours that read on light and dark backgrounds."""
    lanes = list(reversed(lanes))
    fig.update_layout(
        title={"text": title, "font": {"size": 13}}, barmode="overlay", bargap=0.35,
        height=140 + 34 * max(len(lanes), 1), margin={"l": left, "r": 20, "t": 40, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        font={"color": TEXT_COLOR, "size": 11},
        legend={"orientation": "h", "y": -0.25, "x": 0},
        xaxis={"title": {"text": f"seconds since {_clock(origin)}"}, "rangemode": "tozero",
               "gridcolor": GRID_COLOR, "zeroline": False},
        yaxis={"categoryorder": "array", "categoryarray": lanes, "gridcolor": GRID_COLOR})
    return fig


def chart_bundle(fig, table_html: str, text: str) -> dict:
    """A chart's MIME bundle: plotly's JSON for JupyterLab, ``table_html`` for pages that
    cannot run it, ``text`` for a terminal."""
    import plotly.io as pio

    return {"application/vnd.plotly.v1+json": {
                **json.loads(pio.to_json(fig)),
                "config": {"displaylogo": False, "responsive": True}},
            "text/html": table_html, "text/plain": text}


def _short(request_id: str) -> str:
    return f"request {request_id[:8]}…"


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment)) + f".{int(moment % 1 * 1000):03d}"


def _bar_text(span) -> str:
    start = "cold" if span.cold else "warm"
    label = f" {span.label}" if span.label else ""
    retry = f" #{span.attempt}" if span.attempt > 1 else ""
    return f"{start}{retry}{label}"


def _hover(span) -> str:
    start = "cold start" if span.cold else "warm start"
    label = f"<br>{html.escape(span.label)}" if span.label else ""
    return (f"attempt {span.attempt}, {start}: {OUTCOME_NAMES.get(span.outcome, span.outcome)}"
            f"{label}<br>{_short(span.request_id)}<br>%{{x:.3f}} s<extra></extra>")


def static_table(timeline: Timeline) -> str:
    """The attempts as an HTML table: what a page that cannot run plotly shows."""
    origin = timeline.origin
    rows = [{"at": f"{span.start - origin:.3f}", "lane": span.lane,
             "start": "cold" if span.cold else "warm", "attempt": span.attempt,
             "label": span.label, "ms": f"{span.seconds * 1000:.0f}",
             "outcome": OUTCOME_NAMES.get(span.outcome, span.outcome),
             "level": "ok" if span.outcome == "response" else
             "info" if span.outcome == "running" else "error"}
            for span in timeline.attempts()]
    rows += [{"at": f"{mark.time - origin:.3f}", "lane": THROTTLED_LANE, "start": "",
              "attempt": "", "label": mark.text, "ms": "", "outcome": "throttled (429)",
              "level": "error"} for mark in timeline.marks]
    rows.sort(key=lambda row: float(row["at"]))
    return html.table(rows, [("at", "s"), ("lane", "Environment"), ("start", "Start"),
                             ("attempt", "Attempt"), ("label", "What"),
                             ("ms", "Wall ms"), ("outcome", "Outcome")],
                      "Nothing has run yet.", levels={"outcome": "level"})


class TimelineFigure:
    """Displays as a plotly chart in JupyterLab, as a table elsewhere, as text in a terminal."""

    def __init__(self, timeline: Timeline, title: str = "Execution environments over time"):
        self.timeline = timeline
        self.title = title

    def mimebundle(self) -> dict:
        text = (f"{len(self.timeline.attempts())} attempt(s) in "
                f"{len(self.timeline.lanes)} lane(s)")
        if self.timeline.empty:
            empty = html.muted("Nothing has run yet: the timeline fills as Lambda works.")
            return {"text/html": empty, "text/plain": "Nothing has run yet."}
        return chart_bundle(figure(self.timeline, self.title), static_table(self.timeline),
                            text)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.mimebundle()
