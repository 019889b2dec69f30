"""The API Gateway playground: its model, and the widget driven as a learner would."""

import json
import time

import pytest

import helpers
from helpers.playgrounds.api_gateway import ApiPlaygroundModel


@pytest.fixture
def view(lab):
    view = helpers.api_playground(lab, name=f"apipg-{time.monotonic_ns()}")
    yield view
    view.close()
    view.model.wait_for_function()
    view.model.delete()


def send(view):
    view.send_button.click()
    view.wait()
    return view.model.result


def test_a_request_shows_the_response_event_and_invocation(view):
    view.method.value = "POST"
    view.path.value = "/todos"
    view.query.value = "tag=home&tag=urgent"
    view.headers.value = "Content-Type: application/json\nX-Trace: 7"
    view.body.value = '{"title": "water the plants"}'
    result = send(view)
    assert result.status == 200
    answer = json.loads(result.body)
    assert answer == {"method": "POST", "path": "/todos", "query": {"tag": ["home", "urgent"]},
                      "body": '{"title": "water the plants"}'}
    event = view.model.event()
    assert event["resource"] == "/{proxy+}" and event["pathParameters"] == {"proxy": "todos"}
    assert event["headers"]["X-Trace"] == "7"
    assert event["requestContext"]["requestId"] == result.request_id
    info = view.model.invocation()
    assert info["gateway_outcome"] == "integration" and info["outcome"] == "response"
    assert info["state"] == "finished before the gateway answered"
    assert "HTTP/1.1 200 OK" in view.response.value
    assert "var(--jp-success-color1" in view.message.value
    assert "&quot;httpMethod&quot;: &quot;POST&quot;" in view.event.value
    assert "finished before the gateway answered" in view.invocation.value
    assert "START RequestId" in view.model.function_log()


def test_a_short_timeout_and_a_slow_function_show_the_504(view):
    view.timeout.value = 500
    view.slow.value = True
    result = send(view)
    assert result.status == 504
    assert json.loads(result.body) == {"message": "Endpoint request timed out"}
    assert result.seconds < 1.4  # the function sleeps 1.5 s; the gateway stopped at 0.5 s
    state = view.model.invocation()["state"]  # read late on a loaded machine: it has ended
    assert state == "still running: the gateway stopped waiting" or \
        "after the gateway answered" in state, state
    assert view.model.wait_for_function(10)
    deadline = time.monotonic() + 5
    while "after the gateway answered" not in view.invocation.value:
        assert time.monotonic() < deadline, view.invocation.value  # the view refreshes itself
        time.sleep(0.05)
    assert "finished sleeping" in view.model.function_log()


@pytest.mark.parametrize(("switch", "outcome"), [("failing", "function_error"),
                                                 ("malformed", "malformed")])
def test_failing_and_malformed_functions_are_502(view, switch, outcome):
    getattr(view, switch).value = True
    result = send(view)
    assert result.status == 502
    assert json.loads(result.body) == {"message": "Internal server error"}
    assert view.model.invocation()["gateway_outcome"] == outcome
    assert "HTTP/1.1 502 Bad Gateway" in view.response.value
    for pane in (view.message, view.response):  # a 5xx is never shown as a success
        assert "var(--jp-error-color1" in pane.value
        assert "success-color" not in pane.value


@pytest.mark.parametrize(("control", "value", "message"), [
    ("path", "todos", "starts with /"),
    ("headers", "no colon here", "Header line 1"),
])
def test_bad_input_is_explained_in_the_widget(view, control, value, message):
    getattr(view, control).value = value
    view.send_button.click()
    assert view._worker is None
    assert message in view.message.value
    assert view.model.result is None


def test_the_model_works_without_the_widget(lab):
    model = ApiPlaygroundModel(lab, name=f"apipg-{time.monotonic_ns()}")
    try:
        model.path = "/unknown/deep/path"
        assert model.send().status == 200
        model.path = "/"
        assert model.send().status == 200  # ANY / answers the root too
    finally:
        model.delete()


def test_the_timeline_labels_each_invocation_with_its_request(view):
    view.path.value = "/todos/7"
    send(view)
    attempts = view.model.timeline().attempts()
    assert [a.label for a in attempts] == ["GET /todos/7 → 200"]


def test_it_sets_itself_up_again_after_a_clean_up(view):
    view.model.delete()
    result = send(view)
    assert result.status == 200, view.message.value
