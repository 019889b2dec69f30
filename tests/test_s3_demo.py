"""The S3 notifications demo: its model, and the widget driven as a learner would."""

import uuid

import boto3
import pytest

import helpers


@pytest.fixture
def demo(lab):
    lab.speedup = 600
    name = uuid.uuid4().hex[:8]
    demo = helpers.s3_notifications_demo(lab, bucket=f"s3-demo-{name}",
                                         function_name=f"s3-demo-{name}")
    yield demo
    demo.close()
    lab.wait_for_events(10)
    lab.speedup = 1


def press(button, demo):
    button.click()
    demo.wait(20)


def test_an_upload_under_the_prefix_invokes_the_function(demo):
    demo.key.value = "q3 report.txt"
    press(demo.upload_button, demo)
    row = demo.model.rows()[-1]
    assert (row["event"], row["outcome"]) == ("ObjectCreated:Put", "succeeded")
    assert "uploads/q3+report.txt" in demo.latest_event.value  # the key, URL-encoded
    assert "var(--jp-success-color1" in demo.message.value
    assert [a.label for a in demo.model.timeline().attempts()] == ["uploads/q3 report.txt"]


def test_an_upload_elsewhere_makes_no_event_and_says_why(demo):
    demo.prefix.value = "tmp/"
    press(demo.upload_button, demo)
    assert demo.model.rows()[-1]["event"] == "no event: the configuration watches 'uploads/' only"
    assert demo.model.timeline().empty


def test_a_failing_function_ends_in_the_on_failure_destination(demo):
    demo.behaviour.value = "raise an error"
    press(demo.upload_button, demo)
    outcome = demo.model.rows()[-1]["outcome"]
    assert outcome == f"sent to {demo.model.function_name}-failures (RetriesExhausted)"
    assert "var(--jp-error-color1" in demo.requests.value
    assert [a.attempt for a in demo.model.timeline().attempts()] == [1, 2, 3]


def test_a_bad_key_is_refused_in_the_widget(demo):
    demo.key.value = "  "
    demo.upload_button.click()
    assert "The key is empty" in demo.message.value
    assert demo.model.requests == []


def test_it_sets_itself_up_again_after_a_clean_up(demo):
    s3 = boto3.client("s3")
    s3.put_bucket_notification_configuration(Bucket=demo.model.bucket,
                                             NotificationConfiguration={})
    s3.delete_bucket(Bucket=demo.model.bucket)
    boto3.client("lambda").delete_function(FunctionName=demo.model.function_name)
    press(demo.upload_button, demo)
    assert demo.model.rows()[-1]["outcome"] == "succeeded", demo.message.value


def test_the_saved_output_is_readable(demo):
    press(demo.upload_button, demo)
    bundle = demo._repr_mimebundle_()
    assert "children=" not in bundle["text/plain"]
    assert "ObjectCreated:Put" in bundle["text/html"]
