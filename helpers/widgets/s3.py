"""The S3 notifications widget: a view over ``S3DemoModel``.

    demo = helpers.s3_notifications_demo(lab)   # shows the widget
    demo.key.value = "minutes.txt"               # drive it from code, as a learner would
    demo.upload_button.click()
    demo.wait()                                  # until S3 answered and the events ended

Controls on the left (prefix, key, size, what the function does), and live, for every
request: S3's answer, the event it produced, the event's place in Lambda's asynchronous
queue and how the invocation ended; below, the latest event as the function received
it. Introduced in notebook 04.
"""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as widgets

from ..playgrounds.s3 import BEHAVIOURS, MAX_SIZE, PREFIXES, S3DemoModel

REFRESH_S = 0.5
COLUMNS = [("time", "Time"), ("request", "S3 request"), ("answer", "S3 answered"),
           ("event", "Event"), ("queue", "Async queue"), ("outcome", "Outcome")]

__all__ = ["S3NotificationsDemo", "s3_notifications_demo"]


def s3_notifications_demo(lab, bucket: str = "s3-demo-inbox",
                          function_name: str = "s3-demo-processor") -> S3NotificationsDemo:
    """Create the demo for ``lab`` (bucket, function, permission, configuration)."""
    return S3NotificationsDemo(S3DemoModel(lab, bucket, function_name))


def _table(rows: list[dict]) -> str:
    if not rows:
        return ("<p style='color:#666'>No requests yet: choose a prefix and a key, then "
                "press Upload.</p>")
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{title}</th>"
                   for _, title in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px'>{html.escape(str(row.get(key) or ''))}"
                         "</td>" for key, _ in COLUMNS) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class S3NotificationsDemo(widgets.VBox):
    """Controls bound to an S3DemoModel, and a live view of what each request caused."""

    def __init__(self, model: S3DemoModel):
        self.model = model
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
        self.message = widgets.HTML()
        self.requests = widgets.HTML()
        self.latest_event = widgets.HTML()
        self._busy = threading.Event()
        self._closed = threading.Event()
        self._dirty = threading.Event()
        self._worker = None
        self.upload_button.on_click(lambda _: self._start(self.model.upload, "Uploading"))
        self.delete_button.on_click(lambda _: self._start(self.model.delete, "Deleting"))
        watched = model.watched_prefix or "the whole bucket"
        intro = widgets.HTML(
            f"<b>Bucket</b> {html.escape(model.bucket)}: created and removed objects under "
            f"<code>{html.escape(watched)}</code> invoke <b>{html.escape(model.function_name)}"
            "</b> asynchronously.")
        controls = widgets.VBox([intro, self.prefix, self.key, self.size, self.behaviour,
                                 widgets.HBox([self.upload_button, self.delete_button]),
                                 self.message])
        super().__init__([controls, self.requests, self.latest_event])
        self._unsubscribe = model.lab.trace.subscribe(lambda event: self._dirty.set())
        threading.Thread(target=self._refresh_loop, daemon=True,
                         name="lab-s3-demo-refresh").start()
        self.refresh()

    # -- input -----------------------------------------------------------------------------

    def _read_controls(self):
        self.model.prefix = self.prefix.value
        self.model.key = self.key.value
        self.model.size = int(self.size.value)
        self.model.behaviour = self.behaviour.value

    def _start(self, action, verb):
        if self._busy.is_set():
            self._show_message("Still waiting for S3: press again when it has answered.",
                               error=True)
            return
        try:
            self._read_controls()
            key = self.model.full_key()
        except Exception as error:  # every failure shows in the widget
            self._show_message(str(error), error=True)
            return
        self._busy.set()
        self.upload_button.disabled = self.delete_button.disabled = True
        self._show_message(f"{verb} {key} …")
        self._worker = threading.Thread(target=self._run, args=(action,), daemon=True)
        self._worker.start()

    def _run(self, action):
        try:
            request = action()
            text = request.error or f"S3 answered {request.status} in " \
                                    f"{request.seconds * 1000:.0f} ms"
            self._show_message(f"{request.operation} {request.key}: {text}",
                               error=bool(request.error))
        except Exception as error:
            self._show_message(f"{type(error).__name__}: {error}", error=True)
        finally:
            self._busy.clear()
            self.upload_button.disabled = self.delete_button.disabled = False
            self.refresh()

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait for the last click's request, then for its events to end (code cells)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        done = self.model.wait(timeout)
        self.refresh()
        return done

    def _show_message(self, text: str, error: bool = False):
        color = "#b00020" if error else "#1b5e20"
        self.message.value = f"<span style='color:{color}'>{html.escape(text)}</span>"

    # -- output ----------------------------------------------------------------------------

    def refresh(self):
        try:
            rows = self.model.rows()
            for row in rows:
                row["time"] = time.strftime("%H:%M:%S", time.localtime(row["when"]))
            self.requests.value = _table(rows)
            latest = next((row for row in reversed(rows) if row["lambda_request_id"]), None)
            if latest is None:
                self.latest_event.value = ""
            else:
                self.latest_event.value = (
                    f"<details open><summary>The event of {html.escape(latest['request'])}, "
                    "as the function received it</summary><pre>"
                    f"{html.escape(self.model.event_text(latest))}</pre></details>")
        except Exception as error:  # a broken view says so instead of going blank
            self._show_message(f"Could not refresh the view: {error}", error=True)

    def _refresh_loop(self):
        while not self._closed.is_set():
            self._dirty.wait(REFRESH_S)
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
