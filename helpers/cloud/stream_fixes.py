"""What the front corrects in moto's answers for DynamoDB Streams and Kinesis Data Streams.

- ``dynamodbstreams DescribeStream``: a stream whose table turned it off is ``DISABLED``
  (moto says ``ENABLED`` for as long as the table has a stream label);
- ``kinesis GetShardIterator`` called with ``StreamARN`` only: moto writes no stream name
  into the iterator, so ``GetRecords`` could not use it; the front puts the name in.

moto's other changes for streams are rows of ``helpers/cloud/patches.py``. Introduced in
notebooks 05 and 13.
"""

from __future__ import annotations

import base64
import json

from .dynamodb_state import DynamoDBState

__all__ = ["register_stream_fixes"]


def _json(response) -> dict | None:
    if response.status != 200:
        return None
    try:
        return json.loads(response.body or b"{}")
    except ValueError:
        return None


def _replace_body(response, document: dict) -> None:
    response.body = json.dumps(document).encode()
    response.set_header("Content-Length", str(len(response.body)))


def _stream_status(state: DynamoDBState):
    def after(request, response) -> None:
        document = _json(response)
        description = (document or {}).get("StreamDescription")
        if not description:
            return
        info = state.stream(description.get("StreamArn"))
        if info is not None and not info.enabled:
            description["StreamStatus"] = "DISABLED"
            _replace_body(response, document)

    return after


def _iterator_with_name(request, response) -> None:
    document = _json(response)
    try:
        asked = json.loads(request.body or b"{}")
    except ValueError:
        return
    if not document or asked.get("StreamName") or not asked.get("StreamARN"):
        return
    name = asked["StreamARN"].rsplit("/", 1)[-1]
    decoded = base64.b64decode(document["ShardIterator"]).decode()
    stream, separator, rest = decoded.partition(":")
    if separator and stream == "None":
        document["ShardIterator"] = base64.b64encode(f"{name}:{rest}".encode()).decode()
        _replace_body(response, document)


def register_stream_fixes(front) -> None:
    front.after("dynamodbstreams", "DescribeStream", _stream_status(DynamoDBState()))
    front.after("kinesis", "GetShardIterator", _iterator_with_name)
