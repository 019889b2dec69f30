"""The SQS playground: its model, and the widget driven from code as a learner would."""

import json
import uuid

import boto3
import pytest

import helpers
from helpers.playgrounds.sqs import MAX_RECEIVE


@pytest.fixture
def view(lab):
    view = helpers.sqs_playground(lab, name=f"sqs-pg-{uuid.uuid4().hex[:8]}")
    yield view
    view.close()
    boto3.client("lambda").delete_event_source_mapping(UUID=view.model.mapping_uuid)


def press(view, timeout=20):
    view.send_button.click()
    view.wait(timeout)
    assert "Sent orders" in view.message.value, view.message.value


def test_sending_orders_shows_batches_and_an_empty_queue(view):
    view.count.value = 15
    press(view)
    rows = view.model.batch_rows()
    assert [row["messages"] for row in rows] == [list(range(1, 11)), list(range(11, 16))]
    assert {row["outcome"] for row in rows} == {"success"}
    assert view.model.queue_counts() == {"visible": 0, "in_flight": 0, "dead_letter": 0}
    assert "Sent orders 1–15" in view.message.value
    assert "success" in view.batches.value
    assert all(row["state"] == "processed, deleted" for row in view.model.order_rows())


def test_sliders_change_the_mapping_and_the_queue(view):
    view.batch_size.value = 30
    view.window.value = 1
    view.visibility_timeout.value = 3
    view.count.value = 25
    press(view)
    mapping = boto3.client("lambda").get_event_source_mapping(UUID=view.model.mapping_uuid)
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (30, 1)
    timeout = boto3.client("sqs").get_queue_attributes(
        QueueUrl=view.model.queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert timeout == {"VisibilityTimeout": "3"}
    rows = view.model.batch_rows()
    assert [len(row["messages"]) for row in rows] == [25]  # the window gathered them all
    assert rows[0]["trigger"] == "window"


def test_failing_orders_end_in_the_dead_letter_queue(view):
    view.failure_rate.value = 0.3
    view.report_failures.value = True
    view.count.value = 10
    press(view, timeout=30)
    failing = [row["order"] for row in view.model.order_rows() if row["deliveries"] > 1]
    assert failing, "with 30% failing orders, some of ten fail"
    counts = view.model.queue_counts()
    assert counts["dead_letter"] == len(failing)
    for row in view.model.order_rows():
        if row["order"] in failing:
            assert (row["deliveries"], row["state"]) == (MAX_RECEIVE, "in the dead-letter queue")
        else:
            assert (row["deliveries"], row["state"]) == (1, "processed, deleted")
    assert "partial" in view.batches.value


def test_without_partial_responses_good_orders_fail_with_the_bad(view):
    view.failure_rate.value = 0.3
    view.count.value = 10
    press(view, timeout=30)
    assert view.model.queue_counts()["dead_letter"] == 10  # one batch: all ten failed
    assert {row["outcome"] for row in view.model.batch_rows()} == {"error"}


def test_an_invalid_setting_shows_lambdas_error_in_the_widget(view):
    view.batch_size.value = 50  # more than 10 needs a batching window
    view.send_button.click()
    view.wait(5)
    assert "var(--jp-error-color1" in view.message.value
    assert "InvalidParameterValueException" in view.message.value
    assert "Maximum batch window in seconds must be greater than 0" in view.message.value
    assert view.model.queue_counts()["visible"] == 0  # nothing was sent


def test_the_model_runs_twice_on_the_same_resources(lab, view):
    again = helpers.SqsPlaygroundModel(lab, view.model.queue_name)
    assert again.mapping_uuid == view.model.mapping_uuid
    assert again.queue_url == view.model.queue_url
    again.count = 3
    assert again.send() == [1, 2, 3]
    assert again.wait(10)
    assert json.loads(boto3.client("sqs").get_queue_attributes(
        QueueUrl=again.queue_url, AttributeNames=["RedrivePolicy"])["Attributes"][
        "RedrivePolicy"])["maxReceiveCount"] == MAX_RECEIVE


def test_bad_input_is_refused_with_a_message(view):
    view.model.count = 0
    with pytest.raises(helpers.SqsPlaygroundError, match="between 1 and 100"):
        view.model.validate()


def test_a_new_batch_size_applies_to_the_orders_sent_right_after(view):
    view.count.value = 10
    press(view)  # batch size 10: the poller is polling when the size changes
    view.batch_size.value = 5
    view.count.value = 12
    press(view)
    rows = view.model.batch_rows()
    assert [row["messages"] for row in rows[-3:]] == [
        list(range(11, 16)), list(range(16, 21)), [21, 22]]


def test_the_timeline_shows_each_batch_on_its_environment(view):
    view.batch_size.value = 5
    view.count.value = 12
    press(view)
    attempts = view.model.timeline().attempts()
    assert sorted(a.label for a in attempts) == ["batch 1 (5)", "batch 2 (5)", "batch 3 (2)"]
    assert all(a.lane.startswith("env ") for a in attempts)
    assert "batch 3 (2)" in view.timeline().mimebundle()["text/html"]


def test_it_sets_itself_up_again_after_a_clean_up(view):
    lambda_client, sqs = boto3.client("lambda"), boto3.client("sqs")
    lambda_client.delete_event_source_mapping(UUID=view.model.mapping_uuid)
    lambda_client.delete_function(FunctionName=view.model.function_name)
    for url in (view.model.queue_url, view.model.dlq_url):
        sqs.delete_queue(QueueUrl=url)
    view.refresh()
    assert "press Send orders to set them up again" in view.queue.value
    view.count.value = 3
    press(view)
    assert view.model.queue_counts() == {"visible": 0, "in_flight": 0, "dead_letter": 0}
    assert [row["messages"] for row in view.model.batch_rows()][-1] == [1, 2, 3]


def test_the_saved_output_is_readable(view):
    press(view)
    bundle = view._repr_mimebundle_()
    assert "children=" not in bundle["text/plain"]
    assert "dead-letter queue" in bundle["text/html"] and "success" in bundle["text/html"]
