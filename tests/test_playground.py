"""The invocation playground: its model, and the widget driven as a learner would."""

import json
import re
import time

import boto3
import pytest

import helpers
from helpers.playgrounds.invocation import MAX_COUNT
from helpers.playgrounds.timeline import THROTTLED_LANE


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
    assert "RequestResponse: 1 × 200" in view.response.value
    assert "x-amz-executed-version: $LATEST" in view.response.value
    assert "Log tail" in view.response.value
    assert "<details open>" in view.response.value  # one invoke: its details are open
    assert "1 cold start, 0 warm" in view.environments.value


def test_event_shows_202_and_the_queue_until_the_destination(view, lab):
    view.invocation_type.value = "Event"
    view.behaviour.value = "raise an error"
    press(view)
    assert view.model.results[0].status == 202
    assert view.model.results[0].payload == ""
    assert "Event: 1 × 202" in view.response.value
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
    view.invoke_button.click()
    view._worker.join(10)  # the invoke has answered; its retries have not happened yet
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        state = view.model.queue_rows()[0]["state"]
        if state.startswith("retry in"):
            break
        time.sleep(0.02)
    assert "AWS waits 60 s" in state
    lab.speedup = 600
    view.wait(10)  # wait() waits for the retries too
    assert view.model.queue_rows()[0]["state"].startswith("sent to")


def test_dry_run_shows_204_and_runs_nothing(view, lab):
    view.invocation_type.value = "DryRun"
    press(view)
    assert view.model.results[0].status == 204
    assert "DryRun: 1 × 204" in view.response.value
    assert view.model.timeline_rows() == []
    assert view.model.timeline().empty


def test_timeout_behaviour_and_many_at_once(view):
    view.behaviour.value = "sleep past the timeout"
    view.count.value = 3
    press(view)
    assert [r.function_error for r in view.model.results] == ["Unhandled"] * 3
    assert all("Sandbox.Timedout" in r.payload for r in view.model.results)
    assert len({row["request_id"] for row in view.model.timeline_rows()}) == 3


def test_the_timeline_shows_environments_cold_and_warm_and_the_retry_waits(view, lab):
    view.count.value = 3
    press(view)  # three environments, each a cold start
    press(view)  # the same three, warm
    view.invocation_type.value = "Event"
    view.behaviour.value = "raise an error"
    view.count.value = 1
    press(view)
    assert lab.wait_for_events(10)
    timeline = view.model.timeline()
    attempts = timeline.attempts()
    assert len(attempts) == 9
    assert [a.cold for a in attempts[:6]] == [True] * 3 + [False] * 3
    assert {a.lane for a in attempts[:3]} == {"env 1", "env 2", "env 3"}
    assert {a.lane for a in attempts[3:6]} <= {"env 1", "env 2", "env 3"}  # the same, warm
    inits = [s for s in timeline.spans if s.kind == "init"]
    assert len(inits) == 4 and all(s.end <= next(a.start for a in attempts
                                                 if a.request_id == s.request_id)
                                   for s in inits)
    retried = attempts[6:]
    assert [a.attempt for a in retried] == [1, 2, 3]
    assert [(link.aws_delay_s, link.reason) for link in timeline.links] == [
        (60, "RuntimeError"), (120, "RuntimeError")]
    assert all(link.end > link.start for link in timeline.links)
    bundle = view.timeline().mimebundle()
    figure = bundle["application/vnd.plotly.v1+json"]
    names = {trace.get("name") for trace in figure["data"]}
    assert {"Init (cold start)", "succeeded", "function error"} <= names
    assert "wait 60 s in AWS" in json.dumps(figure["layout"]["annotations"])
    assert "<table" in bundle["text/html"] and "warm" in bundle["text/html"]
    view.views.selected_index = 3
    deadline = time.monotonic() + 5
    while "application/vnd.plotly.v1+json" not in str(view.timeline_pane.outputs):
        assert time.monotonic() < deadline, "the Timeline tab did not draw the chart"
        time.sleep(0.05)


def test_throttles_are_marks_on_the_timeline(view, lab):
    boto3.client("lambda").put_function_concurrency(
        FunctionName=view.model.function_name, ReservedConcurrentExecutions=1)
    view.behaviour.value = "sleep past the timeout"
    view.count.value = 3
    press(view)
    assert sorted(r.status for r in view.model.results) == [200, 429, 429]
    timeline = view.model.timeline()
    assert [m.lane for m in timeline.marks] == [THROTTLED_LANE] * 2
    assert timeline.lanes[-1] == THROTTLED_LANE
    assert "TooManyRequestsException" in view.response.value
    assert "var(--jp-error-color1" in view.message.value  # 429s are not shown as success


def test_twenty_invokes_give_a_summary_not_twenty_pages(view):
    view.count.value = MAX_COUNT
    press(view)
    text = view.response.value
    assert f"RequestResponse: {MAX_COUNT} × 200" in text
    assert text.count("<details") - text.count("Log tail") == 5  # the first five in full
    assert "… and 15 more" in text
    assert "<details open>" not in text


def test_colours_come_from_the_jupyterlab_theme(view):
    press(view)
    for pane in (view.message, view.response, view.environments):
        colours = re.findall(r"color:\s*([^;'\"]+)", pane.value)
        assert colours and all(c.startswith("var(--jp-") for c in colours), colours


def test_the_saved_output_is_readable_not_a_repr(view):
    press(view)
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("Invocation playground (interactive")
    assert "children=" not in bundle["text/plain"]
    assert "RequestResponse: 1 × 200" in bundle["text/html"]


def test_it_sets_itself_up_again_after_a_clean_up(view):
    boto3.client("lambda").delete_function(FunctionName=view.model.function_name)
    sqs = boto3.client("sqs")
    sqs.delete_queue(QueueUrl=view.model.failure_queue_url)
    press(view)
    assert view.model.results[0].status == 200, view.message.value
    assert sqs.get_queue_url(QueueName=f"{view.model.function_name}-failures")


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
    assert "Still working" in view.message.value
    view.wait()
    assert len(view.model.results) == 1


def test_a_failing_callback_shows_its_error_in_the_widget(view, monkeypatch):
    def broken():
        raise RuntimeError("something broke")

    monkeypatch.setattr(view.model, "invoke", broken)
    press(view)
    assert "RuntimeError: something broke" in view.message.value
    assert not view.invoke_button.disabled


def test_wait_stops_at_its_time_limit_with_a_message(view):
    view.behaviour.value = "sleep past the timeout"
    view.invoke_button.click()
    with pytest.raises(TimeoutError, match="still waiting for an answer after 0.2 s"):
        view.wait(0.2)
    view.wait()
