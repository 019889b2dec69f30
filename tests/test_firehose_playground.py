"""The Firehose buffer view: its model, and the widget driven as a learner would."""

import time
import uuid

import boto3
import pytest

import helpers
from helpers.playgrounds.base import wait_until


@pytest.fixture
def view(lab):
    view = helpers.firehose_view(lab, name=f"clicks-{uuid.uuid4().hex[:8]}")
    view.interval_s.value = 1
    yield view
    view.close()


def press(view, timeout=30):
    view.send_button.click()
    view.wait(timeout)


def test_records_are_cleaned_dropped_and_failed(view):
    view.count.value = 40
    press(view)
    model = view.model
    ends = model.record_ends()
    [sent] = model.sent
    assert len(sent.record_ids) == 40 and set(sent.record_ids) <= set(ends)
    counts = {end: list(ends.values()).count(end) for end in set(ends.values())}
    assert set(counts) == {"delivered", "dropped", "failed"}, counts
    [row] = model.invocation_rows()
    assert (row["ok"], row["dropped"], row["failed"]) == (
        counts["delivered"], counts["dropped"], counts["failed"])
    assert row["trigger"] == "interval" and row["outcome"] == "ok"
    outputs = {r["output"]: r for r in model.object_rows()}
    assert outputs["data"]["key"].startswith("clicks/")
    assert outputs["error"]["key"].startswith("errors/processing-failed/")
    assert "Ok" in view.invocations.value and "clicks/" in view.objects.value
    assert "var(--jp-success-color1" in view.message.value
    labels = {a.label for a in model.timeline().attempts()}
    assert labels == {"batch " + str(row["batch"])}


def test_the_buffer_fills_against_size_and_time(view):
    view.interval_s.value = 30
    view.buffer_mb.value = 0.2
    view.record_bytes.value = 1100
    view.count.value = 100
    view.send_button.click()
    view._worker.join(10)
    state = view.model.buffer()
    assert state["records"] == 100 and state["limit_bytes"] == int(0.2 * 1024 * 1024)
    assert 0 < state["bytes"] < state["limit_bytes"] and state["interval_s"] == 30
    time.sleep(0.3)
    assert view.model.buffer()["waited_s"] > 0.2
    view.refresh()
    assert "100 record(s) wait in the processor buffer" in view.buffer_pane.value
    view.send_button.click()  # 220 KB: the size ends the buffer at once
    [row] = wait_until(view.model.invocation_rows, 10, "an invocation")
    assert row["trigger"] == "size" and row["bytes"] >= 0.2 * 1024 * 1024
    left = view.model.buffer()
    assert left["records"] == 200 - row["records"] and left["bytes"] < left["limit_bytes"]


def test_bad_input_is_refused_in_the_widget_and_sends_nothing(view):
    view.record_bytes.value = 50
    view.model.record_bytes = 10
    view.model.count = 0
    with pytest.raises(helpers.FirehoseBufferError):
        view.model.send()
    assert view.model.sent == []


def test_it_sets_itself_up_again_after_a_clean_up(view, lab):
    model = view.model
    boto3.client("firehose").delete_delivery_stream(DeliveryStreamName=model.name)
    boto3.client("lambda").delete_function(FunctionName=model.function_name)
    assert not model.resources_exist()
    press(view)
    assert model.resources_exist() and model.pending() == 0
    assert model.record_ends()
    assert "Sent 20 records in 1 batch(es)" in model.describe()


def test_new_buffer_settings_update_the_delivery_stream(view):
    firehose = boto3.client("firehose")
    before = firehose.describe_delivery_stream(
        DeliveryStreamName=view.model.name)["DeliveryStreamDescription"]["VersionId"]
    view.buffer_mb.value = 0.5
    view.interval_s.value = 2
    view.count.value = 5
    press(view)
    described = firehose.describe_delivery_stream(
        DeliveryStreamName=view.model.name)["DeliveryStreamDescription"]
    assert int(described["VersionId"]) == int(before) + 1
    [processor] = described["Destinations"][0]["ExtendedS3DestinationDescription"][
        "ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert parameters["BufferSizeInMBs"] == "0.5"
    assert parameters["BufferIntervalInSeconds"] == "2"
    assert view.model.buffer()["limit_bytes"] == int(0.5 * 1024 * 1024)
    [row] = view.model.invocation_rows()
    assert row["trigger"] == "interval" and row["records"] == 5


def test_a_wait_shorter_than_the_buffer_says_what_did_not_happen(view):
    view.interval_s.value = 3
    view.count.value = 5
    view.send_button.click()
    with pytest.raises(helpers.PlaygroundTimeoutError, match="still in Firehose"):
        view.wait(0.5)
    assert view.model.pending() == 5 and view.model.invocation_rows() == []
    view.wait(30)
    assert view.model.pending() == 0 and len(view.model.invocation_rows()) == 1


def test_the_timeline_and_the_saved_output_are_readable(view):
    press(view)
    [row] = view.model.invocation_rows()
    assert f"batch {row['batch']}" in view.timeline().mimebundle()["text/html"]
    bundle = view._repr_mimebundle_()
    assert "children=" not in bundle["text/plain"]
    assert "clicks/" in bundle["text/html"] and "processor buffer" in bundle["text/html"]


def test_record_ends_and_invocations_for_any_delivery_stream(view, lab):
    view.malformed.value, view.bots.value = 0.5, 0.2
    view.count.value = 12
    started = time.time()
    press(view)
    ends = helpers.firehose_record_ends(lab, view.model.name)
    [sent] = view.model.sent
    kinds = {ends[i].split(" ", 1)[0].rstrip(",") for i in sent.record_ids}
    assert kinds <= {"delivered", "dropped", "failed"} and "failed" in kinds
    keys = {ends[i].rsplit(" ", 1)[1] for i in sent.record_ids if ends[i] != "dropped"}
    assert keys == {row["key"] for row in view.model.object_rows()}
    assert set(view.model.record_ends().values()) == kinds
    [row] = helpers.firehose_invocations(lab, view.model.name, since=started)
    assert row["ok"] + row["dropped"] + row["failed"] == 12
    assert helpers.firehose_invocations(lab, view.model.name, since=time.time()) == []
    assert "failed," not in view.model.describe()
