"""The metrics view widget: a thin view over ``MetricsViewModel``.

    view = helpers.metrics_view(lab)                 # shows the widget
    view.functions.value = "process-order"           # drive it from code
    view.refresh_button.click()
    view.wait()                                      # until CloudWatch has answered
    view.chart()                                     # the metrics per minute, as a chart

Controls for the functions (names separated by commas), the metrics and how many minutes
to show; **Refresh** reads CloudWatch again, **Invoke the demo** sends invokes to the
view's own function (some failing) and then reads. Tabs: a plotly chart (counts as bars,
the rest as lines, one row per metric), the values per minute, and a timeline of the
functions' execution environments. Introduced in notebook 15.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..playgrounds.metrics import (
    ERROR_RATE,
    MAX_INVOKES,
    MAX_MINUTES,
    METRICS,
    UNITS,
    MetricsViewModel,
    Series,
)
from . import html
from .base import PlaygroundView
from .timeline import GRID_COLOR, TEXT_COLOR, chart_bundle

# one colour per function, mid-tones that read on light and dark backgrounds
COLORS = ("#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa")

__all__ = ["MetricsChart", "MetricsView", "metrics_view"]


def metrics_view(lab, name: str = "metrics-demo") -> MetricsView:
    """Create the metrics view for ``lab`` (and its demo function ``name``)."""
    return MetricsView(MetricsViewModel(lab, name))


def figure(series: list[Series], title: str = "Lambda metrics per minute"):
    """A plotly Figure: one row per metric, one colour per function; Sum as bars."""
    import plotly.graph_objects as go  # imported on use: only drawing needs it
    from plotly.subplots import make_subplots

    metrics = list(dict.fromkeys(s.metric for s in series))
    functions = list(dict.fromkeys(s.function for s in series))
    fig = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[m if m == ERROR_RATE else f"{m} ({UNITS.get(m, 'count')})"
                                        for m in metrics])
    for s in series:
        row = metrics.index(s.metric) + 1
        color = COLORS[functions.index(s.function) % len(COLORS)]
        common = {"x": s.times, "y": s.values, "name": s.function, "legendgroup": s.function,
                  "showlegend": row == 1, "marker": {"color": color},
                  "hovertemplate": f"{s.function}<br>{s.metric} ({s.statistic}): "
                                   "%{y}<br>%{x|%H:%M} UTC<extra></extra>"}
        if s.statistic == "Sum":
            fig.add_trace(go.Bar(**common), row=row, col=1)
        else:
            fig.add_trace(go.Scatter(mode="lines+markers", line={"color": color}, **common),
                          row=row, col=1)
    fig.update_layout(
        title={"text": title, "font": {"size": 13}}, barmode="group",
        height=120 + 150 * max(len(metrics), 1), margin={"l": 60, "r": 20, "t": 60, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        font={"color": TEXT_COLOR, "size": 11}, legend={"orientation": "h", "y": -0.12})
    fig.update_xaxes(gridcolor=GRID_COLOR, tickformat="%H:%M")
    fig.update_yaxes(gridcolor=GRID_COLOR, rangemode="tozero")
    return fig


def static_table(model: MetricsViewModel) -> str:
    columns = [("minute", "Minute (UTC)"), ("function", "Function")]
    columns += [(metric, metric) for metric in model.metrics]
    return html.table(model.rows(), columns,
                      "No datapoints in these minutes: invoke a function, then Refresh.")


class MetricsChart:
    """The metrics as a chart for a notebook cell: plotly in JupyterLab, a table elsewhere."""

    def __init__(self, model: MetricsViewModel):
        self.series = list(model.series or [])
        self.table = static_table(model)

    def mimebundle(self) -> dict:
        points = sum(len(s.values) for s in self.series)
        if not points:
            return {"text/html": self.table, "text/plain": "No datapoints yet."}
        return chart_bundle(figure(self.series), self.table,
                            f"{len(self.series)} series, {points} datapoint(s)")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.mimebundle()


class MetricsView(PlaygroundView):
    """Controls bound to a MetricsViewModel, a chart, a table and a timeline."""

    title = "Metrics view"
    thread_name = "lab-metrics-view-refresh"

    def __init__(self, model: MetricsViewModel):
        super().__init__(model)
        style = {"description_width": "110px"}
        self.functions = widgets.Text(value=", ".join(model.functions),
                                      description="Functions", style=style,
                                      layout=widgets.Layout(width="420px"))
        self.metrics = widgets.SelectMultiple(options=METRICS, value=tuple(model.metrics),
                                              description="Metrics", rows=len(METRICS),
                                              style=style)
        self.minutes = widgets.IntSlider(value=model.minutes, min=1, max=MAX_MINUTES,
                                         description="Minutes shown", style=style)
        self.count = widgets.BoundedIntText(value=10, min=1, max=MAX_INVOKES,
                                            description="Invokes", style=style,
                                            layout=widgets.Layout(width="200px"))
        self.failures = widgets.BoundedIntText(value=2, min=0, max=MAX_INVOKES,
                                               description="of them failing", style=style,
                                               layout=widgets.Layout(width="200px"))
        self.refresh_button = widgets.Button(description="Refresh", button_style="primary",
                                             icon="refresh")
        self.invoke_button = widgets.Button(description=f"Invoke {model.name}",
                                            layout=widgets.Layout(width="auto"))
        self.chart_pane = widgets.Output(layout=widgets.Layout(min_height="60px"))
        self.table = widgets.HTML()
        self.refresh_button.on_click(lambda _: self._start(self._read, "Asking CloudWatch …",
                                                           self._read_controls))
        self.invoke_button.on_click(lambda _: self._start(self._invoke, "Invoking …",
                                                          self._read_controls))
        intro = widgets.HTML(
            "Lambda's metrics (namespace <code>AWS/Lambda</code>, dimension "
            "<code>FunctionName</code>), one value per minute, read with "
            f"<code>get_metric_data</code>; {html.escape(ERROR_RATE)} is the metric math "
            "<code>100 * errors / invocations</code>.")
        controls = widgets.VBox([
            intro, self.functions, self.metrics, self.minutes,
            widgets.HBox([self.refresh_button]),
            widgets.HBox([self.count, self.failures, self.invoke_button]), self.message])
        self.views = widgets.Tab(children=[self.chart_pane, self.table, self.timeline_pane])
        for index, title in enumerate(("Chart", "Per minute", "Timeline")):
            self.views.set_title(index, title)
        self._drawn = None
        self._build([controls, self.views], [self.refresh_button, self.invoke_button])

    def _read_controls(self) -> None:
        self.model.choose(self.functions.value, list(self.metrics.value),
                          int(self.minutes.value))

    def _read(self):
        series = self.model.read()
        points = sum(len(s.values) for s in series)
        return (f"CloudWatch answered with {points} datapoint(s) for "
                f"{len(self.model.functions)} function(s)."), "ok"

    def _invoke(self):
        succeeded, failed = self.model.invoke(int(self.count.value), int(self.failures.value))
        self.model.read()
        return (f"{succeeded} invoke(s) succeeded, {failed} failed; the chart shows them "
                "already (in AWS, after about a minute)."), "ok"

    def chart(self) -> MetricsChart:
        """The last read as a chart for a notebook cell."""
        return MetricsChart(self.model)

    # -- output ----------------------------------------------------------------------------

    def _wants(self, event) -> bool:
        return False  # the chart changes when CloudWatch is read, not with the trace

    def _render(self) -> None:
        if self.model.series is None:
            self.model.read()
        key = (self.model.read_at, tuple(self.model.metrics))
        if key == self._drawn:
            return
        self.table.value = static_table(self.model)
        self.chart_pane.outputs = ({"output_type": "display_data", "metadata": {},
                                    "data": self.chart().mimebundle()},)
        self._drawn = key

    def _static_html(self) -> str:
        return self.table.value
