"""The API Gateway playground widget: a view over ``ApiPlaygroundModel``.

    view = helpers.api_playground(lab)      # shows the widget
    view.timeout.value = 1000               # drive it from code, as a learner would
    view.slow.value = True
    view.send_button.click()
    view.wait()                             # until the HTTP answer is in

A request builder on top (method, path, query, headers, body), the integration timeout
and the demo function's switches (slow, failing, malformed) beside it; below, the HTTP
response next to the Lambda event API Gateway built and what Lambda did. It refreshes
itself when a function finishes after the gateway gave up; a Timeline tab draws the
invocations. Introduced in notebook 07.
"""

from __future__ import annotations

import json

import ipywidgets as widgets

from ..playgrounds.api_gateway import (
    METHODS,
    SLOW_SECONDS,
    TIMEOUT_RANGE_MS,
    ApiPlaygroundModel,
    pretty,
)
from . import html
from .base import PlaygroundView

__all__ = ["ApiPlayground", "api_playground"]


def api_playground(lab, name: str = "api-playground") -> ApiPlayground:
    """Create the playground for ``lab`` (sets up its API and function) and return the view."""
    return ApiPlayground(ApiPlaygroundModel(lab, name))


def _pane(title: str, content: str) -> str:
    return f"<b>{html.escape(title)}</b>{content}"


class ApiPlayground(PlaygroundView):
    """Controls bound to an ApiPlaygroundModel, and views of the answer and the event."""

    title = "API Gateway playground"

    def __init__(self, model: ApiPlaygroundModel):
        super().__init__(model)
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
        self.response = widgets.HTML()
        self.event = widgets.HTML()
        self.invocation = widgets.HTML()
        self.send_button.on_click(self._on_send)
        request = widgets.VBox([widgets.HBox([self.method, self.path]), self.query,
                                self.headers, self.body])
        handler = widgets.VBox([self.timeout, widgets.HTML("<b>The function is</b>"),
                                widgets.HBox([self.slow, self.failing, self.malformed]),
                                self.send_button, self.message])
        column = widgets.Layout(width="33%", padding="0 8px 0 0")
        for pane in (self.response, self.event, self.invocation):
            pane.layout = column
        self.views = widgets.Tab(children=[
            widgets.HBox([self.response, self.event, self.invocation]), self.timeline_pane])
        for index, title in enumerate(("Request and answer", "Timeline")):
            self.views.set_title(index, title)
        self._build([widgets.HBox([request, handler]), self.views], [self.send_button])

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
        model.validate()

    def _on_send(self, _button=None):
        self._start(self._send, f"Sending {self.method.value} {self.path.value} …",
                    self._read_controls)

    def _send(self):
        result = self.model.send()
        level = "error" if result.error else html.level_of_status(result.status)
        return result.summary, level

    def _settle(self, timeout: float) -> None:
        pass  # the answer is in when the request returns; the function may run on

    # -- output --------------------------------------------------------------------------

    def _wants(self, event) -> bool:
        return event.kind.startswith(("apigateway", "attempt"))

    def _render(self):
        self.response.value = self._response_html()
        self.event.value = self._event_html()
        self.invocation.value = self._invocation_html()

    def _static_html(self) -> str:
        return self._response_html() + self._invocation_html()

    def _response_html(self) -> str:
        result = self.model.result
        if result is None:
            return _pane("HTTP response", html.muted("Press Send."))
        if result.error:
            return _pane("HTTP response", html.pre(result.error))
        head = "\n".join(f"{name}: {value}" for name, value in result.headers)
        status = html.span(f"HTTP/1.1 {result.status} {result.reason}",
                           html.level_of_status(result.status), bold=True)
        text = f"{head}\n\n{pretty(result.body)}"
        return _pane(f"HTTP response ({result.seconds * 1000:.0f} ms)",
                     f"<div>{status}</div>{html.pre(text, 360)}")

    def _event_html(self) -> str:
        event = self.model.event()
        if event is None:
            return _pane("Lambda event", html.muted("No event was built."))
        return _pane("Lambda event (payload format 1.0)",
                     html.pre(json.dumps(event, indent=2), 360))

    def _invocation_html(self) -> str:
        info = self.model.invocation()
        if not info:
            return _pane("Invocation", html.muted("Nothing yet."))
        rows = [("API Gateway", info["gateway_outcome"]), ("Detail", info.get("detail") or ""),
                ("Lambda request id", info.get("lambda_request_id") or "—"),
                ("Start", info.get("start", "")), ("Function outcome", info.get("outcome", "")),
                ("Error type", info.get("error_type") or ""),
                ("Duration ms", info.get("duration_ms", "")), ("State", info.get("state", ""))]
        table = "".join(
            f"<tr><td style='padding:2px 8px'>{html.escape(k)}</td>"
            f"<td style='padding:2px 8px'>{html.escape(str(v))}</td></tr>"
            for k, v in rows if v != "")
        return _pane("Invocation", f"<table style='color:{html.COLORS['text']}'>{table}</table>")
