"""The routing playground widget: a view over ``RoutingModel``.

    playground = helpers.routing_playground(lab)   # shows the widget
    playground.service.value = "EventBridge"        # drive it from code, as a learner would
    playground.publish_button.click()
    playground.wait()                               # until every invoke it caused has ended
    playground.timeline()                           # the attempts, as a plotly chart

Controls on the left (SNS or EventBridge, the order's kind and total, what the billing
function does); for every event published, each subscription or rule: matched or why
not, and the asynchronous invoke it caused with its attempts; a timeline of the attempts.
Introduced in notebook 12.
"""

from __future__ import annotations

import html
import json
import threading
import time

import ipywidgets as widgets

from ..playgrounds.routing import BEHAVIOURS, KINDS, SERVICES, RoutingModel

OUTCOME_COLORS = {"response": "#43a047", "error": "#e53935", "timeout": "#fb8c00"}

__all__ = ["RoutingPlayground", "routing_playground"]


def routing_playground(lab, prefix: str = "routing-demo") -> RoutingPlayground:
    return RoutingPlayground(RoutingModel(lab, prefix))


def _attempts(model: RoutingModel) -> list[dict]:
    """Every attempt of the playground's functions: function, start, end, outcome."""
    wanted = set(model.function_arns())
    starts, found = {}, []
    for event in model.lab.trace.events():
        if event.get("function") not in wanted:
            continue
        key = (event.get("request_id"), event.get("attempt"))
        if event.kind == "attempt.start":
            starts[key] = event
        elif event.kind == "attempt.end" and key in starts:
            found.append({"function": event["function"].rsplit(":", 1)[-1],
                          "start": starts[key].time, "end": event.time,
                          "attempt": event["attempt"], "outcome": event["outcome"]})
    return found


class TimelineFigure:
    """The attempts as a plotly chart in JupyterLab, as a table where plotly cannot run."""

    def __init__(self, attempts: list[dict]):
        self.attempts = attempts

    def figure(self):
        import plotly.graph_objects as go  # imported on use: plotly is needed only to draw

        origin = min((a["start"] for a in self.attempts), default=0.0)
        fig = go.Figure()
        for outcome, color in OUTCOME_COLORS.items():
            shown = [a for a in self.attempts if a["outcome"] == outcome]
            if shown:
                fig.add_trace(go.Bar(
                    name=outcome, orientation="h", y=[a["function"] for a in shown],
                    base=[a["start"] - origin for a in shown],
                    x=[max(a["end"] - a["start"], 0.01) for a in shown],
                    marker={"color": color}, text=[f"#{a['attempt']}" for a in shown],
                    hovertemplate="attempt %{text}<br>%{x:.3f} s<extra></extra>"))
        fig.update_layout(barmode="overlay", height=220, margin={"l": 130, "r": 20, "t": 30,
                                                                 "b": 40},
                          title={"text": "Attempts of the routed invokes", "font": {"size": 13}},
                          xaxis={"title": {"text": "seconds since the first attempt"}},
                          paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
        return fig

    def table(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(a['function'])}</td><td>{a['attempt']}</td>"
                       f"<td>{html.escape(a['outcome'])}</td></tr>" for a in self.attempts)
        return ("<table><tr><th>Function</th><th>Attempt</th><th>Outcome</th></tr>"
                f"{rows}</table>" if rows else "<p>Nothing has run yet.</p>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        text = f"{len(self.attempts)} attempt(s)"
        if not self.attempts:
            return {"text/html": self.table(), "text/plain": "Nothing has run yet."}
        import plotly.io as pio

        return {"application/vnd.plotly.v1+json": json.loads(pio.to_json(self.figure())),
                "text/html": self.table(), "text/plain": text}


class RoutingPlayground(widgets.VBox):
    """Controls bound to a RoutingModel, and a live view of where each event went."""

    def __init__(self, model: RoutingModel):
        self.model = model
        self.service = widgets.ToggleButtons(options=SERVICES, value=model.service,
                                             description="Through")
        self.kind = widgets.Dropdown(options=KINDS, value=model.kind, description="Kind")
        self.total = widgets.BoundedFloatText(value=model.total, min=0, max=1_000_000,
                                              description="Total")
        self.behaviour = widgets.Dropdown(options=BEHAVIOURS, value=model.behaviour,
                                          description="Billing")
        self.publish_button = widgets.Button(description="Publish", button_style="primary")
        self.message = widgets.HTML()
        self.routes = widgets.HTML()
        self._worker = None
        self.publish_button.on_click(self._on_publish)
        super().__init__([widgets.HBox([widgets.VBox([self.service, self.kind, self.total,
                                                      self.behaviour, self.publish_button,
                                                      self.message]), self.routes])])
        self._unsubscribe = model.lab.trace.subscribe(self._on_trace)
        self._render()

    def _on_publish(self, _button) -> None:
        if self._worker is not None and self._worker.is_alive():
            self.message.value = "Still publishing the last event."
            return
        self.model.service, self.model.kind = self.service.value, self.kind.value
        self.model.total, self.model.behaviour = float(self.total.value), self.behaviour.value
        self.message.value = "Publishing ..."
        self._worker = threading.Thread(target=self._publish, daemon=True)
        self._worker.start()

    def _publish(self) -> None:
        try:
            item = self.model.publish()
            self.message.value = html.escape(item.error or f"{item.service} answered in "
                                             f"{item.seconds * 1000:.0f} ms")
        except Exception as error:  # bad input or a stopped lab: said in the widget
            self.message.value = html.escape(f"{type(error).__name__}: {error}")
        self._render()

    def _on_trace(self, event) -> None:
        if event.kind.startswith(("sns.", "events.", "attempt.end", "event.completed")):
            self._render()

    def _render(self) -> None:
        parts = []
        for item in list(self.model.publications)[-8:]:
            rows = "".join(
                f"<tr><td>{html.escape(r['route'])}</td><td>"
                f"{'matched' if r['matched'] else 'no: ' + html.escape(r['why'])}</td>"
                f"<td>{html.escape(', '.join(r['attempts']))}</td>"
                f"<td>{html.escape(r['outcome'])}</td></tr>" for r in self.model.routes(item))
            stamp = time.strftime("%H:%M:%S", time.localtime(item.started))
            parts.append(f"<p><b>{stamp} {item.service}</b>: {item.kind} of {item.total:g}"
                         f"</p><table><tr><th>Subscription or rule</th><th>Matched</th>"
                         f"<th>Attempts</th><th>Outcome</th></tr>{rows}</table>")
        self.routes.value = "".join(parts) or "<p>Nothing published yet: press Publish.</p>"

    def wait(self, timeout: float = 60.0) -> None:
        """For code cells: wait for the last click's event and every invoke it caused."""
        if self._worker is not None:
            self._worker.join(timeout)
        if not self.model.wait(timeout):
            raise TimeoutError(f"An invoke of the playground had not ended after {timeout:g} s "
                               "(retries wait about 1 and 2 minutes in AWS; see lab.speedup).")
        self._render()

    def timeline(self) -> TimelineFigure:
        return TimelineFigure(_attempts(self.model))

    def close(self) -> None:
        self._unsubscribe()
        super().close()
