"""The Firehose buffer view: a thin view over ``FirehoseBufferModel``.

    view = helpers.firehose_view(lab)     # shows the widget
    view.count.value = 50                 # drive it from code, as a learner would
    view.send_button.click()
    view.wait()                           # until every record sent has ended
    view.timeline()                       # the invocations, as a chart

Controls on the left (the processor buffer's size and interval, how many records to
send, how big, and how many come from bots or are malformed); on the right, live: the
buffer filling against its size and its interval, each invocation with its Ok / Dropped
/ ProcessingFailed counts, the objects written to S3, and a timeline of the
invocations. Introduced in notebook 11.
"""

from __future__ import annotations

import time

import ipywidgets as widgets

from ..playgrounds.base import PlaygroundTimeoutError
from ..playgrounds.firehose import MAX_RECORDS, FirehoseBufferModel
from . import html
from .base import PlaygroundView

INVOCATION_COLUMNS = [("time", "Time"), ("batch", "Batch"), ("trigger", "Buffer full on"),
                      ("records", "Records"), ("bytes", "Bytes"), ("attempt", "Attempt"),
                      ("outcome", "Outcome"), ("ok", "Ok"), ("dropped", "Dropped"),
                      ("failed", "ProcessingFailed")]
OBJECT_COLUMNS = [("time", "Time"), ("key", "S3 key"), ("output", "Holds"),
                  ("records", "Records"), ("bytes", "Bytes")]

__all__ = ["FirehoseBufferView", "firehose_view"]


def firehose_view(lab, name: str = "clicks-demo") -> FirehoseBufferView:
    """Create the buffer view for ``lab`` (a bucket, a function, a delivery stream)."""
    return FirehoseBufferView(FirehoseBufferModel(lab, name))


def _bar(label: str, value: float, limit: float, text: str) -> str:
    share = 0 if not limit else min(value / limit, 1.0)
    level = "warn" if share >= 1 else "info"
    return (f"<div style='margin:2px 0'><b>{html.escape(label)}</b> {html.escape(text)}"
            f"<div style='border:1px solid {html.BORDER};height:12px;width:320px'>"
            f"<div style='background:{html.COLORS[level]};height:12px;"
            f"width:{share * 100:.0f}%'></div></div></div>")


class FirehoseBufferView(PlaygroundView):
    """Controls bound to a FirehoseBufferModel, and a live view of its buffer."""

    title = "Firehose buffer view"

    def __init__(self, model: FirehoseBufferModel):
        super().__init__(model)
        style = {"description_width": "150px"}
        wide = widgets.Layout(width="380px")
        self.buffer_mb = widgets.FloatSlider(value=model.buffer_mb, min=0.2, max=3, step=0.1,
                                             description="Buffer size (MB)", style=style,
                                             layout=wide)
        self.interval_s = widgets.IntSlider(value=model.interval_s, min=0, max=120,
                                            description="Buffer interval (s)", style=style,
                                            layout=wide)
        self.count = widgets.BoundedIntText(value=model.count, min=1, max=MAX_RECORDS,
                                            description="Records to send", style=style)
        self.record_bytes = widgets.BoundedIntText(value=model.record_bytes, min=50, max=8000,
                                                   description="Bytes a record", style=style)
        self.bots = widgets.FloatSlider(value=model.bots, min=0, max=1, step=0.05,
                                        description="Share of bots", style=style, layout=wide)
        self.malformed = widgets.FloatSlider(value=model.malformed, min=0, max=1, step=0.05,
                                             description="Share malformed", style=style,
                                             layout=wide)
        self.send_button = widgets.Button(description="Send records", button_style="primary",
                                          icon="paper-plane")
        self.buffer_pane = widgets.HTML()
        self.invocations = widgets.HTML()
        self.objects = widgets.HTML()
        self.send_button.on_click(lambda _: self._start(self._send, "Sending …",
                                                        self._read_controls))
        intro = widgets.HTML(
            f"Delivery stream <b>{html.escape(model.name)}</b> invokes "
            f"<code>{html.escape(model.function_name)}</code> with each buffered batch and "
            f"writes to <code>s3://{html.escape(model.bucket)}/clicks/</code> (failed "
            "records under <code>errors/</code>).")
        controls = widgets.VBox([intro, self.buffer_mb, self.interval_s, self.count,
                                 self.record_bytes, self.bots, self.malformed,
                                 self.send_button, self.message])
        self.views = widgets.Tab(children=[self.buffer_pane, self.invocations, self.objects,
                                           self.timeline_pane])
        for index, title in enumerate(("Buffer", "Invocations", "Objects in S3", "Timeline")):
            self.views.set_title(index, title)
        self._build([controls, self.views], [self.send_button])

    def _read_controls(self) -> None:
        model = self.model
        model.buffer_mb = round(float(self.buffer_mb.value), 1)
        model.interval_s = int(self.interval_s.value)
        model.count = int(self.count.value)
        model.record_bytes = int(self.record_bytes.value)
        model.bots, model.malformed = float(self.bots.value), float(self.malformed.value)
        model.check()  # a FirehoseBufferError if a setting is not right

    def _send(self):
        sent = self.model.send()
        if sent.error:
            return sent.error, "error"
        if sent.failed:
            return f"{sent.failed} of {sent.count} records refused: Slow down.", "warn"
        return f"Firehose took {sent.count} records at once: they wait in the buffer.", "ok"

    def _settle(self, timeout: float) -> None:
        if not self.model.wait(timeout):
            raise PlaygroundTimeoutError(
                f"Records were still in Firehose after {timeout:.0f} s: the buffer waits up "
                "to its interval, then the function runs; look at lab.trace for the rest.")

    def wait(self, timeout: float | None = None) -> None:
        """For code cells: wait until every record sent has ended (by default up to the
        buffer interval and a minute); PlaygroundTimeoutError after that."""
        super().wait(self.model.interval_s + 60 if timeout is None else timeout)

    # -- output ----------------------------------------------------------------------------

    def _wants(self, event) -> bool:
        return event.kind.startswith("firehose.") or event.get("function") == \
            self.model.function_arn

    def _pending(self) -> bool:
        return self.model.pending() > 0

    def _render(self) -> None:
        state = self.model.buffer()
        self.buffer_pane.value = (
            f"<p>{state['records']} record(s) wait in the processor buffer; the function is "
            "invoked when the buffer reaches its size or its interval, whichever comes "
            "first.</p>"
            + _bar("Size", state["bytes"], state["limit_bytes"],
                   f"{state['bytes']:,} of {state['limit_bytes']:,} bytes")
            + _bar("Time", state["waited_s"] if state["records"] else 0,
                   state["interval_s"] or 1,
                   f"{state['waited_s']:.1f} of {state['interval_s']} s"
                   if state["records"] else f"0 of {state['interval_s']} s"))
        rows = self.model.invocation_rows()
        for row in rows:
            row["time"] = time.strftime("%H:%M:%S", time.localtime(row["when"]))
            row["level"] = "ok" if row["outcome"] == "ok" else "error"
        self.invocations.value = html.table(
            rows, INVOCATION_COLUMNS, "No invocation yet: send records, then wait for the "
            "buffer.", levels={"outcome": "level"})
        objects = self.model.object_rows()
        for row in objects:
            row["time"] = time.strftime("%H:%M:%S", time.localtime(row["when"]))
            row["level"] = "ok" if row["output"] == "data" else "warn"
        self.objects.value = html.table(objects, OBJECT_COLUMNS, "No object in S3 yet.",
                                        levels={"output": "level"})

    def _static_html(self) -> str:
        return self.buffer_pane.value + self.invocations.value + self.objects.value
