"""CloudWatch metrics in the lab: what AWS services write there, and how reads match them.

Lambda's metrics (``helpers.lambda_.metrics``) go straight into moto's state, as AWS's
own services write theirs, without a request. Reads (``GetMetricStatistics``,
``GetMetricData``) then match a metric as CloudWatch does: by namespace, name and
exactly the dimensions asked for, so ``FunctionName=f`` is one metric and
``FunctionName=f, Resource=f:live`` another (moto would add the second into the first,
see ``helpers/cloud/patches.py``). CloudWatch also rounds a query's start down to the
minute (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
"""

from __future__ import annotations

import ast
import operator
import threading
from datetime import timezone
from types import SimpleNamespace

from ..aws import ACCOUNT_ID, REGION

__all__ = ["backend", "exact_metric_data", "exact_metric_statistics", "metric_math",
           "period_values", "write_metric_data"]

_lock = threading.Lock()


def backend(region: str = REGION, account_id: str = ACCOUNT_ID):
    from moto.cloudwatch.models import cloudwatch_backends  # on first use, as moto loads it

    return cloudwatch_backends[account_id][region]


def write_metric_data(namespace: str, data: list[dict], region: str = REGION,
                      account_id: str = ACCOUNT_ID) -> None:
    """Store datums as PutMetricData would (``StatisticValues`` or ``Value``)."""
    store = backend(region, account_id)
    with _lock:
        store.put_metric_data(namespace, data)


def _same(datum, namespace: str, name: str, dimensions: list[dict]) -> bool:
    return (datum.namespace == namespace and datum.name == name
            and sorted((d.name, d.value) for d in datum.dimensions)
            == sorted((d["Name"], d.get("Value")) for d in dimensions))


def _only(store, keep):
    """A view of ``store`` whose metrics are those ``keep(datum)`` accepts."""
    return SimpleNamespace(get_all_metrics=lambda: [d for d in store.get_all_metrics()
                                                    if keep(d)])


def _minute(moment):
    return moment.replace(second=0, microsecond=0)


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv}


def metric_math(expression: str, answers: dict) -> tuple[list, list]:
    """Arithmetic on other queries' results (``100 * errors / invocations``): the values
    at the timestamps every named result has. Other expressions give no values."""
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return [], []

    def series(node):
        if isinstance(node, ast.Name) and node.id in answers:
            answer = answers[node.id]
            return dict(zip(answer["timestamps"], answer["values"], strict=True))
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = series(node.operand)
            return ({t: -v for t, v in inner.items()} if isinstance(inner, dict) else -inner)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return combine(_OPERATORS[type(node.op)], series(node.left), series(node.right))
        raise ValueError(expression)

    def combine(op, left, right):
        if not isinstance(left, dict) and not isinstance(right, dict):
            return op(left, right)
        times = [t for t in (left if isinstance(left, dict) else right)
                 if (not isinstance(left, dict) or t in left)
                 and (not isinstance(right, dict) or t in right)]
        out = {}
        for t in times:
            a = left[t] if isinstance(left, dict) else left
            b = right[t] if isinstance(right, dict) else right
            try:
                out[t] = op(a, b)
            except ZeroDivisionError:
                continue  # CloudWatch leaves out a point divided by zero
        return out

    try:
        result = series(tree)
    except (ValueError, TypeError):
        return [], []
    if not isinstance(result, dict):
        return [], []
    times = sorted(result)
    return [result[t] for t in times], times


def exact_metric_statistics(original, seams):
    def get_metric_statistics(store, namespace, metric_name, start_time, end_time, period,
                              stats, dimensions, unit=None):
        view = _only(store, lambda d: _same(d, namespace, metric_name, dimensions or []))
        return original(view, namespace, metric_name, _minute(start_time), end_time, period,
                        stats, [], unit)

    return get_metric_statistics


def exact_metric_data(original, seams):
    def get_metric_data(store, queries, start_time, end_time, scan_by="TimestampAscending"):
        start_time = _minute(start_time)
        answers = {}  # query id -> its result, each metric matched on its own
        for query in queries:
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                view = _only(store, lambda d, m=metric: _same(
                    d, m["Namespace"], m["MetricName"], m.get("Dimensions") or []))
                answers[query["Id"]] = original(view, [{**query, "ReturnData": True}],
                                                start_time, end_time, scan_by)[0]
        for query in queries:
            expression = query.get("Expression", "")
            if expression and not expression.startswith("SELECT"):
                values, timestamps = metric_math(expression, answers)
                if scan_by == "TimestampDescending":
                    values, timestamps = values[::-1], timestamps[::-1]
                answers[query["Id"]] = {
                    "id": query["Id"], "label": query.get("Label") or query["Id"],
                    "values": values, "timestamps": timestamps, "status_code": "Complete"}
            elif expression:  # Metrics Insights: as moto answers it
                answers[query["Id"]] = original(store, [query], start_time, end_time,
                                                scan_by)[0]
        return [answers[query["Id"]] for query in queries
                if query.get("ReturnData", True) and query["Id"] in answers]

    return get_metric_data


_STATISTICS = {
    "SampleCount": lambda sets: sum(s[0] for s in sets),
    "Sum": lambda sets: sum(s[1] for s in sets),
    "Minimum": lambda sets: min(s[2] for s in sets),
    "Maximum": lambda sets: max(s[3] for s in sets),
    "Average": lambda sets: sum(s[1] for s in sets) / max(sum(s[0] for s in sets), 1),
}


def period_values(store, namespace: str, name: str, dimensions: list[dict], statistic: str,
                  period: int, start: float, end: float, unit: str | None = None) -> dict:
    """{period start (epoch seconds): the statistic} for one metric, periods aligned to
    multiples of ``period``, from ``start`` up to ``end`` (what an alarm evaluates)."""
    grouped: dict[int, list] = {}
    for datum in store.get_all_metrics():
        if not _same(datum, namespace, name, dimensions) or (unit and datum.unit != unit):
            continue
        moment = datum.timestamp.replace(tzinfo=timezone.utc).timestamp()
        if not start <= moment < end:
            continue
        if hasattr(datum, "sample_count"):
            sums = (datum.sample_count, datum.sum, datum.min, datum.max)
        else:
            sums = (1, datum.value, datum.value, datum.value)
        grouped.setdefault(int(moment // period) * period, []).append(sums)
    return {when: _STATISTICS[statistic](sets) for when, sets in grouped.items()}
