"""The shard view (notebook 13): its model through plain boto3, and the widget driven from
code as the notebook drives it; bad input for both sources (the table's own tests are in
test_table_stream_view.py)."""

from __future__ import annotations

import pytest

import helpers
from helpers.playgrounds.streams import ShardViewError, ShardViewModel, TableStreamViewModel


@pytest.fixture
def model(lab):
    return ShardViewModel(lab, "shard-view-test")


def test_a_poison_record_holds_its_shard_until_its_retries_run_out(model):
    model.settings.max_retries, model.settings.bisect = 1, True
    model.put(4, poison_at=2, key="same-key")
    assert model.wait(20)
    rows = model.batch_rows()
    discarded = [row for row in rows if row["outcome"] == "RetryAttemptsExhausted"]
    assert [row["records"] for row in discarded] == [[f"record {model.next_record - 3} poison"]]
    assert discarded[0]["then"] == "to the on-failure destination"
    assert any(row["then"] == "bisect" for row in rows)
    assert [row["attempt"] for row in rows if "poison" in " ".join(row["records"])
            and len(row["records"]) == 1][:2] == [1, 2]
    [failure] = model.failure_records()
    assert failure["KinesisBatchInfo"]["batchSize"] == 1
    shards = model.shard_rows()
    assert len(shards) == 2 and all(row["waiting"] == 0 for row in shards)


@pytest.mark.parametrize("source", [ShardViewModel, TableStreamViewModel])
def test_bad_input_is_refused_with_a_message(lab, source):
    model = source(lab, f"bad-input-{source.source_word}")
    with pytest.raises(ShardViewError):
        model.put(0)
    model.settings.max_retries = 99
    with pytest.raises(ShardViewError):
        model.apply()


def test_the_widget_is_driven_from_code_and_draws_a_timeline(lab):
    view = helpers.shard_view(lab, "shard-view-widget")
    try:
        view.count.value = 3
        view.put_button.click()
        view.wait(20)
        assert "record 3" in view.batches.value
        bundle = view.timeline()._repr_mimebundle_()
        assert "application/vnd.plotly.v1+json" in bundle
        assert "Shard" in bundle["text/html"] and "record 1" in bundle["text/html"]
    finally:
        view.close()


def test_the_model_sets_itself_up_again_after_a_clean_up(lab, model):
    import boto3

    boto3.client("lambda").delete_event_source_mapping(UUID=model.mapping_uuid)
    assert model.ensure_ready() is True
    assert model.put(1)
    assert model.wait(20)
