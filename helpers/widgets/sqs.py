"""The SQS playground widget: a view over ``SqsPlaygroundModel``.

    view = helpers.sqs_playground(lab)   # shows the widget
    view.batch_size.value = 5            # drive it from code, as a learner would
    view.send_button.click()
    view.wait()                          # until the queue is empty again

Sliders for the batch size, the batching window, the queue's visibility timeout and the
share of orders that fail; a "report batch item failures" switch; a button that sends N
orders. On the right: the queue (waiting, in flight, in the dead-letter queue), the
batches the function received and how each ended, and every order's fate. It refreshes
itself while messages move. Introduced in notebook 06.
"""

from __future__ import annotations

import html
import threading

import ipywidgets as widgets

from ..playgrounds.sqs import MAX_SEND, SqsPlaygroundModel

REFRESH_S = 0.5

__all__ = ["SqsPlayground", "sqs_playground"]


def sqs_playground(lab, name: str = "orders-demo") -> SqsPlayground:
    """Create the playground for ``lab`` (a queue, a DLQ, a function, a mapping)."""
    return SqsPlayground(SqsPlaygroundModel(lab, name))


def _table(rows: list[dict], columns: list[tuple[str, str]], empty: str) -> str:
    if not rows:
        return f"<p style='color:#666'>{html.escape(empty)}</p>"
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{title}</th>"
                   for _, title in columns)
    body = "".join(
        "<tr>" + "".join(
            f"<td style='padding:2px 8px'>{html.escape(_cell(row.get(key, '')))}</td>"
            for key, _ in columns) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "-"
    return str(value)


def _bar(label: str, count: int, color: str) -> str:
    width = min(count, 100) * 3
    return (f"<div style='margin:2px 0'><span style='display:inline-block;width:150px'>"
            f"{html.escape(label)}</span><span style='display:inline-block;height:12px;"
            f"width:{width}px;background:{color}'></span> {count}</div>")


class SqsPlayground(widgets.VBox):
    """Controls bound to an SqsPlaygroundModel, and live views of the queue and batches."""

    def __init__(self, model: SqsPlaygroundModel):
        self.model = model
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
                                            description="Orders", layout=widgets.Layout(
                                                width="160px"))
        self.send_button = widgets.Button(description="Send orders", button_style="primary",
                                          icon="paper-plane")
        self.message = widgets.HTML()
        self.queue = widgets.HTML()
        self.batches = widgets.HTML()
        self.orders = widgets.HTML()
        self._worker = None
        self._busy = threading.Event()
        self._closed = threading.Event()
        self._dirty = threading.Event()
        self.send_button.on_click(self._on_send)
        controls = widgets.VBox([self.batch_size, self.window, self.visibility_timeout,
                                 self.failure_rate, self.report_failures,
                                 widgets.HBox([self.count, self.send_button]), self.message])
        self.views = widgets.Tab(children=[self.queue, self.batches, self.orders])
        for index, title in enumerate(("Queue", "Batches", "Orders")):
            self.views.set_title(index, title)
        super().__init__([controls, self.views])
        self._unsubscribe = model.lab.trace.subscribe(self._on_trace)
        threading.Thread(target=self._refresh_loop, daemon=True,
                         name="lab-sqs-playground-refresh").start()
        self.refresh()

    # -- input ---------------------------------------------------------------------------

    def _read_controls(self):
        s = self.model.settings
        s.batch_size = int(self.batch_size.value)
        s.window = int(self.window.value)
        s.visibility_timeout = int(self.visibility_timeout.value)
        s.failure_rate = round(float(self.failure_rate.value), 2)
        s.report_failures = bool(self.report_failures.value)
        self.model.count = int(self.count.value)

    def _on_send(self, _button=None):
        if self._busy.is_set():
            self._show_message("Still sending: wait a moment, then press again.", error=True)
            return
        try:
            self._read_controls()
            self.model.validate()
        except Exception as error:  # every failure shows in the widget
            self._show_message(str(error), error=True)
            return
        self._busy.set()
        self.send_button.disabled = True
        self._worker = threading.Thread(target=self._send_in_background, daemon=True)
        self._worker.start()

    def _send_in_background(self):
        try:
            changes = self.model.apply()
            numbers = self.model.send()
            applied = f" (applied: {'; '.join(changes)})" if changes else ""
            self._show_message(f"Sent orders {numbers[0]}–{numbers[-1]}{applied}.")
        except Exception as error:  # Lambda's validation errors, for example
            text = getattr(error, "response", {}).get("Error", {}).get("Message") or str(error)
            self._show_message(f"{type(error).__name__}: {text}", error=True)
        finally:
            self._busy.clear()
            self.send_button.disabled = False
            self._dirty.set()

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait for the last click's orders to be sent and the queue to empty (for code cells)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        settled = self.model.wait(timeout)
        self.refresh()
        return settled

    def _show_message(self, text: str, error: bool = False):
        color = "#b00020" if error else "#1b5e20"
        self.message.value = f"<span style='color:{color}'>{html.escape(text)}</span>"

    # -- output --------------------------------------------------------------------------

    def _on_trace(self, event):
        if event.get("mapping") == self.model.mapping_uuid:
            self._dirty.set()

    def refresh(self):
        try:
            counts = self.model.queue_counts()
            summary = self.model.mapping_summary()
            self.queue.value = (
                _bar("waiting (visible)", counts["visible"], "#1976d2")
                + _bar("in flight", counts["in_flight"], "#f9a825")
                + _bar("dead-letter queue", counts["dead_letter"], "#c62828")
                + "<p style='color:#666'>Mapping: "
                + html.escape(", ".join(f"{k} {v}" for k, v in summary.items())) + "</p>")
            self.batches.value = _table(
                self.model.batch_rows(),
                [("batch", "#"), ("messages", "Orders"), ("receive_counts", "Receive counts"),
                 ("trigger", "Invoked because"), ("outcome", "Outcome"),
                 ("deleted", "Deleted"), ("retried", "Left in the queue")],
                "No batch yet: press Send orders.")
            self.orders.value = _table(
                self.model.order_rows(),
                [("order", "Order"), ("deliveries", "Deliveries"), ("state", "State")],
                "No orders sent from the playground yet.")
        except Exception as error:  # a broken view says so instead of going blank
            self._show_message(f"Could not refresh the views: {error}", error=True)

    def _refresh_loop(self):
        was_busy = True
        while not self._closed.is_set():
            dirty = self._dirty.wait(REFRESH_S)
            if self._closed.is_set() or not self.model.lab.running:
                return
            self._dirty.clear()
            try:
                busy = not self.model.settled()
            except Exception:  # the lab stopped under us
                return
            if dirty or busy or was_busy:  # and once more after the queue emptied
                self.refresh()
            was_busy = busy

    def close(self):
        self._closed.set()
        self._dirty.set()
        self._unsubscribe()
        super().close()
