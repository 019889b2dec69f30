"""What a transformation function answered, read as Amazon Data Firehose reads it.

The answer is ``{"records": [{"recordId", "result", "data", "metadata"?}, ...]}``: every
record of the batch back exactly once, by its ``recordId``; ``result`` ``Ok`` (deliver
``data``, base64-encoded), ``Dropped`` (a success: nothing is delivered) or
``ProcessingFailed`` (the record goes to the error prefix); with dynamic partitioning,
``metadata.partitionKeys`` (https://docs.aws.amazon.com/firehose/latest/dev/
data-transformation-status-model.html). An answer that breaks these rules fails the
whole batch, which goes to the error prefix with the error code Firehose reports
(https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-logs.html).

``error_document`` is what Firehose writes for each failed record
(https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html).
Introduced in notebook 11.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

RESULTS = ("Ok", "Dropped", "ProcessingFailed")
MESSAGES = {
    "Lambda.FunctionError": "The Lambda function was successfully invoked but it returned "
                            "an error result.",
    "Lambda.FunctionTimedOut": "The Lambda function invocation timed out. Increase the "
                               "Timeout setting in the Lambda function.",
    "Lambda.InvokeLimitExceeded": "The Lambda concurrent execution limit is exceeded. "
                                  "Increase the concurrent execution limit.",
    "Lambda.ResourceNotFound": "The specified Lambda function does not exist. Use a "
                               "different function that does exist.",
    "Lambda.JsonProcessingException": "There was an error parsing returned records from the "
                                      "Lambda function. Ensure that the returned records "
                                      "follow the status model required by Firehose.",
    "Lambda.MissingRecordId": "One or more record Ids were not returned. Ensure that the "
                              "Lambda function returns all received record Ids.",
    "Lambda.DuplicatedRecordId": "Multiple records were returned with the same record ID. "
                                 "Ensure that the Lambda function returns unique record IDs "
                                 "for each record.",
    "Lambda.ProcessingFailedStatus": "ProcessingFailed status set for record",
}

__all__ = ["MESSAGES", "RESULTS", "Answer", "RecordResult", "error_document", "read_answer"]


@dataclass
class RecordResult:
    result: str  # "Ok", "Dropped" or "ProcessingFailed"
    data: bytes = b""
    partition_keys: dict = field(default_factory=dict)


@dataclass
class Answer:
    """Per record id its result, or ``error_code`` when the answer fails the batch."""

    results: dict = field(default_factory=dict)
    error_code: str | None = None
    detail: str = ""  # what was wrong, for the trace


def _invalid(detail: str) -> Answer:
    return Answer(error_code="Lambda.JsonProcessingException", detail=detail)


def read_answer(payload: bytes, record_ids: list[str]) -> Answer:
    """Check a function's answer to a batch of ``record_ids``."""
    try:
        document = json.loads(payload or b"null")
    except ValueError:
        return _invalid("the answer is not JSON")
    records = document.get("records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        return _invalid('the answer has no "records" list')
    answer, wanted = Answer(), set(record_ids)
    for entry in records:
        if not isinstance(entry, dict):
            return _invalid("a record of the answer is not an object")
        record_id = entry.get("recordId")
        if record_id in answer.results:
            return Answer(error_code="Lambda.DuplicatedRecordId",
                          detail=f"recordId {record_id} came back twice")
        if record_id not in wanted:
            return Answer(error_code="Lambda.MissingRecordId",
                          detail=f"recordId {record_id!r} was not in the batch")
        result = entry.get("result")
        if result not in RESULTS:
            return _invalid(f"result {result!r} is not Ok, Dropped or ProcessingFailed")
        data = entry.get("data")
        if result == "Ok" or data is not None:
            if not isinstance(data, str):
                return _invalid(f'record {record_id} has no base64 "data"')
            try:
                decoded = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                return _invalid(f"the data of record {record_id} is not base64")
        else:
            decoded = b""
        metadata = entry.get("metadata") or {}
        keys = metadata.get("partitionKeys") if isinstance(metadata, dict) else None
        if keys is not None and (not isinstance(keys, dict) or not all(
                isinstance(v, (str, int, float)) for v in keys.values())):
            return _invalid(f"the partitionKeys of record {record_id} are not an object of "
                            "strings")
        answer.results[record_id] = RecordResult(result, decoded, dict(keys or {}))
    if len(answer.results) != len(wanted):
        missing = len(wanted) - len(answer.results)
        return Answer(error_code="Lambda.MissingRecordId",
                      detail=f"{missing} record id(s) of the batch did not come back")
    return answer


def error_document(*, attempts: int, arrival_ms: int, error_code: str, message: str | None,
                   ended_ms: int, raw: bytes, lambda_arn: str | None) -> bytes:
    """One failed record as Firehose writes it under the error prefix (one JSON a line)."""
    document = {"attemptsMade": attempts, "arrivalTimestamp": arrival_ms,
                "errorCode": error_code,
                "errorMessage": message if message is not None else MESSAGES.get(error_code, ""),
                "attemptEndingTimestamp": ended_ms,
                "rawData": base64.b64encode(raw).decode()}
    if lambda_arn:
        document["lambdaARN"] = lambda_arn  # so spelled in the records Firehose writes
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"
