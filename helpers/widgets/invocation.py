"""The invocation playground widget: a view over ``PlaygroundModel``.

    view = helpers.invocation_playground(lab)   # shows the widget
    view.invocation_type.value = "Event"        # drive it from code, as a learner would
    view.invoke_button.click()
    view.wait()                                 # until the invokes have answered
    view.timeline()                             # the timeline, as a chart in a cell

Controls on the left, what happened on the right: the response, the asynchronous
queue, the execution environments and a timeline. It refreshes itself while background
work happens. Introduced in notebook 01, used in 01-03.
"""

from __future__ import annotations

import json
from collections import Counter

import ipywidgets as widgets

from ..playgrounds.base import wait_until
from ..playgrounds.invocation import BEHAVIOURS, INVOCATION_TYPES, MAX_COUNT, PlaygroundModel
from . import html
from .base import PlaygroundView

__all__ = ["InvocationPlayground", "invocation_playground"]


def invocation_playground(lab, function_name: str = "playground-demo") -> InvocationPlayground:
    """Create the playground for ``lab`` (deploys its demo function) and return the view."""
    return InvocationPlayground(PlaygroundModel(lab, function_name))


class InvocationPlayground(PlaygroundView):
    """Controls bound to a PlaygroundModel, and live views of what it did."""

    title = "Invocation playground"

    def __init__(self, model: PlaygroundModel):
        super().__init__(model)
        self.invocation_type = widgets.ToggleButtons(
            options=INVOCATION_TYPES, value=model.invocation_type, description="Type")
        self.payload = widgets.Textarea(
            value=model.payload_text, description="Payload",
            layout=widgets.Layout(width="420px", height="80px"))
        self.behaviour = widgets.Dropdown(
            options=BEHAVIOURS, value=model.behaviour, description="Function")
        self.tail_logs = widgets.Checkbox(value=model.tail_logs, description="Tail logs")
        self.count = widgets.BoundedIntText(
            value=model.count, min=1, max=MAX_COUNT, description="Times",
            layout=widgets.Layout(width="160px"))
        self.invoke_button = widgets.Button(description="Invoke", button_style="primary",
                                            icon="play")
        self.response = widgets.HTML()
        self.queue = widgets.HTML()
        self.environments = widgets.HTML()
        self.invoke_button.on_click(self._on_invoke)
        controls = widgets.VBox([self.invocation_type, self.payload, self.behaviour,
                                 widgets.HBox([self.tail_logs, self.count]),
                                 self.invoke_button, self.message])
        self.views = widgets.Tab(children=[self.response, self.queue, self.environments,
                                           self.timeline_pane])
        for index, title in enumerate(("Response", "Async queue", "Environments",
                                       "Timeline")):
            self.views.set_title(index, title)
        self._build([controls, self.views], [self.invoke_button])

    # -- input ---------------------------------------------------------------------------

    def _read_controls(self):
        self.model.invocation_type = self.invocation_type.value
        self.model.payload_text = self.payload.value
        self.model.behaviour = self.behaviour.value
        self.model.tail_logs = self.tail_logs.value
        self.model.count = int(self.count.value)
        self.model.validate()

    def _on_invoke(self, _button=None):
        self._start(self._invoke, f"Invoking {int(self.count.value)} × "
                                  f"{self.invocation_type.value} …", self._read_controls)

    def _invoke(self):
        results = self.model.invoke()
        statuses = Counter(result.status for result in results)
        worst = max((html.level_of_status(r.status, r.function_error) for r in results),
                    key=["ok", "warn", "error"].index)
        text = ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items(),
                                                                           key=str))
        return f"Lambda answered: {text}.", worst

    def _settle(self, timeout: float) -> None:
        """Asynchronous events retry in the background: wait until each has ended."""
        wait_until(lambda: self.model.pending_events() == 0, timeout,
                   "the asynchronous events to end (retries wait about 1 and 2 minutes in "
                   "AWS; lab.speedup makes them shorter)")

    # -- output --------------------------------------------------------------------------

    def _wants(self, event) -> bool:
        return event.get("function") == self.model.function_arn or event.kind == "event.retry"

    def _pending(self) -> bool:
        return self.model.pending_events() > 0

    def _render(self):
        self.response.value = self._response_html()
        rows = self.model.queue_rows()
        for row in rows:
            row["level"] = _queue_level(row["state"])
        self.queue.value = html.table(
            rows, [("request_id", "Request id"), ("attempts", "Attempts"), ("state", "State")],
            "No asynchronous events yet: choose Event and press Invoke.",
            levels={"state": "level"})
        self.environments.value = html.table(
            self.model.environment_rows(),
            [("environment", "Environment"), ("state", "State"), ("starts", "Starts"),
             ("invocations", "Invocations")],
            "No execution environment is running for the demo function.")

    def _response_html(self) -> str:
        results = list(self.model.results)
        if not results:
            return html.muted("Press Invoke to see Lambda's answer here.")
        rows = []
        for number, result in enumerate(results, 1):
            rows.append({"number": number, "status": result.status,
                         "error": result.function_error or result.api_error or "",
                         "request_id": (result.request_id or "")[:8],
                         "ms": f"{result.seconds * 1000:.0f}",
                         "level": html.level_of_status(result.status, result.function_error)})
        counts = Counter(row["status"] for row in rows)
        summary = ", ".join(f"{count} × {status}" for status, count in counts.items())
        parts = [f"<p style='margin:2px 0'><b>{html.escape(results[0].invocation_type)}: "
                 f"{html.escape(summary)}</b></p>",
                 html.table(rows, [("number", "#"), ("status", "Status"),
                                   ("error", "FunctionError or API error"),
                                   ("request_id", "Request id"), ("ms", "ms")],
                            "", levels={"status": "level", "error": "level"},
                            max_height=180)]
        for number, result in enumerate(results[:5], 1):
            parts.append(html.details(
                f"#{number} in full: {html.escape(result.summary)}", _detail(result),
                open_=len(results) == 1))
        if len(results) > 5:
            parts.append(html.muted(f"… and {len(results) - 5} more, as in the table."))
        return "".join(parts)

    def _static_html(self) -> str:
        return self._response_html()


def _detail(result) -> str:
    payload = result.payload
    try:
        payload = json.dumps(json.loads(payload), indent=2) if payload else "(empty)"
    except ValueError:
        pass
    headers = "\n".join(f"{k}: {v}" for k, v in sorted(result.headers.items()))
    block = []
    if result.api_error is None:
        block.append(html.pre(headers, 160))
        block.append(html.pre(payload, 240))
    if result.log_tail:
        block.append(html.details("Log tail (decoded LogResult)", html.pre(result.log_tail)))
    return "".join(block)


def _queue_level(state: str) -> str:
    if state.startswith("succeeded"):
        return "ok"
    if state.startswith(("dropped", "sent to")) or "error" in state or "timeout" in state:
        return "error" if not state.startswith("sent to") else "warn"
    return "info"
