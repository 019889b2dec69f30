"""The invocation playground widget: a view over ``PlaygroundModel``.

    view = helpers.invocation_playground(lab)   # shows the widget
    view.invocation_type.value = "Event"        # drive it from code, as a learner would
    view.invoke_button.click()
    view.wait()                                 # until the invokes have answered

Controls on the left, what happened on the right: the response, the asynchronous
queue, the execution environments and a timeline. It refreshes itself while background
work happens. Introduced in notebook 01, used in 01-03.
"""

from __future__ import annotations

import html
import json
import threading
import time

import ipywidgets as widgets

from ..playgrounds.invocation import BEHAVIOURS, INVOCATION_TYPES, MAX_COUNT, PlaygroundModel

REFRESH_S = 0.5

__all__ = ["InvocationPlayground", "invocation_playground"]


def invocation_playground(lab, function_name: str = "playground-demo") -> InvocationPlayground:
    """Create the playground for ``lab`` (deploys its demo function) and return the view."""
    return InvocationPlayground(PlaygroundModel(lab, function_name))


def _table(rows: list[dict], columns: list[tuple[str, str]], empty: str) -> str:
    if not rows:
        return f"<p style='color:#666'>{html.escape(empty)}</p>"
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{title}</th>"
                   for _, title in columns)
    body = "".join(
        "<tr>" + "".join(
            f"<td style='padding:2px 8px'>{html.escape(str(row.get(key, '')))}</td>"
            for key, _ in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class InvocationPlayground(widgets.VBox):
    """Controls bound to a PlaygroundModel, and live views of what it did."""

    def __init__(self, model: PlaygroundModel):
        self.model = model
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
        self.message = widgets.HTML()
        self.response = widgets.HTML()
        self.queue = widgets.HTML()
        self.environments = widgets.HTML()
        self.timeline = widgets.HTML()
        self._busy = threading.Event()
        self._closed = threading.Event()
        self._dirty = threading.Event()
        self._worker = None
        self.invoke_button.on_click(self._on_invoke)
        controls = widgets.VBox([self.invocation_type, self.payload, self.behaviour,
                                 widgets.HBox([self.tail_logs, self.count]),
                                 self.invoke_button, self.message])
        views = widgets.Tab(children=[self.response, self.queue, self.environments,
                                      self.timeline])
        for index, title in enumerate(("Response", "Async queue", "Environments",
                                       "Timeline")):
            views.set_title(index, title)
        self.views = views
        super().__init__([controls, views])
        self._unsubscribe = model.lab.trace.subscribe(lambda event: self._dirty.set())
        threading.Thread(target=self._refresh_loop, daemon=True,
                         name="lab-playground-refresh").start()
        self.refresh()

    # -- input ---------------------------------------------------------------------------

    def _read_controls(self):
        self.model.invocation_type = self.invocation_type.value
        self.model.payload_text = self.payload.value
        self.model.behaviour = self.behaviour.value
        self.model.tail_logs = self.tail_logs.value
        self.model.count = int(self.count.value)

    def _on_invoke(self, _button=None):
        if self._busy.is_set():
            self._show_message("Still invoking: wait for the answer, then press again.",
                               error=True)
            return
        try:
            self._read_controls()
            self.model.validate()
        except Exception as error:  # every failure shows in the widget
            self._show_message(str(error), error=True)
            return
        self._busy.set()
        self.invoke_button.disabled = True
        self._show_message(f"Invoking {self.model.count} × {self.model.invocation_type} …")
        self._worker = threading.Thread(target=self._invoke_in_background, daemon=True)
        self._worker.start()

    def _invoke_in_background(self):
        try:
            results = self.model.invoke()
            self._show_message(f"Done: {len(results)} invoke(s).")
        except Exception as error:
            self._show_message(f"{type(error).__name__}: {error}", error=True)
        finally:
            self._busy.clear()
            self.invoke_button.disabled = False
            self.refresh()

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for the invokes started by the last click to answer (for code cells)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _show_message(self, text: str, error: bool = False):
        color = "#b00020" if error else "#1b5e20"
        self.message.value = f"<span style='color:{color}'>{html.escape(text)}</span>"

    # -- output --------------------------------------------------------------------------

    def refresh(self):
        try:
            self.response.value = self._response_html()
            self.queue.value = _table(
                self.model.queue_rows(),
                [("request_id", "Request id"), ("attempts", "Attempts"), ("state", "State")],
                "No asynchronous events yet: choose Event and press Invoke.")
            self.environments.value = _table(
                self.model.environment_rows(),
                [("environment", "Environment"), ("state", "State"), ("start", "Start"),
                 ("invocations", "Invocations")],
                "No execution environment is running for the demo function.")
            rows = self.model.timeline_rows()
            for row in rows:
                row["when"] = time.strftime("%H:%M:%S", time.localtime(row["started"]))
                row["start"] = "cold" if row["cold"] else "warm"
            self.timeline.value = _table(
                rows,
                [("when", "Started"), ("request_id", "Request id"), ("source", "Invoked by"),
                 ("attempt", "Attempt"), ("start", "Start"), ("duration_ms", "Duration ms"),
                 ("outcome", "Outcome")],
                "Nothing has run yet.")
        except Exception as error:  # a broken view says so instead of going blank
            self._show_message(f"Could not refresh the views: {error}", error=True)

    def _response_html(self) -> str:
        results = self.model.results
        if not results:
            return "<p style='color:#666'>Press Invoke to see Lambda's answer here.</p>"
        parts = []
        for number, result in enumerate(results, 1):
            payload = result.payload
            try:
                payload = json.dumps(json.loads(payload), indent=2) if payload else "(empty)"
            except ValueError:
                pass
            headers = "\n".join(f"{k}: {v}" for k, v in sorted(result.headers.items()))
            block = [f"<b>#{number} {html.escape(result.invocation_type)}: "
                     f"{html.escape(result.summary)}</b>"]
            if result.api_error is None:
                block.append(f"<pre>{html.escape(headers)}</pre>")
                block.append(f"<pre>{html.escape(payload)}</pre>")
            if result.log_tail:
                block.append("<details><summary>Log tail (decoded LogResult)</summary>"
                             f"<pre>{html.escape(result.log_tail)}</pre></details>")
            parts.append("".join(block))
        return "<hr>".join(parts)

    def _refresh_loop(self):
        while not self._closed.is_set():
            self._dirty.wait(REFRESH_S)
            if self._closed.is_set() or not self.model.lab.running:
                return
            if self._dirty.is_set() or self.model.pending_events():
                self._dirty.clear()
                self.refresh()

    def close(self):
        self._closed.set()
        self._dirty.set()
        self._unsubscribe()
        super().close()
