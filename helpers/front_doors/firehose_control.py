"""Amazon Data Firehose's control plane: what the lab checks before moto stores a delivery
stream, the settings the data plane works with, and what ``DescribeDeliveryStream`` adds.

moto keeps delivery streams but checks little of their configuration. Before
``CreateDeliveryStream`` and ``UpdateDestination`` reach it, the lab refuses, with
``InvalidArgumentException`` as Firehose does, what Firehose would refuse or what the
lab cannot deliver: a destination other than S3; processors other than ``Lambda`` and
``AppendDelimiterToRecord`` (one Lambda processor at most); a Lambda processor's
``BufferSizeInMBs`` outside 0.2 to 3, ``BufferIntervalInSeconds`` outside 0 to 900
(https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html); prefixes
that break Firehose's rules (``helpers.front_doors.firehose_naming``); compression other
than ``UNCOMPRESSED`` and ``GZIP``; a Kinesis source that does not exist. After moto
answers ``DescribeDeliveryStream``, the defaults AWS shows are filled in (buffering
hints 5 MiB and 300 s, no compression, no encryption). Introduced in notebook 11.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..aws import parse_arn
from ..errors import AwsError
from . import firehose_naming as naming

MIB = 1024 * 1024
DEFAULT_BUFFER = {"SizeInMBs": 5, "IntervalInSeconds": 300}  # an S3 destination's
PROCESSOR_DEFAULTS = {"NumberOfRetries": "3", "BufferSizeInMBs": "1",
                      "BufferIntervalInSeconds": "60"}
MAX_RETRIES = 300  # the lab's bound; AWS does not document one
COMPRESSIONS = ("UNCOMPRESSED", "GZIP")
LAMBDA_PARAMETERS = ("LambdaArn", "NumberOfRetries", "RoleArn", "BufferSizeInMBs",
                     "BufferIntervalInSeconds")
DESTINATIONS = ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration")

__all__ = ["DeliveryControl", "StreamSettings", "request_body", "settings_of"]


def _invalid(message: str) -> AwsError:
    return AwsError(400, "InvalidArgumentException", message)


@dataclass(frozen=True)
class StreamSettings:
    """One version of a delivery stream, as the data plane needs it."""

    name: str
    arn: str
    version: str
    stream_type: str
    kinesis_stream_arn: str | None
    bucket: str
    prefix: str  # the templates, before evaluation
    error_prefix: str
    buffer_bytes: int
    buffer_interval_s: int
    compression: str
    extension: str
    time_zone: object  # a tzinfo
    dynamic_partitioning: bool
    lambda_arn: str | None  # None: no transformation
    retries: int
    processor_bytes: int
    processor_interval_s: int
    append_delimiter: bool


def _processors(config: dict) -> list[dict]:
    processing = config.get("ProcessingConfiguration") or {}
    if processing.get("Enabled") is False:
        return []
    return list(processing.get("Processors") or [])


def _parameters(processor: dict) -> dict:
    return {p.get("ParameterName"): p.get("ParameterValue")
            for p in processor.get("Parameters") or []}


def _dynamic(config: dict) -> bool:
    return bool((config.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))


def settings_of(info) -> StreamSettings:
    """The settings of a stream (``helpers.cloud.firehose_state.DeliveryStreamInfo``)."""
    config = info.destination
    hints = {**DEFAULT_BUFFER, **(config.get("BufferingHints") or {})}
    lambda_processor = next((p for p in _processors(config) if p.get("Type") == "Lambda"),
                            None)
    parameters = {**PROCESSOR_DEFAULTS, **_parameters(lambda_processor or {})}
    compression = config.get("CompressionFormat") or "UNCOMPRESSED"
    dynamic = _dynamic(config)
    prefix = config.get("Prefix") or ""
    arn = parse_arn(config.get("BucketARN", ""))
    try:
        zone = ZoneInfo(config["CustomTimeZone"]) if config.get("CustomTimeZone") else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    return StreamSettings(
        name=info.name, arn=info.arn, version=info.version_id, stream_type=info.stream_type,
        kinesis_stream_arn=info.kinesis_stream_arn, bucket=arn.resource if arn else "",
        prefix=naming.data_prefix_template(prefix, dynamic),
        error_prefix=naming.error_prefix_template(prefix, config.get("ErrorOutputPrefix")),
        buffer_bytes=int(hints["SizeInMBs"]) * MIB,
        buffer_interval_s=int(hints["IntervalInSeconds"]), compression=compression,
        extension=naming.extension(compression, config.get("FileExtension")),
        time_zone=zone, dynamic_partitioning=dynamic,
        lambda_arn=parameters.get("LambdaArn") if lambda_processor else None,
        retries=int(parameters["NumberOfRetries"]),
        processor_bytes=int(float(parameters["BufferSizeInMBs"]) * MIB),
        processor_interval_s=int(parameters["BufferIntervalInSeconds"]),
        append_delimiter=any(p.get("Type") == "AppendDelimiterToRecord"
                             for p in _processors(config)))


def _number(name: str, value, low: float, high: float, integer: bool) -> None:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be a number, not {value!r}.") from None
    if not low <= number <= high:
        raise _invalid(f"{name} must be between {low:g} and {high:g} (it was {value}).")


def check_destination(config: dict) -> None:
    """Raise InvalidArgumentException for what Firehose, or the lab, would refuse."""
    processors = _processors(config)
    lambdas = [p for p in processors if p.get("Type") == "Lambda"]
    others = sorted({p.get("Type") for p in processors} - {"Lambda", "AppendDelimiterToRecord"})
    if others:
        raise _invalid(f"The lab runs Lambda and AppendDelimiterToRecord processors; not "
                       f"{', '.join(map(str, others))}.")
    if len(lambdas) > 1:
        raise _invalid("A delivery stream takes one Lambda processor.")
    for processor in lambdas:
        parameters = _parameters(processor)
        unknown = sorted(set(parameters) - set(LAMBDA_PARAMETERS), key=str)
        if unknown:
            raise _invalid(f"A Lambda processor has no parameter {unknown[0]}.")
        if not parameters.get("LambdaArn"):
            raise _invalid("A Lambda processor needs the parameter LambdaArn.")
        if "BufferSizeInMBs" in parameters:
            _number("BufferSizeInMBs", parameters["BufferSizeInMBs"], 0.2, 3, False)
        if "BufferIntervalInSeconds" in parameters:
            _number("BufferIntervalInSeconds", parameters["BufferIntervalInSeconds"], 0, 900,
                    True)
        if "NumberOfRetries" in parameters:
            _number("NumberOfRetries", parameters["NumberOfRetries"], 0, MAX_RETRIES, True)
    hints = config.get("BufferingHints")
    if hints is not None and len(hints) == 1:
        raise _invalid("BufferingHints: give both SizeInMBs and IntervalInSeconds, or "
                       "neither.")
    dynamic = _dynamic(config)
    if dynamic and hints and int(hints.get("IntervalInSeconds", 1)) == 0:
        raise _invalid("Zero buffering (IntervalInSeconds 0) is not available with dynamic "
                       "partitioning.")
    if (config.get("CompressionFormat") or "UNCOMPRESSED") not in COMPRESSIONS:
        raise _invalid(f"The lab writes {' and '.join(COMPRESSIONS)} objects; not "
                       f"{config['CompressionFormat']}.")
    problem = naming.prefix_problem(config.get("Prefix") or "",
                                    config.get("ErrorOutputPrefix"), dynamic, bool(lambdas))
    if problem:
        raise _invalid(problem)


class DeliveryControl:
    """The front's hooks for the delivery stream API. ``state``: a FirehoseState;
    ``stream_exists(arn)``: whether a Kinesis data stream exists."""

    def __init__(self, state, stream_exists):
        self.state = state
        self.stream_exists = stream_exists

    def register(self, front) -> None:
        front.before("firehose", "CreateDeliveryStream", self._check_create)
        front.before("firehose", "UpdateDestination", self._check_update)
        front.after("firehose", "DescribeDeliveryStream", self._describe)

    def _check_create(self, request) -> None:
        body = request_body(request)
        given = [key for key in body if key.endswith("DestinationConfiguration") and body[key]]
        if given and not set(given) <= set(DESTINATIONS):
            raise _invalid(f"The lab delivers to Amazon S3 destinations only, not "
                           f"{given[0].replace('DestinationConfiguration', '')}.")
        for key in DESTINATIONS:
            if body.get(key):
                check_destination(body[key])
        if body.get("DeliveryStreamType") == "KinesisStreamAsSource":
            source = body.get("KinesisStreamSourceConfiguration") or {}
            arn = source.get("KinesisStreamARN")
            if not arn or not self.stream_exists(arn):
                raise _invalid(f"The Kinesis data stream {arn} does not exist.")

    def _check_update(self, request) -> None:
        body = request_body(request)
        given = [key for key in body if key.endswith("DestinationUpdate") and body[key]]
        if any(key not in ("ExtendedS3DestinationUpdate", "S3DestinationUpdate")
               for key in given):
            raise _invalid("The lab delivers to Amazon S3 destinations only.")
        info = self.state.stream(body.get("DeliveryStreamName", ""), request.account_id,
                                 request.region)
        for key in given:
            current = info.destination if info is not None else {}
            check_destination({**current, **body[key]})

    @staticmethod
    def _describe(request, response) -> None:
        if response.status != 200:
            return
        document = json.loads(response.body or b"{}")
        description = document.get("DeliveryStreamDescription") or {}
        description.setdefault("DeliveryStreamEncryptionConfiguration", {"Status": "DISABLED"})
        source = (description.get("Source") or {}).get("KinesisStreamSourceDescription")
        if source is not None:
            source.setdefault("DeliveryStartTimestamp", description.get("CreateTimestamp"))
        for destination in description.get("Destinations") or []:
            for key in ("ExtendedS3DestinationDescription", "S3DestinationDescription"):
                if key in destination:
                    shown = destination[key]
                    shown.setdefault("BufferingHints", dict(DEFAULT_BUFFER))
                    shown.setdefault("CompressionFormat", "UNCOMPRESSED")
                    shown.setdefault("EncryptionConfiguration",
                                     {"NoEncryptionConfig": "NoEncryption"})
            if "ExtendedS3DestinationDescription" in destination:
                destination["ExtendedS3DestinationDescription"].setdefault("S3BackupMode",
                                                                           "Disabled")
        response.body = json.dumps(document).encode()
        response.set_header("Content-Length", str(len(response.body)))


def request_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise AwsError(400, "SerializationException", "The request is not JSON.") from None
    return body if isinstance(body, dict) else {}
