"""The HTTP front door playground widget: a view over ``HttpPlaygroundModel``.

    view = helpers.alb_playground(lab)           # or helpers.function_url_playground(lab)
    view.multi_value.value = True                # drive it from code, as a learner would
    view.send_button.click()
    view.wait()                                  # until the HTTP answer is in

A request builder on top (method, path, query, headers, body) and the switches beside it
(ALB: multi-value headers; function URL: the auth type and signing; both: a failing
function); below, side by side, the request as it was sent, the event the function
received, and the answer with what the front door and Lambda did. A Timeline tab draws
the invocations. Introduced in notebooks 08 and 14.
"""

from __future__ import annotations

import json

import ipywidgets as widgets

from ..playgrounds.api_gateway import pretty
from ..playgrounds.http import AUTH_TYPES, METHODS, HttpPlaygroundModel
from . import html
from .base import PlaygroundView

__all__ = ["HttpPlayground", "alb_playground", "function_url_playground"]

TITLES = {"alb": "Application Load Balancer playground", "function_url": "Function URL playground"}


def alb_playground(lab, name: str = "alb-playground") -> HttpPlayground:
    """The playground in front of an Application Load Balancer (sets up its resources)."""
    return HttpPlayground(HttpPlaygroundModel(lab, "alb", name))


def function_url_playground(lab, name: str = "url-playground") -> HttpPlayground:
    """The playground in front of a function URL (sets up its resources)."""
    return HttpPlayground(HttpPlaygroundModel(lab, "function_url", name))


def _pane(title: str, content: str) -> str:
    return f"<b>{html.escape(title)}</b>{content}"


class HttpPlayground(PlaygroundView):
    """Controls bound to an HttpPlaygroundModel; the request, the event and the answer."""

    def __init__(self, model: HttpPlaygroundModel):
        self.title = TITLES[model.door]
        super().__init__(model)
        wide = widgets.Layout(width="420px")
        self.method = widgets.Dropdown(options=METHODS, value=model.method,
                                       description="Method", layout=widgets.Layout(width="180px"))
        self.path = widgets.Text(value=model.path, description="Path",
                                 layout=widgets.Layout(width="320px"))
        self.query = widgets.Text(value=model.query, description="Query", layout=wide)
        self.headers = widgets.Textarea(value=model.headers_text, description="Headers",
                                        layout=widgets.Layout(width="420px", height="60px"))
        self.body = widgets.Textarea(value=model.body, description="Body",
                                     layout=widgets.Layout(width="420px", height="60px"))
        self.failing = widgets.ToggleButton(value=model.failing, description="failing",
                                            icon="bomb")
        self.multi_value = widgets.ToggleButton(value=model.multi_value,
                                                description="multi-value headers", icon="list")
        self.auth_type = widgets.ToggleButtons(options=AUTH_TYPES, value=model.auth_type,
                                               description="Auth type")
        self.sign = widgets.ToggleButton(value=model.sign, description="sign (SigV4)",
                                         icon="key")
        self.send_button = widgets.Button(description="Send", button_style="primary",
                                          icon="paper-plane")
        self.sent = widgets.HTML()
        self.event = widgets.HTML()
        self.response = widgets.HTML()
        self.send_button.on_click(self._on_send)
        request = widgets.VBox([widgets.HBox([self.method, self.path]), self.query,
                                self.headers, self.body])
        if model.door == "alb":
            switches = [widgets.HTML("<b>The target group</b>"), self.multi_value]
        else:
            switches = [self.auth_type, self.sign]
        side = widgets.VBox([*switches, widgets.HTML("<b>The function</b>"), self.failing,
                             self.send_button, self.message])
        column = widgets.Layout(width="33%", padding="0 8px 0 0")
        for pane in (self.sent, self.event, self.response):
            pane.layout = column
        self.views = widgets.Tab(children=[
            widgets.HBox([self.sent, self.event, self.response]), self.timeline_pane])
        for index, title in enumerate(("Request and answer", "Timeline")):
            self.views.set_title(index, title)
        self._build([widgets.HBox([request, side]), self.views], [self.send_button])

    # -- input ---------------------------------------------------------------------------

    def _read_controls(self):
        model = self.model
        model.method = self.method.value
        model.path = self.path.value
        model.query = self.query.value
        model.headers_text = self.headers.value
        model.body = self.body.value
        model.failing = self.failing.value
        model.multi_value = self.multi_value.value
        model.auth_type = self.auth_type.value
        model.sign = self.sign.value
        model.validate()

    def _on_send(self, _button=None):
        self._start(self._send, f"Sending {self.method.value} {self.path.value} …",
                    self._read_controls)

    def _send(self):
        result = self.model.send()
        level = "error" if result.error else html.level_of_status(result.status)
        return result.summary, level

    # -- output --------------------------------------------------------------------------

    def _wants(self, event) -> bool:
        return event.kind.startswith((self.model.door, "attempt"))

    def _render(self):
        self.sent.value = self._sent_html()
        self.event.value = self._event_html()
        self.response.value = self._response_html()

    def _static_html(self) -> str:
        return self._response_html()

    def _sent_html(self) -> str:
        result = self.model.result
        if result is None:
            return _pane("Request", html.muted("Press Send."))
        return _pane("Request (as sent)", html.pre(result.request_text, 360))

    def _event_html(self) -> str:
        event = self.model.event()
        if event is None:
            return _pane("Event", html.muted("The function received no event."))
        return _pane("Event the function received", html.pre(json.dumps(event, indent=2), 360))

    def _response_html(self) -> str:
        result = self.model.result
        if result is None:
            return _pane("Answer", html.muted("Nothing sent yet."))
        if result.error:
            return _pane("Answer", html.pre(result.error))
        head = "\n".join(f"{name}: {value}" for name, value in result.headers)
        status = html.span(f"HTTP/1.1 {result.status} {result.reason}",
                           html.level_of_status(result.status), bold=True)
        info = self.model.invocation()
        rows = [("Front door", info.get("door_outcome", "")), ("Why", info.get("detail") or ""),
                ("Lambda request id", info.get("lambda_request_id") or "not invoked"),
                ("Start", info.get("start", "")), ("Function outcome", info.get("outcome", "")),
                ("Error type", info.get("error_type") or ""),
                ("Duration ms", info.get("duration_ms", ""))]
        table = "".join(
            f"<tr><td style='padding:2px 8px'>{html.escape(k)}</td>"
            f"<td style='padding:2px 8px'>{html.escape(str(v))}</td></tr>"
            for k, v in rows if v != "")
        text = f"{head}\n\n{pretty(result.body)}"
        return _pane(f"Answer ({result.seconds * 1000:.0f} ms)",
                     f"<div>{status}</div>{html.pre(text, 280)}"
                     f"<table style='color:{html.COLORS['text']}'>{table}</table>")
