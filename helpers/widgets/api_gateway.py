"""The API Gateway playground widget: a view over ``ApiPlaygroundModel``.

    view = helpers.api_playground(lab)      # shows the widget
    view.timeout.value = 1000               # drive it from code, as a learner would
    view.slow.value = True
    view.send_button.click()
    view.wait()                             # until the HTTP answer is in

A request builder on top (method, path, query, headers, body), the integration timeout
and the demo function's switches (slow, failing, malformed) beside it; below, the HTTP
response next to the Lambda event API Gateway built and what Lambda did. It refreshes
itself when a function finishes after the gateway gave up. Introduced in notebook 07.
"""

from __future__ import annotations

import html
import json
import threading

import ipywidgets as widgets

from ..playgrounds.api_gateway import (
    METHODS,
    SLOW_SECONDS,
    TIMEOUT_RANGE_MS,
    ApiPlaygroundModel,
    pretty,
)

__all__ = ["ApiPlayground", "api_playground"]


def api_playground(lab, name: str = "api-playground") -> ApiPlayground:
    """Create the playground for ``lab`` (sets up its API and function) and return the view."""
    return ApiPlayground(ApiPlaygroundModel(lab, name))


def _pre(text: str) -> str:
    return ("<pre style='white-space:pre-wrap;max-height:360px;overflow:auto;margin:0'>"
            f"{html.escape(text)}</pre>")


def _pane(title: str, content: str) -> str:
    return f"<b>{html.escape(title)}</b>{content}"


class ApiPlayground(widgets.VBox):
    """Controls bound to an ApiPlaygroundModel, and views of the answer and the event."""

    def __init__(self, model: ApiPlaygroundModel):
        self.model = model
        self.method = widgets.Dropdown(options=METHODS, value=model.method,
                                       description="Method", layout=widgets.Layout(width="180px"))
        self.path = widgets.Text(value=model.path, description="Path",
                                 layout=widgets.Layout(width="320px"))
        self.query = widgets.Text(value=model.query, description="Query",
                                  layout=widgets.Layout(width="320px"))
        self.headers = widgets.Textarea(value=model.headers_text, description="Headers",
                                        layout=widgets.Layout(width="420px", height="60px"))
        self.body = widgets.Textarea(value=model.body, description="Body",
                                     layout=widgets.Layout(width="420px", height="60px"))
        low, high = TIMEOUT_RANGE_MS
        self.timeout = widgets.IntSlider(value=model.timeout_ms, min=low, max=high, step=50,
                                         description="Timeout ms", continuous_update=False,
                                         layout=widgets.Layout(width="420px"))
        self.slow = widgets.ToggleButton(value=model.slow,
                                         description=f"slow ({SLOW_SECONDS:g} s)",
                                         icon="hourglass-half")
        self.failing = widgets.ToggleButton(value=model.failing, description="failing",
                                            icon="bomb")
        self.malformed = widgets.ToggleButton(value=model.malformed, description="malformed",
                                              icon="random")
        self.send_button = widgets.Button(description="Send", button_style="primary",
                                          icon="paper-plane")
        self.message = widgets.HTML()
        self.response = widgets.HTML()
        self.event = widgets.HTML()
        self.invocation = widgets.HTML()
        self._busy = threading.Event()
        self._closed = threading.Event()
        self._dirty = threading.Event()
        self._worker = None
        self.send_button.on_click(self._on_send)
        request = widgets.VBox([widgets.HBox([self.method, self.path]), self.query,
                                self.headers, self.body])
        handler = widgets.VBox([self.timeout, widgets.HTML("<b>The function is</b>"),
                                widgets.HBox([self.slow, self.failing, self.malformed]),
                                self.send_button, self.message])
        column = widgets.Layout(width="33%", padding="0 8px 0 0")
        for pane in (self.response, self.event, self.invocation):
            pane.layout = column
        super().__init__([widgets.HBox([request, handler]),
                          widgets.HBox([self.response, self.event, self.invocation])])
        self._unsubscribe = model.lab.trace.subscribe(self._on_trace)
        threading.Thread(target=self._refresh_loop, daemon=True,
                         name="lab-api-playground-refresh").start()
        self.refresh()

    # -- input ---------------------------------------------------------------------------

    def _read_controls(self):
        model = self.model
        model.method = self.method.value
        model.path = self.path.value
        model.query = self.query.value
        model.headers_text = self.headers.value
        model.body = self.body.value
        model.timeout_ms = int(self.timeout.value)
        model.slow = self.slow.value
        model.failing = self.failing.value
        model.malformed = self.malformed.value

    def _on_send(self, _button=None):
        if self._busy.is_set():
            self._show_message("Still waiting for the answer.", error=True)
            return
        try:
            self._read_controls()
            self.model.validate()
        except Exception as error:  # every failure shows in the widget
            self._show_message(str(error), error=True)
            return
        self._busy.set()
        self.send_button.disabled = True
        self._show_message(f"Sending {self.model.method} {self.model.path} …")
        self._worker = threading.Thread(target=self._send_in_background, daemon=True)
        self._worker.start()

    def _send_in_background(self):
        try:
            result = self.model.send()
            self._show_message(result.summary, error=result.error is not None)
        except Exception as error:
            self._show_message(f"{type(error).__name__}: {error}", error=True)
        finally:
            self._busy.clear()
            self.send_button.disabled = False
            self.refresh()

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for the answer to the last Send (for code cells)."""
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
            self.event.value = self._event_html()
            self.invocation.value = self._invocation_html()
        except Exception as error:  # a broken view says so instead of going blank
            self._show_message(f"Could not refresh the views: {error}", error=True)

    def _response_html(self) -> str:
        result = self.model.result
        if result is None:
            return _pane("HTTP response", "<p style='color:#666'>Press Send.</p>")
        if result.error:
            return _pane("HTTP response", _pre(result.error))
        head = "\n".join(f"{name}: {value}" for name, value in result.headers)
        text = f"HTTP/1.1 {result.status} {result.reason}\n{head}\n\n{pretty(result.body)}"
        return _pane(f"HTTP response ({result.seconds * 1000:.0f} ms)", _pre(text))

    def _event_html(self) -> str:
        event = self.model.event()
        if event is None:
            return _pane("Lambda event", "<p style='color:#666'>No event was built.</p>")
        return _pane("Lambda event (payload format 1.0)", _pre(json.dumps(event, indent=2)))

    def _invocation_html(self) -> str:
        info = self.model.invocation()
        if not info:
            return _pane("Invocation", "<p style='color:#666'>Nothing yet.</p>")
        rows = [("API Gateway", info["gateway_outcome"]), ("Detail", info.get("detail") or ""),
                ("Lambda request id", info.get("lambda_request_id") or "—"),
                ("Start", info.get("start", "")), ("Function outcome", info.get("outcome", "")),
                ("Error type", info.get("error_type") or ""),
                ("Duration ms", info.get("duration_ms", "")), ("State", info.get("state", ""))]
        table = "".join(
            f"<tr><td style='padding:2px 8px'>{html.escape(k)}</td>"
            f"<td style='padding:2px 8px'>{html.escape(str(v))}</td></tr>"
            for k, v in rows if v != "")
        return _pane("Invocation", f"<table>{table}</table>")

    def _on_trace(self, event):
        if event.kind.startswith(("apigateway", "attempt")):
            self._dirty.set()

    def _refresh_loop(self):
        while not self._closed.is_set():
            self._dirty.wait(0.5)
            if self._closed.is_set() or not self.model.lab.running:
                return
            if self._dirty.is_set():
                self._dirty.clear()
                self.refresh()

    def close(self):
        self._closed.set()
        self._dirty.set()
        self._unsubscribe()
        super().close()
