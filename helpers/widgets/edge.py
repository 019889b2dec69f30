"""The edge view widget: a view over ``EdgeModel``.

    view = helpers.edge_view(lab)     # shows the widget (sets up its distribution)
    view.path.value = "/about"        # drive it from code, as a learner would
    view.send_button.click()
    view.wait()                       # until the answer is in

The request's settings on top (the path, the ``group`` cookie, a switch that makes the
origin-response function set a disallowed header), Send and Invalidate; below, the
latest request's way through the stages (viewer-request, cache, origin-request, origin,
origin-response, viewer-response): which ran and what each changed, hit or miss, and
the answer; then the requests so far. A Timeline tab draws the function's environments.
Introduced in notebook 10.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..playgrounds.edge import GROUPS, EdgeModel
from . import html
from .base import PlaygroundView

__all__ = ["EdgeView", "edge_view"]


def edge_view(lab, name: str = "edge-demo") -> EdgeView:
    return EdgeView(EdgeModel(lab, name))


class EdgeView(PlaygroundView):
    """Controls bound to an EdgeModel; each request's way through the edge."""

    title = "Lambda@Edge view"

    def __init__(self, model: EdgeModel):
        super().__init__(model)
        self.path = widgets.Text(value=model.path, description="Path",
                                 layout=widgets.Layout(width="300px"))
        self.group = widgets.ToggleButtons(options=GROUPS, value=model.group,
                                           description="group cookie")
        self.broken = widgets.ToggleButton(value=model.broken, icon="bomb",
                                           description="origin-response sets X-Cache")
        self.send_button = widgets.Button(description="Send", button_style="primary",
                                          icon="paper-plane")
        self.invalidate_button = widgets.Button(description="Invalidate /*", icon="eraser")
        self.way = widgets.HTML()
        self.history = widgets.HTML()
        self.send_button.on_click(self._on_send)
        self.invalidate_button.on_click(self._on_invalidate)
        self.views = widgets.Tab(children=[widgets.VBox([self.way, self.history]),
                                           self.timeline_pane])
        for index, title in enumerate(("The way through the edge", "Timeline")):
            self.views.set_title(index, title)
        controls = widgets.VBox([widgets.HBox([self.path, self.broken]), self.group,
                                 widgets.HBox([self.send_button, self.invalidate_button]),
                                 self.message])
        self._build([controls, self.views], [self.send_button, self.invalidate_button])

    def _read_controls(self) -> None:
        self.model.path, self.model.group = self.path.value, self.group.value
        self.model.broken = self.broken.value
        self.model.validate()

    def _on_send(self, _button=None) -> None:
        self._start(self._send, f"GET {self.path.value} …", self._read_controls)

    def _send(self):
        result = self.model.send()
        return result.summary, "error" if result.error else html.level_of_status(result.status)

    def _on_invalidate(self, _button=None) -> None:
        self._start(lambda: (f"Invalidation {self.model.invalidate()}: the cache is empty",
                             "ok"), "Invalidating …")

    def _wants(self, event) -> bool:
        return event.kind.startswith(("cloudfront", "attempt"))

    def _render(self) -> None:
        self.way.value = self._way_html()
        self.history.value = self._history_html()

    def _static_html(self) -> str:
        return self._way_html()

    def _way_html(self) -> str:
        results = self.model.results
        if not results:
            return html.muted("Press Send.")
        result = results[-1]
        rows = [dict(row, level="ok" if row["ran"] else "muted",
                     ran="ran" if row["ran"] else "-") for row in self.model.steps(result)]
        table = html.table(rows, [("stage", "Stage"), ("ran", "Ran"), ("what", "What happened")],
                           "No record of this request.", levels={"what": "level",
                                                                 "ran": "level"})
        head = html.span(f"GET {result.path}: {result.summary}",
                         html.level_of_status(result.status), bold=True)
        body = html.pre(result.body, 120) if result.body else ""
        return f"<div>{head}</div>{table}{body}"

    def _history_html(self) -> str:
        rows = [{"path": r.path, "group": r.group, "status": r.status,
                 "cache": r.header("X-Cache") or "", "ms": f"{r.seconds * 1000:.0f}",
                 "level": html.level_of_status(r.status)}
                for r in reversed(self.model.results[-10:])]
        return "<b>Requests so far</b>" + html.table(
            rows, [("path", "Path"), ("group", "Cookie"), ("status", "Status"),
                   ("cache", "X-Cache"), ("ms", "ms")], "None yet.", levels={"status": "level"})
