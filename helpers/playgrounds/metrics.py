"""The metrics view's logic: Lambda's metrics of a few functions, per minute, from CloudWatch.

A plain class, no widgets: ``helpers.metrics_view`` draws it, notebooks and tests drive
it directly. It reads, with one plain boto3 ``get_metric_data`` call, the chosen metrics
(namespace ``AWS/Lambda``, dimension ``FunctionName``, one-minute periods) of the chosen
functions over the last minutes, and the error rate as metric math
(``100 * errors / invocations``). So that there is something to watch, it sets up a demo
function of its own that fails when asked (``invoke()`` sends synchronous invokes, some
failing). Shaped like the other playground models (``_setup``, ``_resources_exist``,
``ensure_ready``, ``function_arns``). Introduced in notebook 15.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import boto3
from botocore.exceptions import ClientError

from .base import PlaygroundBase, PlaygroundInputError

NAMESPACE = "AWS/Lambda"
PERIOD_S = 60
ERROR_RATE = "Error rate (%)"
# the statistic each metric is read with, as the Lambda console's graphs do
STATISTICS = {"Invocations": "Sum", "Errors": "Sum", "Throttles": "Sum",
              "Duration": "Average", "ConcurrentExecutions": "Maximum",
              "AsyncEventsDropped": "Sum", "IteratorAge": "Maximum"}
METRICS = (*STATISTICS, ERROR_RATE)
UNITS = {"Duration": "ms", "IteratorAge": "ms", ERROR_RATE: "%"}
MAX_INVOKES = 50
MAX_MINUTES = 60
DEMO_SOURCE = '''
def lambda_handler(event, context):
    if event.get("fail"):
        raise ValueError(f"order {event.get('order')} is not valid")
    return {"order": event.get("order"), "ok": True}
'''

__all__ = ["ERROR_RATE", "METRICS", "MetricsViewError", "MetricsViewModel", "Series",
           "STATISTICS"]


class MetricsViewError(PlaygroundInputError):
    """Bad input in the metrics view, with a message for the learner."""


@dataclass
class Series:
    """One metric of one function: a value per minute (``times`` are the minutes' starts)."""

    function: str
    metric: str
    statistic: str
    times: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    @property
    def total(self) -> float | None:
        """The sum of a count over the minutes shown (None for other statistics)."""
        return sum(self.values) if self.statistic == "Sum" else None


class MetricsViewModel(PlaygroundBase):
    """Which functions and metrics, ``read()`` that asks CloudWatch, and ``invoke()``."""

    def __init__(self, lab, name: str = "metrics-demo"):
        super().__init__(lab)
        self.name = name  # the demo function
        self.functions: list[str] = [name]
        self.metrics: list[str] = ["Invocations", "Errors", ERROR_RATE]
        self.minutes = 10
        self.series: list[Series] | None = None  # what the last read() found
        self.read_at: datetime | None = None
        self._lambda = boto3.client("lambda")
        self._cloudwatch = boto3.client("cloudwatch")
        self.function_arn = None
        self._setup()

    # -- set-up ----------------------------------------------------------------------------

    def _setup(self) -> None:
        self.function_arn = self.lab.deploy(self.name, DEMO_SOURCE, timeout=5)[
            "FunctionArn"].rsplit(":$LATEST", 1)[0]

    def _resources_exist(self) -> bool:
        try:
            self._lambda.get_function_configuration(FunctionName=self.name)
        except ClientError:
            return False
        return True

    def function_arns(self) -> list[str]:
        """The watched functions that exist (the timeline shows their environments)."""
        arns = []
        for name in self.functions:
            try:
                arns.append(self._lambda.get_function_configuration(
                    FunctionName=name)["FunctionArn"].rsplit(":$LATEST", 1)[0])
            except ClientError:
                continue  # not deployed (yet): its metrics are simply empty
        return arns

    # -- settings --------------------------------------------------------------------------

    def choose(self, functions=None, metrics=None, minutes=None) -> None:
        """Set what to read; MetricsViewError (and nothing changed) if a setting is wrong."""
        functions = self.functions if functions is None else functions
        if isinstance(functions, str):
            functions = functions.split(",")
        functions = list(dict.fromkeys(f.strip() for f in functions if f.strip()))
        metrics = list(self.metrics if metrics is None else metrics)
        minutes = self.minutes if minutes is None else minutes
        if not functions:
            raise MetricsViewError("Name at least one function (names separated by commas).")
        if len(functions) > 5:
            raise MetricsViewError("The view draws up to 5 functions at once.")
        unknown = [m for m in metrics if m not in METRICS]
        if not metrics or unknown:
            raise MetricsViewError(f"Choose one or more of: {', '.join(METRICS)}"
                                   + (f" (not {', '.join(unknown)})" if unknown else "") + ".")
        if not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES:
            raise MetricsViewError(f"Show between 1 and {MAX_MINUTES} minutes.")
        self.functions, self.metrics, self.minutes = functions, metrics, minutes

    # -- reading CloudWatch ----------------------------------------------------------------

    def queries(self) -> list[dict]:
        """The MetricDataQueries of one read: a MetricStat per metric and function, the
        error rate as a metric-math expression over hidden Errors and Invocations."""
        queries = []
        for f, function in enumerate(self.functions):
            wanted = [m for m in self.metrics if m != ERROR_RATE]
            rate = ERROR_RATE in self.metrics
            hidden = [m for m in ("Errors", "Invocations") if rate and m not in wanted]
            for metric in wanted + hidden:
                queries.append({
                    "Id": f"f{f}_{metric.lower()}", "Label": f"{function} {metric}",
                    "ReturnData": metric not in hidden,
                    "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric,
                                              "Dimensions": [{"Name": "FunctionName",
                                                              "Value": function}]},
                                   "Period": PERIOD_S, "Stat": STATISTICS[metric]}})
            if rate:
                queries.append({"Id": f"f{f}_rate", "Label": f"{function} {ERROR_RATE}",
                                "Expression": f"100 * f{f}_errors / f{f}_invocations"})
        return queries

    def read(self, now: datetime | None = None) -> list[Series]:
        """Ask CloudWatch (plain boto3 ``get_metric_data``) for the chosen metrics of the
        last ``minutes``; keeps and returns one Series per function and metric."""
        with self._lock:
            now = now or datetime.now(timezone.utc)
            queries = self.queries()
            by_id = {q["Id"]: q for q in queries}
            answer = self._cloudwatch.get_metric_data(
                MetricDataQueries=queries, StartTime=now - timedelta(minutes=self.minutes),
                EndTime=now + timedelta(minutes=1), ScanBy="TimestampAscending")
            series = []
            for result in answer["MetricDataResults"]:
                query = by_id[result["Id"]]
                f = int(result["Id"][1:].split("_", 1)[0])
                metric = (ERROR_RATE if "Expression" in query
                          else query["MetricStat"]["Metric"]["MetricName"])
                pairs = sorted(zip(result["Timestamps"], result["Values"], strict=True))
                series.append(Series(self.functions[f], metric,
                                     "metric math" if metric == ERROR_RATE
                                     else STATISTICS[metric],
                                     [t for t, _ in pairs], [v for _, v in pairs]))
            self.series, self.read_at = series, now
            return series

    def rows(self) -> list[dict]:
        """The last read as table rows: one per minute and function, a column per metric."""
        table: dict[tuple, dict] = {}
        for series in self.series or []:
            for moment, value in zip(series.times, series.values, strict=True):
                row = table.setdefault((moment, series.function), {
                    "minute": moment.astimezone(timezone.utc).strftime("%H:%M"),
                    "function": series.function})
                row[series.metric] = round(value, 1)
        return [table[key] for key in sorted(table)]

    def totals(self, function: str | None = None) -> dict[str, float]:
        """A count's sum over the minutes shown, per metric (of one function, or the first)."""
        function = function or self.functions[0]
        return {s.metric: s.total for s in self.series or []
                if s.function == function and s.total is not None}

    # -- something to watch ----------------------------------------------------------------

    def invoke(self, count: int, failures: int) -> tuple[int, int]:
        """Invoke the demo function ``count`` times, synchronously; the last ``failures`` of
        them fail. Returns (succeeded, failed) as Lambda answered."""
        if not isinstance(count, int) or not 1 <= count <= MAX_INVOKES:
            raise MetricsViewError(f"Send between 1 and {MAX_INVOKES} invokes.")
        if not isinstance(failures, int) or not 0 <= failures <= count:
            raise MetricsViewError(f"Between 0 and {count} of them can fail.")
        succeeded = failed = 0
        for number in range(1, count + 1):
            payload = {"order": number, "fail": number > count - failures}
            response = self._lambda.invoke(FunctionName=self.name,
                                           Payload=json.dumps(payload).encode())
            response["Payload"].read()
            if "FunctionError" in response:
                failed += 1
            else:
                succeeded += 1
        return succeeded, failed
