"""The SQS playground widget: a view over ``SqsPlaygroundModel``.

    view = helpers.sqs_playground(lab)   # shows the widget
    view.batch_size.value = 5            # drive it from code, as a learner would
    view.send_button.click()
    view.wait()                          # until the queue is empty again
    view.timeline()                      # the batches on their environments, as a chart

Sliders for the batch size, the batching window, the queue's visibility timeout and the
share of orders that fail; a "report batch item failures" switch; a button that sends N
orders. On the right: the queue (waiting, in flight, in the dead-letter queue), the
batches the function received and how each ended, every order's fate, and a timeline.
It refreshes itself while messages move. Introduced in notebook 06.
"""

from __future__ import annotations

import ipywidgets as widgets
from botocore.exceptions import ClientError

from ..playgrounds.base import PlaygroundTimeoutError
from ..playgrounds.sqs import MAX_SEND, SqsPlaygroundModel
from . import html
from .base import PlaygroundView

__all__ = ["SqsPlayground", "sqs_playground"]

OUTCOME_LEVELS = {"success": "ok", "filtered out": "muted", "partial": "warn",
                  "invoking…": "info"}


def sqs_playground(lab, name: str = "orders-demo") -> SqsPlayground:
    """Create the playground for ``lab`` (a queue, a DLQ, a function, a mapping)."""
    return SqsPlayground(SqsPlaygroundModel(lab, name))


def _bar(label: str, count: int, level: str) -> str:
    width = min(count, 100) * 3
    return (f"<div style='margin:2px 0'><span style='display:inline-block;width:150px'>"
            f"{html.escape(label)}</span><span style='display:inline-block;height:12px;"
            f"width:{width}px;background:{html.COLORS[level]}'></span> {count}</div>")


class SqsPlayground(PlaygroundView):
    """Controls bound to an SqsPlaygroundModel, and live views of the queue and batches."""

    title = "SQS playground"

    def __init__(self, model: SqsPlaygroundModel):
        super().__init__(model)
        s = model.settings
        style = {"description_width": "150px"}
        layout = widgets.Layout(width="420px")
        self.batch_size = widgets.IntSlider(value=s.batch_size, min=1, max=100,
                                            description="Batch size", style=style,
                                            layout=layout)
        self.window = widgets.IntSlider(value=s.window, min=0, max=10,
                                        description="Batching window (s)", style=style,
                                        layout=layout)
        self.visibility_timeout = widgets.IntSlider(
            value=s.visibility_timeout, min=1, max=30, description="Visibility timeout (s)",
            style=style, layout=layout)
        self.failure_rate = widgets.FloatSlider(
            value=s.failure_rate, min=0, max=1, step=0.1, description="Failing orders",
            readout_format=".0%", style=style, layout=layout)
        self.report_failures = widgets.Checkbox(value=s.report_failures,
                                                description="ReportBatchItemFailures")
        self.count = widgets.BoundedIntText(value=model.count, min=1, max=MAX_SEND,
                                            description="Orders",
                                            layout=widgets.Layout(width="160px"))
        self.send_button = widgets.Button(description="Send orders", button_style="primary",
                                          icon="paper-plane")
        self.queue = widgets.HTML()
        self.batches = widgets.HTML()
        self.orders = widgets.HTML()
        self.send_button.on_click(self._on_send)
        controls = widgets.VBox([self.batch_size, self.window, self.visibility_timeout,
                                 self.failure_rate, self.report_failures,
                                 widgets.HBox([self.count, self.send_button]), self.message])
        self.views = widgets.Tab(children=[self.queue, self.batches, self.orders,
                                           self.timeline_pane])
        for index, title in enumerate(("Queue", "Batches", "Orders", "Timeline")):
            self.views.set_title(index, title)
        self._build([controls, self.views], [self.send_button])

    # -- input ---------------------------------------------------------------------------

    def _read_controls(self):
        s = self.model.settings
        s.batch_size = int(self.batch_size.value)
        s.window = int(self.window.value)
        s.visibility_timeout = int(self.visibility_timeout.value)
        s.failure_rate = round(float(self.failure_rate.value), 2)
        s.report_failures = bool(self.report_failures.value)
        self.model.count = int(self.count.value)
        self.model.validate()

    def _on_send(self, _button=None):
        self._start(self._send, f"Sending {int(self.count.value)} orders …",
                    self._read_controls)

    def _send(self):
        changes = self.model.apply()  # before sending: the new settings apply to them
        numbers = self.model.send()
        applied = f" (applied: {'; '.join(changes)})" if changes else ""
        return f"Sent orders {numbers[0]}–{numbers[-1]}{applied}.", "ok"

    def _settle(self, timeout: float) -> None:
        if not self.model.wait(timeout):
            raise PlaygroundTimeoutError(
                f"The order queue was not empty after {timeout:.0f} s: "
                f"{self.model.queue_counts()}. Failed orders come back after the "
                "visibility timeout: wait, or lower it.")

    # -- output --------------------------------------------------------------------------

    def _wants(self, event) -> bool:
        return (event.get("mapping") == self.model.mapping_uuid
                or event.get("function") == self.model.function_arn)

    def _pending(self) -> bool:
        try:
            return not self.model.settled()
        except ClientError:  # deleted by the notebook's clean-up
            return False

    def _render(self):
        try:
            counts = self.model.queue_counts()
            summary = self.model.mapping_summary()
        except ClientError:
            self.queue.value = html.muted(
                "The playground's queue, function or mapping is gone (the notebook's "
                "clean-up deletes them): press Send orders to set them up again.")
            return
        self.queue.value = (
            _bar("waiting (visible)", counts["visible"], "info")
            + _bar("in flight", counts["in_flight"], "warn")
            + _bar("dead-letter queue", counts["dead_letter"], "error")
            + html.muted("Mapping: " + ", ".join(f"{k} {v}" for k, v in summary.items())))
        rows = self.model.batch_rows()
        for row in rows:
            row["level"] = OUTCOME_LEVELS.get(row["outcome"], "error")
        self.batches.value = html.table(
            rows, [("batch", "#"), ("messages", "Orders"), ("receive_counts", "Receive counts"),
                   ("trigger", "Invoked because"), ("outcome", "Outcome"),
                   ("deleted", "Deleted"), ("retried", "Left in the queue")],
            "No batch yet: press Send orders.", levels={"outcome": "level"})
        orders = self.model.order_rows()
        for row in orders:
            row["level"] = ("ok" if row["state"].startswith("processed") else
                            "error" if "dead-letter" in row["state"] else
                            "warn" if row["state"].startswith("failed") else "info")
        self.orders.value = html.table(
            orders, [("order", "Order"), ("deliveries", "Deliveries"), ("state", "State")],
            "No orders sent from the playground yet.", levels={"state": "level"})

    def _static_html(self) -> str:
        return self.queue.value + self.batches.value
