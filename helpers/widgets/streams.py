"""The shard view widget: a thin view over a ``StreamViewModel``.

    view = helpers.shard_view(lab)       # shows the widget (Kinesis, notebook 13)
    view = helpers.table_stream_view(lab)  # the same over a DynamoDB table (notebook 05)
    view.poison.value = True             # drive it from code, as a learner would
    view.put_button.click()
    view.wait()                          # until every shard has caught up
    view.timeline()                      # the batches on their shards, as a plotly chart

Controls for the batch size, bisect and the retry budget, how many records to put and
whether one is poison. Tabs: each shard (records waiting, the checkpoint, the batch in
flight and its attempt, iterator age), the batches and what Lambda did after each, and a
timeline of batches per shard. Introduced in notebook 13; over a table's stream in 05.
"""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as widgets

from ..playgrounds.streams import MAX_PUT, ShardViewModel, TableStreamViewModel
from . import html as lab_html
from .timeline import chart_bundle, lay_out

OUTCOME_COLORS = {"success": "#43a047", "error": "#e53935", "partial": "#fb8c00",
                  "invoking…": "#1e88e5", "RetryAttemptsExhausted": "#8e24aa",
                  "RecordAgeExceeded": "#6d4c41"}
REFRESH_S = 0.5

__all__ = ["ShardView", "ShardTimeline", "TableStreamView", "shard_view",
           "table_stream_view"]
_table = lab_html.table


def shard_view(lab, name: str = "shard-demo") -> ShardView:
    """Create the shard view for ``lab`` (a stream of two shards, a function, a mapping)."""
    return ShardView(ShardViewModel(lab, name))


def table_stream_view(lab, name: str = "orders-view") -> TableStreamView:
    """Create the shard view over a DynamoDB table's stream (a table of orders, a function
    failing batches with an order of quantity 0, a mapping)."""
    return TableStreamView(TableStreamViewModel(lab, name))


class ShardTimeline:
    """The batches per shard against time: plotly in JupyterLab, a table elsewhere."""

    def __init__(self, rows: list[dict]):
        self.rows = [row for row in rows if row["number"] != "-"]

    def figure(self):
        import plotly.graph_objects as go  # imported on use: only drawing needs it

        origin = min((row["start"] for row in self.rows), default=0.0)
        now = time.time()
        fig = go.Figure()
        for outcome, color in OUTCOME_COLORS.items():
            rows = [row for row in self.rows if row["outcome"] == outcome]
            if rows:
                fig.add_trace(go.Bar(
                    name=outcome, orientation="h", y=[f"shard {r['shard']}" for r in rows],
                    base=[r["start"] - origin for r in rows],
                    x=[max((r["end"] or now) - r["start"], 0.02) for r in rows],
                    marker={"color": color}, text=[f"#{r['number']} try {r['attempt']}"
                                                   for r in rows],
                    textposition="inside",
                    hovertext=[", ".join(r["records"]) for r in rows]))
        lanes = sorted({f"shard {row['shard']}" for row in self.rows})
        return lay_out(fig, "Batches per shard", lanes, origin, left=110)

    def _repr_mimebundle_(self, include=None, exclude=None):
        table = _table(self.rows, [("shard", "Shard"), ("number", "#"), ("records", "Records"),
                                   ("attempt", "Attempt"), ("outcome", "Outcome")],
                       "No batch yet.")
        if not self.rows:
            return {"text/html": table, "text/plain": "No batch yet."}
        return chart_bundle(self.figure(), table, f"{len(self.rows)} batch(es)")


class ShardView(widgets.VBox):
    """Controls bound to a ShardViewModel, and views that refresh while records move."""

    title = "Shard view"
    put_text = "Put records"
    poison_text = "one poison record"
    noun = "records"

    def __init__(self, model):
        self.model = model
        s = model.settings
        style = {"description_width": "120px"}
        self.batch_size = widgets.IntSlider(value=s.batch_size, min=1, max=20,
                                            description="Batch size", style=style)
        self.max_retries = widgets.IntSlider(value=s.max_retries, min=-1, max=5,
                                             description="Retries (-1: ∞)", style=style)
        self.bisect = widgets.Checkbox(value=s.bisect, description="Bisect on error")
        self.count = widgets.BoundedIntText(value=6, min=1, max=MAX_PUT,
                                            description=self.noun.capitalize(),
                                            layout=widgets.Layout(width="160px"))
        self.poison = widgets.Checkbox(value=False, description=self.poison_text)
        self.put_button = widgets.Button(description=self.put_text, button_style="primary")
        self.message = widgets.HTML()
        self.shards = widgets.HTML()
        self.batches = widgets.HTML()
        self.timeline_pane = widgets.Output()
        self.put_button.on_click(self._on_put)
        tabs = widgets.Tab(children=[self.shards, self.batches, self.timeline_pane])
        for index, title in enumerate(("Shards", "Batches", "Timeline")):
            tabs.set_title(index, title)
        controls = widgets.VBox([self.batch_size, self.max_retries, self.bisect,
                                 widgets.HBox([self.count, self.poison, self.put_button]),
                                 self.message])
        super().__init__([controls, tabs])
        self._worker = None
        self._closed = threading.Event()
        self._drawn = None
        threading.Thread(target=self._refresh_loop, daemon=True, name="lab-shard-view").start()
        self.refresh()

    def _on_put(self, _button=None) -> None:
        if self._worker is not None and self._worker.is_alive():
            self.message.value = f"Still writing the last {self.noun}."
            return
        s = self.model.settings
        s.batch_size, s.max_retries = int(self.batch_size.value), int(self.max_retries.value)
        s.bisect = bool(self.bisect.value)
        count = int(self.count.value)
        poison = (count + 1) // 2 if self.poison.value else None
        self.message.value = f"Writing {count} {self.noun} …"
        self._worker = threading.Thread(target=self._put, args=(count, poison), daemon=True)
        self._worker.start()

    def _put(self, count, poison) -> None:
        try:
            self.model.put(count, poison)
            self.message.value = f"Wrote {count} {self.noun}" + (
                f", number {poison} of them poison." if poison else ".")
        except Exception as error:  # Lambda's validation errors, for example
            self.message.value = f"✗ {html.escape(str(error))}"

    def wait(self, timeout: float = 60.0) -> None:
        """For code cells: until the put finished and every shard caught up."""
        if self._worker is not None:
            self._worker.join(timeout)
        if not self.model.wait(timeout):
            raise TimeoutError(f"The shards had not caught up after {timeout:g} s "
                               "(a poison record with unlimited retries holds its shard).")
        self.refresh()

    def timeline(self) -> ShardTimeline:
        return ShardTimeline(self.model.batch_rows())

    def refresh(self) -> None:
        try:
            self.shards.value = _table(self.model.shard_rows(), [
                ("shard", "Shard"), ("waiting", "Records not yet ended"),
                ("checkpoint", "Checkpoint after"), ("in_flight", "Batch in flight"),
                ("attempt", "Attempt"), ("iterator_age_ms", "Iterator age (ms)")],
                "The mapping is starting.")
            rows = self.model.batch_rows()
            self.batches.value = _table(rows, [
                ("shard", "Shard"), ("number", "#"), ("records", "Records"),
                ("attempt", "Attempt"), ("outcome", "Outcome"), ("then", "Then")],
                f"No batch yet: press {self.put_text}.")
            key = [(r["number"], r["outcome"]) for r in rows]
            if key != self._drawn:
                self.timeline_pane.outputs = ({"output_type": "display_data", "metadata": {},
                                               "data": self.timeline()._repr_mimebundle_()},)
                self._drawn = key
        except Exception as error:  # the lab stopped, or the clean-up deleted the stream
            self.message.value = f"Could not refresh: {html.escape(str(error))}"

    def _refresh_loop(self) -> None:
        while not self._closed.wait(REFRESH_S):
            if not self.model.lab.running:
                return
            self.refresh()

    def close(self) -> None:
        self._closed.set()
        super().close()


class TableStreamView(ShardView):
    """The shard view over a DynamoDB table's stream: orders, and quantity 0 is poison."""

    title = "Table stream view"
    put_text = "Write orders"
    poison_text = "one of quantity 0"
    noun = "orders"
