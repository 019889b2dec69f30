"""The invocation playground: its model, and the widget driven as a learner would."""

import json
import time

import pytest

import helpers
from helpers.playgrounds.invocation import MAX_COUNT


@pytest.fixture
def view(lab):
    lab.speedup = 600
    view = helpers.invocation_playground(lab, function_name=f"pg-{time.monotonic_ns()}")
    yield view
    view.close()
    lab.wait_for_events(10)
    lab.speedup = 1


def press(view):
    view.invoke_button.click()
    view.wait()


def test_request_response_shows_status_payload_and_log_tail(view):
    press(view)
    result = view.model.results[0]
    assert result.status == 200 and result.function_error is None
    assert json.loads(result.payload)["received"] == {"order_id": 1}
    assert "START RequestId:" in result.log_tail and "REPORT RequestId:" in result.log_tail
    assert "RequestResponse: 200 in" in view.response.value
    assert "x-amz-executed-version: $LATEST" in view.response.value
    assert "Log tail" in view.response.value
    assert "cold" in view.timeline.value


def test_event_shows_202_and_the_queue_until_the_destination(view, lab):
    view.invocation_type.value = "Event"
    view.behaviour.value = "raise an error"
    press(view)
    assert view.model.results[0].status == 202
    assert view.model.results[0].payload == ""
    assert "Event: 202 in" in view.response.value
    rows = view.model.queue_rows()
    assert len(rows) == 1
    assert lab.wait_for_events(10)
    view.refresh()
    assert view.model.queue_rows()[0]["state"] == (
        f"sent to {view.model.function_name}-failures (RetriesExhausted)")
    assert view.model.queue_rows()[0]["attempts"] == 3
    assert "RetriesExhausted" in view.queue.value


def test_retry_state_counts_down_in_aws_time(view, lab):
    lab.speedup = 60  # the first retry: 60 s in AWS, 1 s here
    view.invocation_type.value = "Event"
    view.behaviour.value = "raise an error"
    press(view)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        state = view.model.queue_rows()[0]["state"]
        if state.startswith("retry in"):
            break
        time.sleep(0.02)
    assert "AWS waits 60 s" in state
    lab.speedup = 600


def test_dry_run_shows_204_and_runs_nothing(view, lab):
    view.invocation_type.value = "DryRun"
    press(view)
    assert view.model.results[0].status == 204
    assert "DryRun: 204 in" in view.response.value
    assert view.model.timeline_rows() == []


def test_timeout_behaviour_and_many_at_once(view):
    view.behaviour.value = "sleep past the timeout"
    view.count.value = 3
    press(view)
    assert [r.function_error for r in view.model.results] == ["Unhandled"] * 3
    assert all("Sandbox.Timedout" in r.payload for r in view.model.results)
    assert len({row["request_id"] for row in view.model.timeline_rows()}) == 3


@pytest.mark.parametrize(
    ("payload", "message"),
    [("{not json", "The payload is not valid JSON"), ("   ", "The payload is empty"),
     ("", "The payload is empty")],
)
def test_bad_payload_gives_a_clear_message_and_no_invoke(view, payload, message):
    view.payload.value = payload
    view.invoke_button.click()
    assert message in view.message.value
    assert view.model.results == []


def test_absurd_numbers_are_clamped_or_refused(view):
    view.count.value = 10**9
    assert view.count.value == MAX_COUNT  # the text box clamps
    view.model.count = 0
    with pytest.raises(helpers.PlaygroundError, match="between 1 and"):
        view.model.validate()


def test_pressing_invoke_repeatedly_never_raises(view):
    view.behaviour.value = "sleep past the timeout"
    view.invoke_button.click()
    for _ in range(10):
        view.invoke_button.click()
    assert "Still invoking" in view.message.value
    view.wait()
    assert len(view.model.results) == 1


def test_a_failing_callback_shows_its_error_in_the_widget(view, monkeypatch):
    def broken():
        raise RuntimeError("something broke")

    monkeypatch.setattr(view.model, "invoke", broken)
    press(view)
    assert "RuntimeError: something broke" in view.message.value
    assert not view.invoke_button.disabled
