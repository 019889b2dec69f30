"""Read-only views of moto's Amazon Data Firehose delivery streams, as plain data.

A delivery stream's name, ARN, type (``DirectPut`` or ``KinesisStreamAsSource``), its
Kinesis source, its version (it grows with every ``UpdateDestination``) and its S3
destination's configuration as the API took it. The Firehose integration
(``helpers.front_doors.firehose``) reads it; moto is imported on first use.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

__all__ = ["DeliveryStreamInfo", "FirehoseState"]


@dataclass(frozen=True)
class DeliveryStreamInfo:
    name: str
    arn: str
    status: str
    stream_type: str  # "DirectPut" or "KinesisStreamAsSource"
    version_id: str
    destination_id: str
    destination_kind: str  # "ExtendedS3", "S3", or another destination's name
    destination: dict = field(default_factory=dict)  # its configuration, a copy
    kinesis_stream_arn: str | None = None
    created: float = 0.0  # epoch seconds


class FirehoseState:
    @staticmethod
    def _backend(account_id: str, region: str):
        from moto.firehose.models import firehose_backends  # on first use

        return firehose_backends[account_id][region]

    def stream(self, name: str, account_id: str, region: str) -> DeliveryStreamInfo | None:
        """The delivery stream called ``name``, or None if there is none."""
        found = self._backend(account_id, region).delivery_streams.get(name)
        if found is None:
            return None
        destination = found.destinations[0] if found.destinations else {}
        kind = next((k for k in ("ExtendedS3", "S3") if k in destination),
                    next((k for k in destination if k != "destination_id"), ""))
        source = found.source or {}
        return DeliveryStreamInfo(
            name=found.delivery_stream_name, arn=found.delivery_stream_arn,
            status=found.delivery_stream_status, stream_type=found.delivery_stream_type,
            version_id=str(found.version_id),
            destination_id=destination.get("destination_id", "destinationId-000000000001"),
            destination_kind=kind, destination=copy.deepcopy(destination.get(kind) or {}),
            kinesis_stream_arn=source.get("KinesisStreamARN"),
            created=found.create_timestamp.timestamp())

    def names(self, account_id: str, region: str) -> list[str]:
        return sorted(self._backend(account_id, region).delivery_streams)
