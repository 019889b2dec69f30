"""The routing playground (notebook 12): the model routes one event through SNS or
EventBridge and says which subscriptions and rules matched and why not the others; the
widget is a thin view that a code cell drives, and it sets itself up again after a
clean-up."""

from __future__ import annotations

import boto3
import pytest

import helpers
from helpers.playgrounds.routing import RoutingError, RoutingModel


@pytest.fixture
def model(lab):
    lab.speedup = 600
    yield RoutingModel(lab, prefix="routing-test")
    lab.wait_for_events(20)
    lab.speedup = 1


@pytest.mark.parametrize("service", ["SNS", "EventBridge"])
def test_a_small_order_reaches_audit_only_and_says_why_not_billing(model, service):
    model.service, model.kind, model.total = service, "order", 20
    item = model.publish()
    assert item.error is None and item.message_id
    assert model.wait(20)
    routes = {row["route"].split("-")[-1] if service == "SNS" else row["route"]: row
              for row in model.routes(item)}
    assert len(routes) == 2, routes
    billing = next(r for name, r in routes.items() if "billing" in name or "big" in name)
    audit = next(r for name, r in routes.items() if "audit" in name or "all" in name)
    assert not billing["matched"] and "total" in billing["why"]
    assert billing["request_id"] is None, "a filtered-out event invoked billing"
    assert audit["matched"] and audit["attempts"] == ["response"]
    assert audit["outcome"] == "succeeded"


def test_a_failing_billing_function_is_retried(model):
    model.service, model.total, model.behaviour = "EventBridge", 500, "raise an error"
    item = model.publish()
    assert model.wait(20)
    billing = next(r for r in model.routes(item) if "big" in r["route"])
    assert billing["attempts"] == ["error", "error", "error"]
    assert billing["outcome"].startswith("dropped")
    assert "error, error, error" in model.describe()


def test_bad_input_is_refused_with_a_message(model):
    model.total = -5
    with pytest.raises(RoutingError, match="between 0"):
        model.publish()


def test_the_widget_is_driven_from_code_and_survives_a_clean_up(lab):
    lab.speedup = 600
    playground = helpers.routing_playground(lab, prefix="routing-widget")
    try:
        boto3.client("sns").delete_topic(TopicArn=playground.model.topic_arn)
        playground.service.value = "SNS"
        playground.total.value = 150
        playground.publish_button.click()
        playground.wait(20)
        assert "matched" in playground.routes.value
        assert "billing" in playground.model.describe()
        figure = playground.timeline()
        bundle = figure._repr_mimebundle_()
        assert "application/vnd.plotly.v1+json" in bundle and "<table>" in bundle["text/html"]
    finally:
        playground.close()
        lab.speedup = 1
