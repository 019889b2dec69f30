"""The metrics view (notebook 15): its model read through plain boto3's get_metric_data, and
the widget driven from code as the notebook drives it."""

from __future__ import annotations

import uuid

import boto3
import pytest

import helpers
from helpers.playgrounds.metrics import ERROR_RATE, MetricsViewError, MetricsViewModel


@pytest.fixture
def model(lab):
    return MetricsViewModel(lab, f"metrics-{uuid.uuid4().hex[:8]}")


def test_invokes_show_as_invocations_errors_and_an_error_rate(model):
    assert model.invoke(8, 2) == (6, 2)
    series = model.read()
    assert {(s.function, s.metric) for s in series} == {
        (model.name, "Invocations"), (model.name, "Errors"), (model.name, ERROR_RATE)}
    assert model.totals() == {"Invocations": 8, "Errors": 2}
    [rate] = [s for s in series if s.metric == ERROR_RATE]
    # all eight ran within a minute or two: the rate of each minute, weighted, is 25 %
    invocations = next(s for s in series if s.metric == "Invocations")
    weighted = sum(r * n for r, n in zip(rate.values, invocations.values, strict=True))
    assert weighted / 8 == pytest.approx(25.0)
    rows = model.rows()
    assert rows and all(row["function"] == model.name for row in rows)
    assert sum(row["Invocations"] for row in rows) == 8


def test_a_function_without_invokes_has_no_datapoints_and_durations_are_averages(model, deploy):
    quiet = deploy("def lambda_handler(event, context):\n    return 1\n")
    model.invoke(3, 0)
    model.choose(functions=f"{model.name}, {quiet}", metrics=["Invocations", "Duration"])
    series = model.read()
    by = {(s.function, s.metric): s for s in series}
    assert by[(quiet, "Invocations")].values == [] and by[(quiet, "Duration")].values == []
    assert sum(by[(model.name, "Invocations")].values) == 3
    assert by[(model.name, "Duration")].statistic == "Average"
    assert all(0 < value < 1000 for value in by[(model.name, "Duration")].values)
    hidden = [q["Id"] for q in model.queries() if not q.get("ReturnData", True)]
    assert hidden == []  # no error rate asked for: nothing read that is not shown


def test_the_error_rate_reads_errors_and_invocations_without_showing_them(model):
    model.choose(metrics=[ERROR_RATE])
    queries = model.queries()
    assert [(q["Id"], q.get("ReturnData", True)) for q in queries] == [
        ("f0_errors", False), ("f0_invocations", False), ("f0_rate", True)]
    assert queries[-1]["Expression"] == "100 * f0_errors / f0_invocations"
    model.invoke(4, 4)
    [rate] = model.read()
    assert rate.metric == ERROR_RATE and rate.values and set(rate.values) == {100.0}


@pytest.mark.parametrize("settings", [
    {"functions": " , "}, {"metrics": []}, {"metrics": ["Invocation"]}, {"minutes": 0},
    {"functions": [f"f{n}" for n in range(6)]}])
def test_bad_settings_are_refused_and_change_nothing(model, settings):
    before = (model.functions, model.metrics, model.minutes)
    with pytest.raises(MetricsViewError):
        model.choose(**settings)
    assert (model.functions, model.metrics, model.minutes) == before


def test_bad_invokes_are_refused(model):
    with pytest.raises(MetricsViewError):
        model.invoke(0, 0)
    with pytest.raises(MetricsViewError):
        model.invoke(3, 4)


def test_the_widget_driven_from_code(lab):
    view = helpers.metrics_view(lab, f"metrics-{uuid.uuid4().hex[:8]}")
    try:
        view.count.value, view.failures.value = 5, 1
        view.invoke_button.click()
        view.wait(30)
        assert "4 invoke(s) succeeded, 1 failed" in view.message.value
        assert view.model.totals() == {"Invocations": 5, "Errors": 1}
        bundle = view.chart().mimebundle()
        assert "application/vnd.plotly.v1+json" in bundle
        assert "<td" in view.table.value and view.model.name in view.table.value
        assert len(view.model.timeline().attempts()) == 5
        # a bad setting is refused in the widget, without a traceback
        view.functions.value = " "
        view.refresh_button.click()
        view.wait(10)
        assert "Name at least one function" in view.message.value
        # deleted (as a notebook's clean-up does): the next invoke sets it up again
        boto3.client("lambda").delete_function(FunctionName=view.model.name)
        view.functions.value = view.model.name
        view.invoke_button.click()
        view.wait(30)
        assert "succeeded" in view.message.value, view.message.value
        assert "Metrics view" in view._bundle()["text/html"]
    finally:
        view.close()
