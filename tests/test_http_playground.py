"""The HTTP front door playground (ALB and function URL): its model, and the widget driven
as a learner would."""

import json
import time

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import AlbModel, LambdaFunctionUrlModel

import helpers
from helpers.playgrounds.http import HttpPlaygroundModel


def make(lab, door):
    name = f"{'albpg' if door == 'alb' else 'urlpg'}-{time.monotonic_ns() % 10**9}"
    create = helpers.alb_playground if door == "alb" else helpers.function_url_playground
    return create(lab, name=name)


@pytest.fixture(params=["alb", "function_url"])
def view(lab, request):
    view = make(lab, request.param)
    yield view
    view.close()
    view.model.wait_for_function()
    view.model.delete()


@pytest.fixture
def alb_view(lab):
    view = make(lab, "alb")
    yield view
    view.close()
    view.model.delete()


@pytest.fixture
def url_view(lab):
    view = make(lab, "function_url")
    yield view
    view.close()
    view.model.delete()


def send(view):
    view.send_button.click()
    view.wait()
    return view.model.result


def test_the_request_the_event_and_the_answer_side_by_side(view):
    view.method.value = "POST"
    view.path.value = "/orders"
    view.query.value = "tag=a&tag=b"
    view.headers.value = "Content-Type: application/json\nX-Team: red"
    view.body.value = '{"item": "tea"}'
    result = send(view)
    assert result.status == 200, view.message.value
    answer = json.loads(result.body)
    assert (answer["method"], answer["path"]) == ("POST", "/orders")
    event = view.model.event()
    model = AlbModel if view.model.door == "alb" else LambdaFunctionUrlModel
    model.model_validate(event)
    assert event["body"] == '{"item": "tea"}'
    assert "POST /orders?tag=a&amp;tag=b HTTP/1.1" in view.sent.value
    assert "X-Team: red" in view.sent.value
    assert "&quot;body&quot;: &quot;{\\&quot;item\\&quot;" in view.event.value
    assert "HTTP/1.1 200 OK" in view.response.value
    info = view.model.invocation()
    assert (info["door_outcome"], info["outcome"]) == ("integration", "response")
    assert info["lambda_request_id"] in view.response.value
    assert "var(--jp-success-color1" in view.message.value


def test_a_failing_function_is_a_502(view):
    view.failing.value = True
    result = send(view)
    assert result.status == 502
    assert view.model.invocation()["door_outcome"] == "function_error"
    assert "HTTP/1.1 502 Bad Gateway" in view.response.value
    for pane in (view.message, view.response):  # a 5xx is never shown as a success
        assert "var(--jp-error-color1" in pane.value
    view.failing.value = False
    assert send(view).status == 200


def test_multi_value_headers_switch_on_and_off(alb_view):
    first = send(alb_view)
    assert json.loads(first.body)["query"] == {"tag": "gift"}
    assert "queryStringParameters" in alb_view.model.event()
    alb_view.multi_value.value = True
    second = send(alb_view)
    event = alb_view.model.event()
    assert event["multiValueQueryStringParameters"] == {"tag": ["new", "gift"]}
    assert "headers" not in event and event["multiValueHeaders"]["cookie"] == ["theme=dark"]
    assert json.loads(second.body)["query"] == {"tag": ["new", "gift"]}
    cookies = [value for name, value in second.headers if name.lower() == "set-cookie"]
    assert cookies == ["seen=1", "theme=dark"]
    group = boto3.client("elbv2").describe_target_group_attributes(
        TargetGroupArn=alb_view.model.target_group_arn)["Attributes"]
    assert {"Key": "lambda.multi_value_headers.enabled", "Value": "true"} in group
    alb_view.multi_value.value = False
    send(alb_view)
    assert "headers" in alb_view.model.event()


def test_the_auth_type_and_signing(url_view):
    url_view.auth_type.value = "AWS_IAM"
    unsigned = send(url_view)
    assert unsigned.status == 403
    assert url_view.model.invocation()["state"] == "Lambda was not invoked"
    assert "The function received no event." in url_view.event.value
    url_view.sign.value = True
    signed = send(url_view)
    assert signed.status == 200
    assert "Authorization: AWS4-HMAC-SHA256" in url_view.sent.value
    assert url_view.model.event()["requestContext"]["authorizer"]["iam"]["accessKey"]
    assert boto3.client("lambda").get_function_url_config(
        FunctionName=url_view.model.name)["AuthType"] == "AWS_IAM"


@pytest.mark.parametrize(("control", "value", "message"), [
    ("path", "orders", "starts with /"),
    ("headers", "no colon here", "Header line 1"),
])
def test_bad_input_is_explained_in_the_widget(alb_view, control, value, message):
    getattr(alb_view, control).value = value
    alb_view.send_button.click()
    assert alb_view._worker is None
    assert message in alb_view.message.value
    assert alb_view.model.result is None


def test_the_model_works_without_the_widget_and_labels_the_timeline(lab):
    model = HttpPlaygroundModel(lab, "alb", name=f"albpg-{time.monotonic_ns() % 10**9}")
    try:
        model.path = "/deep/path"
        assert model.send().status == 200
        assert [a.label for a in model.timeline().attempts()] == ["GET /deep/path → 200"]
    finally:
        model.delete()
    with pytest.raises(helpers.HttpPlaygroundError):
        HttpPlaygroundModel(lab, "cloudfront")


def test_it_sets_itself_up_again_after_a_clean_up(view):
    view.model.delete()
    result = send(view)
    assert result.status == 200, view.message.value
