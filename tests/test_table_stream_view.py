"""The shard view over a DynamoDB table's stream (notebook 05): its model through plain
boto3, and the widget driven from code as the notebook drives it. Bad input: in
test_shard_view.py, for both sources."""

from __future__ import annotations

import boto3
import pytest

import helpers
from helpers.playgrounds.streams import TableStreamViewModel


@pytest.fixture
def model(lab):
    return TableStreamViewModel(lab, "table-view-test")


def test_an_order_of_quantity_0_blocks_the_shard_until_bisect_and_retries_give_it_up(model):
    model.settings.batch_size, model.settings.max_retries, model.settings.bisect = 4, 1, True
    written = model.put(4, poison_at=2)
    assert len(written) == 4 and written == sorted(written, key=int)
    order = model.next_record - 3  # the second of the four
    assert model.written[written[1]] == f"o-{order} qty 0"
    assert model.wait(20)
    rows = model.batch_rows()
    assert [row["records"] for row in rows[:2]] == [
        [model.written[s] for s in written], [model.written[s] for s in written[:2]]]
    assert [row["then"] for row in rows[:2]] == ["bisect", "bisect"]
    alone = [row for row in rows if row["records"] == [f"o-{order} qty 0"]]
    assert [(row["attempt"], row["then"]) for row in alone] == [
        (1, "retry"), (2, "discard"), (2, "to the on-failure destination")]
    # the records after the poison one waited for it: processed after it was given up on
    last = [row for row in rows if model.written[written[3]] in row["records"]]
    assert last[-1]["outcome"] == "success" and last[-1]["start"] >= alone[-1]["start"]
    [failure] = model.failure_records()
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["batchSize"]) == (written[1], 1)
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    [shard] = model.shard_rows()
    assert shard["waiting"] == 0 and shard["checkpoint"] == model.written[written[3]]
    assert isinstance(shard["iterator_age_ms"], int)
    item = boto3.client("dynamodb").get_item(TableName=model.table_name,
                                             Key={"order_id": {"S": f"o-{order}"}})["Item"]
    assert item["quantity"] == {"N": "0"}


def test_the_widget_is_driven_from_code_and_sets_itself_up_again_after_a_clean_up(lab):
    view = helpers.table_stream_view(lab, "table-view-widget")
    try:
        view.count.value = 1
        view.put_button.click()
        view.wait(20)
        boto3.client("lambda").delete_event_source_mapping(UUID=view.model.mapping_uuid)
        view.count.value = 3
        view.poison.value = True
        view.put_button.click()
        view.wait(20)
        assert "qty 0" in view.batches.value and "to the on-failure destination" \
            in view.batches.value
        assert "Checkpoint" in view.shards.value
        bundle = view.timeline()._repr_mimebundle_()
        assert "application/vnd.plotly.v1+json" in bundle
        assert "qty 0" in bundle["text/html"]
    finally:
        view.close()
