"""Read-only views of moto's DynamoDB tables, as the stream pollers and the front need them.

A table's stream as plain data: its ARN, whether it is enabled, its view type. Nothing
here changes moto's state. Introduced in notebook 05.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DynamoDBState", "StreamInfo"]


@dataclass(frozen=True)
class StreamInfo:
    arn: str
    table: str
    enabled: bool
    view_type: str | None


class DynamoDBState:
    @staticmethod
    def _backend(account_id: str, region: str):
        from moto.dynamodb.models import dynamodb_backends  # on first use

        return dynamodb_backends[account_id][region]

    def stream(self, stream_arn: str) -> StreamInfo | None:
        """The stream ``stream_arn`` names (None: no such table, or another stream of it)."""
        parts = str(stream_arn or "").split(":", 5)
        if len(parts) != 6 or "/stream/" not in parts[5]:
            return None
        table_name, label = parts[5].split("/", 1)[1].split("/stream/", 1)
        table = self._backend(parts[4], parts[3]).tables.get(table_name)
        if table is None or table.latest_stream_label != label:
            return None
        spec = table.stream_specification or {}
        return StreamInfo(f"{table.table_arn}/stream/{label}", table.name,
                          bool(spec.get("StreamEnabled")), spec.get("StreamViewType"))
