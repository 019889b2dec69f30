"""A property of the stream pollers: under random failures, with or without bisect, retries
and partial batch responses, no record is lost and none is reordered within its partition
key. Each record ends processed or in the on-failure record (with a trace entry), and the
records of a key reach the function, the first time, in the order they were written."""

from __future__ import annotations

import uuid

import boto3
import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_support import RECORDER, ended, wait_ended

import helpers

KEYS = ("alice", "bob", "carol")
FUNCTIONS: dict[str, str] = {}  # mode -> function name, deployed once


def _exists(name: str) -> bool:
    try:
        boto3.client("lambda").get_function_configuration(FunctionName=name)
        return True
    except boto3.client("lambda").exceptions.ResourceNotFoundException:
        return False


def function(lab, mode: str) -> str:
    if mode not in FUNCTIONS or not _exists(FUNCTIONS[mode]):
        name = f"property-{mode}-{uuid.uuid4().hex[:6]}"
        lab.deploy(name, RECORDER, environment={"MODE": mode})
        FUNCTIONS[mode] = name
    return FUNCTIONS[mode]


records = st.lists(st.tuples(st.sampled_from(KEYS), st.booleans()),
                   min_size=1, max_size=10).map(
    lambda items: [(key, bad and index % 3 == 0) for index, (key, bad) in enumerate(items)])


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(written=records, bisect=st.booleans(), retries=st.integers(0, 2),
       report=st.booleans(), batch_size=st.integers(1, 4))
def test_no_record_is_lost_or_reordered_within_its_key(written, bisect, retries, report,
                                                       batch_size):
    lab = helpers.start_lab()
    kinesis, lambda_client = boto3.client("kinesis"), boto3.client("lambda")
    name = f"property-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"]
    uuid_ = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function(lab, "report" if report else "raise"),
        StartingPosition="LATEST", BatchSize=batch_size, MaximumBatchingWindowInSeconds=1,
        BisectBatchOnFunctionError=bisect, MaximumRetryAttempts=retries,
        FunctionResponseTypes=["ReportBatchItemFailures"] if report else [])["UUID"]
    try:
        order: dict[str, list[str]] = {}
        bad: set[str] = set()
        for key, poison in written:
            answer = kinesis.put_record(StreamARN=arn, PartitionKey=key,
                                        Data=b"bad" if poison else b"ok")
            order.setdefault(key, []).append(answer["SequenceNumber"])
            if poison:
                bad.add(answer["SequenceNumber"])
        ends = wait_ended(lab, uuid_, len(written), timeout=30)
        assert len(ends) == len(written), "a record never ended"
        for sequence in bad:
            assert ends[sequence] == "RetryAttemptsExhausted"
        if bisect and not report:  # halving isolates each bad record: the rest is processed
            assert all(ends[s] == "processed" for s in ends if s not in bad)
        first_seen: dict[str, list[str]] = {}
        for event in lab.trace.events("batch.start", mapping=uuid_):
            for sequence, key in zip(event["sequence_numbers"], event["keys"], strict=True):
                if sequence not in first_seen.setdefault(key, []):
                    first_seen[key].append(sequence)
        for key, sequences in order.items():
            assert first_seen.get(key, []) == [s for s in sequences if s in first_seen[key]]
            delivered = [s for s in sequences if ends[s] == "processed"]
            assert delivered == [s for s in first_seen[key] if ends[s] == "processed"]
    finally:
        lambda_client.delete_event_source_mapping(UUID=uuid_)
        kinesis.delete_stream(StreamName=name)
    assert set(ended(lab, uuid_)) >= {s for seqs in order.values() for s in seqs}
    hypothesis.note(f"{len(written)} records, bisect={bisect}, retries={retries}")
