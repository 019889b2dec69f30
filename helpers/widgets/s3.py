"""The S3 notifications widget: a view over ``S3DemoModel``.

    demo = helpers.s3_notifications_demo(lab)   # shows the widget
    demo.key.value = "minutes.txt"               # drive it from code, as a learner would
    demo.upload_button.click()
    demo.wait()                                  # until S3 answered and the events ended
    demo.timeline()                              # the invocations, as a chart

Controls on the left (prefix, key, size, what the function does), and live, for every
request: S3's answer, the event it produced, the event's place in Lambda's asynchronous
queue and how the invocation ended; the latest event as the function received it; and
a timeline of the invocations. Introduced in notebook 04.
"""

from __future__ import annotations

import time

import ipywidgets as widgets

from ..playgrounds.base import PlaygroundTimeoutError
from ..playgrounds.s3 import BEHAVIOURS, MAX_SIZE, PREFIXES, S3DemoModel
from . import html
from .base import PlaygroundView

COLUMNS = [("time", "Time"), ("request", "S3 request"), ("answer", "S3 answered"),
           ("event", "Event"), ("queue", "Async queue"), ("outcome", "Outcome")]

__all__ = ["S3NotificationsDemo", "s3_notifications_demo"]


def s3_notifications_demo(lab, bucket: str = "s3-demo-inbox",
                          function_name: str = "s3-demo-processor") -> S3NotificationsDemo:
    """Create the demo for ``lab`` (bucket, function, permission, configuration)."""
    return S3NotificationsDemo(S3DemoModel(lab, bucket, function_name))


class S3NotificationsDemo(PlaygroundView):
    """Controls bound to an S3DemoModel, and a live view of what each request caused."""

    title = "S3 notifications demo"

    def __init__(self, model: S3DemoModel):
        super().__init__(model)
        self.prefix = widgets.Dropdown(
            options=[(p or "(bucket root)", p) for p in PREFIXES], value=model.prefix,
            description="Prefix")
        self.key = widgets.Text(value=model.key, description="Key")
        self.size = widgets.BoundedIntText(value=model.size, min=0, max=MAX_SIZE,
                                           description="Size (bytes)")
        self.behaviour = widgets.Dropdown(options=BEHAVIOURS, value=model.behaviour,
                                          description="Function")
        self.upload_button = widgets.Button(description="Upload", button_style="primary",
                                            icon="upload")
        self.delete_button = widgets.Button(description="Delete", button_style="warning",
                                            icon="trash")
        self.requests = widgets.HTML()
        self.latest_event = widgets.HTML()
        self.upload_button.on_click(lambda _: self._act(self.model.upload, "Uploading"))
        self.delete_button.on_click(lambda _: self._act(self.model.delete, "Deleting"))
        watched = model.watched_prefix or "the whole bucket"
        intro = widgets.HTML(
            f"<b>Bucket</b> {html.escape(model.bucket)}: created and removed objects under "
            f"<code>{html.escape(watched)}</code> invoke <b>{html.escape(model.function_name)}"
            "</b> asynchronously.")
        controls = widgets.VBox([intro, self.prefix, self.key, self.size, self.behaviour,
                                 widgets.HBox([self.upload_button, self.delete_button]),
                                 self.message])
        self.views = widgets.Tab(children=[self.requests, self.latest_event,
                                           self.timeline_pane])
        for index, title in enumerate(("Requests", "Latest event", "Timeline")):
            self.views.set_title(index, title)
        self._build([controls, self.views], [self.upload_button, self.delete_button])

    # -- input -----------------------------------------------------------------------------

    def _read_controls(self):
        self.model.prefix = self.prefix.value
        self.model.key = self.key.value
        self.model.size = int(self.size.value)
        self.model.behaviour = self.behaviour.value
        self.model.full_key()  # an S3DemoError if the key is not right

    def _act(self, action, verb):
        key = self.prefix.value + (self.key.value or "").strip()
        self._start(lambda: self._request(action), f"{verb} {key} …", self._read_controls)

    @staticmethod
    def _request(action):
        request = action()
        if request.error:
            return f"{request.operation} {request.key}: {request.error}", "error"
        return (f"{request.operation} {request.key}: S3 answered {request.status} in "
                f"{request.seconds * 1000:.0f} ms", "ok")

    def _settle(self, timeout: float) -> None:
        if not self.model.wait(timeout):
            raise PlaygroundTimeoutError(
                f"An event of the demo's requests had no outcome after {timeout:.0f} s: "
                "retries wait about 1 and 2 minutes in AWS (faster with lab.speedup).")

    # -- output ----------------------------------------------------------------------------

    def _wants(self, event) -> bool:
        return (event.get("function") == self.model.function_arn
                or event.kind in ("s3.notification", "event.retry"))

    def _pending(self) -> bool:
        return self.model.pending() > 0

    def _render(self):
        rows = self.model.rows()
        for row in rows:
            row["time"] = time.strftime("%H:%M:%S", time.localtime(row["when"]))
            row["level"] = ("error" if row["outcome"].startswith(("dropped", "sent to"))
                            else "ok" if row["outcome"] else "info")
            row["answer_level"] = "error" if " in " not in row["answer"] else "ok"
        self.requests.value = html.table(
            rows, COLUMNS, "No requests yet: choose a prefix and a key, then press Upload.",
            levels={"outcome": "level", "answer": "answer_level"})
        latest = next((row for row in reversed(rows) if row["lambda_request_id"]), None)
        if latest is None:
            self.latest_event.value = html.muted("No event yet.")
        else:
            self.latest_event.value = (
                f"<b>The event of {html.escape(latest['request'])}, as the function "
                f"received it</b>{html.pre(self.model.event_text(latest), 420)}")

    def _static_html(self) -> str:
        return self.requests.value
