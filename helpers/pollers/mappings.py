"""Event source mappings: Lambda reads a queue for you and invokes your function.

``create_event_source_mapping`` connects a queue or a stream to a function. The lab
answers that API (and Get, List, Update, Delete) at its front, with AWS's validation
and states, and runs one poller per enabled mapping. Each kind of source is a
``Source`` (``helpers.pollers.base``): SQS queues in ``helpers.pollers.sqs``, DynamoDB
streams and Kinesis data streams in ``helpers.pollers.dynamodb_streams`` and
``helpers.pollers.kinesis`` (on ``helpers.pollers.streams``). A
mapping moves through the states Lambda reports::

    Creating -> Enabled                  (or Disabled, when created with Enabled=False)
    Enabled  -> Disabling -> Disabled    (UpdateEventSourceMapping Enabled=False)
    Disabled -> Enabling  -> Enabled     (Enabled=True)
    Enabled  -> Updating  -> Enabled     (any other change)
    any      -> Deleting  -> gone        (DeleteEventSourceMapping)

Every change of state is recorded in the trace (``mapping.state``). Sources the lab
does not poll (Kafka, Amazon MQ, DocumentDB) are refused with a clear message.
Introduced in notebook 06.

https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html

Trace records:

- ``mapping.state``: mapping (an event source mapping's UUID), state ("Creating",
  "Enabled", "Disabling", ..., "Deleted"), function, source (notebook 06)
- ``batch.start`` / ``batch.end``: a poller's batch: mapping, batch, message_ids,
  receive_counts, trigger ("batch size", "window", "no window", "payload limit",
  "receive error"), bytes; at the end request_id, outcome ("success", "partial", "error",
  "invalid response", "throttled", "lab error"), deleted and retried (message ids),
  error_type; both are recorded before Lambda deletes anything. ``batch.filtered``
  (deleted without an invoke), ``batch.throttled``, ``batch.released`` (made visible
  again), ``batch.delete_failed`` and ``mapping.error`` complete the story (notebook 06)
"""

from __future__ import annotations

import json
import threading
import time
import uuid as uuids
from dataclasses import dataclass, field

from ..aws import parse_arn
from ..errors import LambdaApiError
from ..server import Response
from .dynamodb_streams import DynamoDBStreamsSource
from .filters import FilterPatternError, parse_filter_criteria
from .kinesis import KinesisSource
from .sqs import SqsSource

REASON = "USER_INITIATED"
MAX_BATCH = 10_000
MAX_WINDOW_S = 300
MAX_CONCURRENCY_RANGE = (2, 1000)
RESPONSE_TYPES = ("ReportBatchItemFailures",)
MAPPING_METRICS = ("EventCount", "ErrorCount", "KafkaMetrics")  # MetricsConfig's values
KAFKA_ONLY_METRICS = ("ErrorCount", "KafkaMetrics")
SOURCES = (SqsSource, DynamoDBStreamsSource, KinesisSource)  # the kinds the lab polls
STREAM_RANGES = {  # request field: (member in AWS's validation message, lowest, highest)
    "ParallelizationFactor": ("parallelizationFactor", 1, 10),
    "MaximumRetryAttempts": ("maximumRetryAttempts", -1, 10_000),
    "MaximumRecordAgeInSeconds": ("maximumRecordAgeInSeconds", -1, 604_800),
    "TumblingWindowInSeconds": ("tumblingWindowInSeconds", 0, 900),
}
NOT_FOUND = "The resource you requested does not exist."

__all__ = ["EventSourceMappings", "Mapping", "SOURCES"]


def _invalid(message: str) -> LambdaApiError:
    return LambdaApiError(400, "InvalidParameterValueException", message)


def _constraint(value, member: str, rule: str) -> LambdaApiError:
    """AWS's request validation error (before any other check)."""
    return LambdaApiError(
        400, "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}",
    )


@dataclass
class Mapping:
    """One event source mapping, as the Lambda API describes it."""

    uuid: str
    account_id: str
    region: str
    function_name: str  # as the caller gave it: name or ARN, perhaps with a qualifier
    function_arn: str  # the ARN Lambda reports and invokes (qualified when given so)
    source_arn: str
    kind: str  # the source's service: "sqs", ...
    batch_size: int = 10
    window: int = 0
    response_types: list = field(default_factory=list)
    filter_criteria: dict | None = None
    filters: list = field(default_factory=list)
    scaling: dict | None = None
    metrics: list = field(default_factory=list)  # MetricsConfig's Metrics
    enabled: bool = True
    state: str = "Creating"
    reason: str = REASON
    last_modified: float = field(default_factory=time.time)
    batches: int = 0  # batches its pollers have received so far
    source: dict = field(default_factory=dict)  # what its source's poller needs

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:event-source-mapping:{self.uuid}"

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.response_types

    @property
    def maximum_concurrency(self) -> int | None:
        return (self.scaling or {}).get("MaximumConcurrency")

    def configuration(self) -> dict:
        """The mapping as GetEventSourceMapping returns it."""
        config = {
            "UUID": self.uuid,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.window,
            "EventSourceArn": self.source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": self.state,
            "StateTransitionReason": self.reason,
            "FunctionResponseTypes": list(self.response_types),
            "EventSourceMappingArn": self.arn,
        }
        if self.filter_criteria:
            config["FilterCriteria"] = self.filter_criteria
        if self.metrics:
            config["MetricsConfig"] = {"Metrics": list(self.metrics)}
        return config


class EventSourceMappings:
    """The lab's event source mappings and their pollers (one per enabled mapping)."""

    def __init__(self, service, clients, sources=SOURCES):
        self.service = service
        self.clients = clients
        self.sources = {source.kind: source(self) for source in sources}
        self._mappings: dict[str, Mapping] = {}
        self._pollers: dict[str, object] = {}
        self._lock = threading.RLock()
        self._stopped = False

    def register(self, front) -> None:
        """Answer the Lambda API's event source mapping operations at the front."""
        front.answer("lambda", "CreateEventSourceMapping", self._create_api)
        front.answer("lambda", "GetEventSourceMapping", self._by_uuid(self.get, 200))
        front.answer("lambda", "UpdateEventSourceMapping", self._by_uuid(self._update_api, 202))
        front.answer("lambda", "DeleteEventSourceMapping", self._by_uuid(self.delete, 202))
        front.answer("lambda", "ListEventSourceMappings", self._list_api)

    @staticmethod
    def _reply(status: int, document, request) -> Response:
        return Response(status, [("Content-Type", "application/json"),
                                 ("x-amzn-RequestId", request.request_id)],
                        json.dumps(document).encode())

    def _create_api(self, request) -> Response:
        return self._reply(202, self.create(json.loads(request.body or b"{}"),
                                            request.account_id, request.region), request)

    def _update_api(self, uuid: str, request) -> dict:
        return self.update(uuid, json.loads(request.body or b"{}"))

    def _by_uuid(self, call, status: int):
        def answer(request) -> Response:
            uuid = request.params.get("UUID", "")
            if call in (self.get, self.delete):
                return self._reply(status, call(uuid), request)
            return self._reply(status, call(uuid, request), request)

        return answer

    def _list_api(self, request) -> Response:
        listed = self.list(request.query("EventSourceArn"), request.query("FunctionName"),
                           request.account_id, request.region)
        return self._reply(200, {"EventSourceMappings": listed}, request)

    # -- what the lab answers ---------------------------------------------------------------

    def describe(self, mapping: Mapping) -> dict:
        """The mapping as GetEventSourceMapping returns it."""
        return {**mapping.configuration(), **self.sources[mapping.kind].configuration(mapping)}

    def mapping(self, uuid: str) -> Mapping:
        with self._lock:
            if uuid not in self._mappings:
                raise LambdaApiError(404, "ResourceNotFoundException", NOT_FOUND)
            return self._mappings[uuid]

    def poller(self, uuid: str):
        """The running poller of a mapping, or None (for tests and widgets)."""
        with self._lock:
            return self._pollers.get(uuid)

    # -- the API ----------------------------------------------------------------------------

    def create(self, body: dict, account_id: str, region: str) -> dict:
        self._check_ranges(body)
        source_arn = body.get("EventSourceArn")
        function_name = body.get("FunctionName") or ""
        source = self._source(source_arn)
        spec, function_arn = self._function(function_name, account_id, region)
        mapping = Mapping(
            uuid=str(uuids.uuid4()), account_id=account_id, region=region,
            function_name=function_name, function_arn=function_arn, source_arn=source_arn,
            kind=source.kind, batch_size=body.get("BatchSize") or source.default_batch_size,
            window=body.get("MaximumBatchingWindowInSeconds") or 0,
            response_types=list(body.get("FunctionResponseTypes") or []),
            scaling=body.get("ScalingConfig") or None,
            metrics=self._metrics(body.get("MetricsConfig"), source.kind),
            enabled=body.get("Enabled", True) is not False,
        )
        self._set_filters(mapping, body.get("FilterCriteria"))
        source.prepare(mapping, body, spec, update=False)
        with self._lock:
            for other in self._mappings.values():
                if other.source_arn == source_arn and other.function_arn == function_arn:
                    first = (f'An event source mapping with {source.kind.upper()} arn (" '
                             f'{source_arn} ") and function (" {spec.name} ") already exists.'
                             if source.kind == "sqs" else
                             f'The event source arn (" {source_arn} ") and function '
                             f'(" {spec.name} ") provided mapping already exists.')
                    raise LambdaApiError(
                        409, "ResourceConflictException",
                        f"{first} Please update or delete the existing mapping with UUID "
                        f"{other.uuid}",
                    )
            self._mappings[mapping.uuid] = mapping
            self._record_state(mapping)
            config = self.describe(mapping)
            if mapping.enabled:
                self._start_poller(mapping)
            else:
                self._set_state(mapping, "Disabled")
        return config

    def get(self, uuid: str) -> dict:
        with self._lock:
            return self.describe(self.mapping(uuid))

    def list(self, source_arn, function_name, account_id, region) -> list[dict]:
        wanted = None
        if function_name:
            try:
                wanted = self._function(function_name, account_id, region)[1]
            except LambdaApiError:
                return []
        with self._lock:
            mappings = list(self._mappings.values())
        return [
            self.describe(m) for m in mappings
            if (not source_arn or m.source_arn == source_arn)
            and (wanted is None or m.function_arn == wanted
                 or m.function_arn.startswith(wanted + ":"))
        ]

    def update(self, uuid: str, body: dict) -> dict:
        self._check_ranges(body, update=True)
        with self._lock:
            mapping = self.mapping(uuid)
            if mapping.state == "Deleting":
                raise LambdaApiError(
                    409, "ResourceInUseException",
                    "Cannot update the event source mapping because it is in use.")
            changed = dict(
                batch_size=body.get("BatchSize", mapping.batch_size),
                window=body.get("MaximumBatchingWindowInSeconds", mapping.window),
                response_types=list(body.get("FunctionResponseTypes", mapping.response_types)
                                    or []),
                scaling=(body["ScalingConfig"] or None) if "ScalingConfig" in body
                else mapping.scaling,
                metrics=self._metrics(body["MetricsConfig"], mapping.kind)
                if "MetricsConfig" in body else mapping.metrics,
            )
            function_name, function_arn = mapping.function_name, mapping.function_arn
            if body.get("FunctionName"):
                function_name = body["FunctionName"]
            spec, function_arn = self._function(function_name, mapping.account_id,
                                                mapping.region)
            trial = Mapping(**{**mapping.__dict__, **changed, "source": dict(mapping.source)})
            if "FilterCriteria" in body:
                self._set_filters(trial, body["FilterCriteria"])
            self.sources[mapping.kind].prepare(trial, body, spec, update=True)
            for name in ("batch_size", "window", "response_types", "scaling", "metrics",
                         "filter_criteria", "filters", "source"):
                setattr(mapping, name, getattr(trial, name))
            mapping.function_name, mapping.function_arn = function_name, function_arn
            mapping.last_modified = time.time()
            enabled = body.get("Enabled", mapping.enabled) is not False
            if enabled and not mapping.enabled:
                mapping.enabled = True
                self._set_state(mapping, "Enabling")
                config = self.describe(mapping)
                self._start_poller(mapping)
                return config
            if not enabled and mapping.enabled:
                mapping.enabled = False
                self._set_state(mapping, "Disabling")
                config = self.describe(mapping)
                self._stop_poller(mapping, then="Disabled")
                return config
            if mapping.enabled:
                self._set_state(mapping, "Updating")
                config = self.describe(mapping)
                poller = self._pollers.get(uuid)
                if poller is not None:  # it reads the settings for every batch
                    poller.settings_changed()
                    self._set_state(mapping, "Enabled")
                return config
            return self.describe(mapping)

    def delete(self, uuid: str) -> dict:
        with self._lock:
            mapping = self.mapping(uuid)
            if mapping.state == "Deleting":
                return self.describe(mapping)
            mapping.enabled = False
            self._set_state(mapping, "Deleting")
            config = self.describe(mapping)
            self._stop_poller(mapping, then=None)
            return config

    def stop(self) -> None:
        """Stop every poller (the lab is stopping); batches in flight are not waited for."""
        with self._lock:
            self._stopped = True
            pollers = list(self._pollers.values())
            self._pollers.clear()
        for poller in pollers:
            poller.stop()
        for poller in pollers:
            poller.join(timeout=1.5, finish_batches=False)

    # -- pollers and states -----------------------------------------------------------------

    def _start_poller(self, mapping: Mapping) -> None:
        if self._stopped:
            return
        poller = self.sources[mapping.kind].poller(self.service, mapping, self.clients,
                                                   on_running=self._running)
        self._pollers[mapping.uuid] = poller
        poller.start()

    def _running(self, mapping: Mapping) -> None:
        """Called by a poller once it polls, and after it applied new settings."""
        with self._lock:
            if mapping.state in ("Creating", "Enabling", "Updating") and mapping.enabled:
                self._set_state(mapping, "Enabled")

    def _stop_poller(self, mapping: Mapping, then: str | None) -> None:
        poller = self._pollers.pop(mapping.uuid, None)

        def finish():
            if poller is not None:
                poller.stop()
                poller.join(timeout=max(mapping.window, 0) + 60, finish_batches=True)
            with self._lock:
                if then is None:
                    if self._mappings.pop(mapping.uuid, None) is not None:
                        self.service.trace.record("mapping.state", mapping=mapping.uuid,
                                                  state="Deleted", reason=REASON)
                elif mapping.state == "Disabling":
                    self._set_state(mapping, then)

        threading.Thread(target=finish, daemon=True,
                         name=f"lab-esm-stop-{mapping.uuid[:8]}").start()

    def _set_state(self, mapping: Mapping, state: str) -> None:
        mapping.state = state
        mapping.last_modified = time.time()
        self._record_state(mapping)

    def _record_state(self, mapping: Mapping) -> None:
        self.service.trace.record("mapping.state", mapping=mapping.uuid, state=mapping.state,
                                  function=mapping.function_arn, source=mapping.source_arn,
                                  reason=mapping.reason)

    # -- validation -------------------------------------------------------------------------

    @staticmethod
    def _check_ranges(body: dict, update: bool = False) -> None:
        if not update and not body.get("FunctionName"):
            raise _invalid("FunctionName is required.")
        if not update and not body.get("EventSourceArn"):
            raise _invalid("Unrecognized event source, must be kafka or specify a valid "
                           "EventSourceArn.")
        size = body.get("BatchSize")
        if size is not None and not 1 <= size <= MAX_BATCH:
            bound = "greater than or equal to 1" if size < 1 else "less than or equal to 10000"
            raise _constraint(size, "batchSize", f"Member must have value {bound}")
        window = body.get("MaximumBatchingWindowInSeconds")
        if window is not None and not 0 <= window <= MAX_WINDOW_S:
            bound = "greater than or equal to 0" if window < 0 else "less than or equal to 300"
            raise _constraint(window, "maximumBatchingWindowInSeconds",
                              f"Member must have value {bound}")
        concurrency = (body.get("ScalingConfig") or {}).get("MaximumConcurrency")
        low, high = MAX_CONCURRENCY_RANGE
        if concurrency is not None and not low <= concurrency <= high:
            bound = (f"greater than or equal to {low}" if concurrency < low
                     else f"less than or equal to {high}")
            raise _constraint(concurrency, "scalingConfig.maximumConcurrency",
                              f"Member must have value {bound}")
        for name, (member, low, high) in STREAM_RANGES.items():
            value = body.get(name)
            if value is not None and not low <= value <= high:
                bound = (f"greater than or equal to {low}" if value < low
                         else f"less than or equal to {high}")
                raise _constraint(value, member, f"Member must have value {bound}")
        types = body.get("FunctionResponseTypes")
        if types is not None and (len(types) > 1 or any(t not in RESPONSE_TYPES for t in types)):
            raise _constraint(
                "[" + ", ".join(map(str, types)) + "]", "functionResponseTypes",
                "Member must satisfy constraint: [Member must satisfy enum value set: "
                "[ReportBatchItemFailures]]")

    @staticmethod
    def _metrics(config, kind: str) -> list:
        """MetricsConfig's Metrics, checked: EventCount for the sources the lab polls."""
        metrics = list((config or {}).get("Metrics") or [])
        if len(metrics) > len(MAPPING_METRICS) or any(m not in MAPPING_METRICS for m in metrics):
            raise _constraint("[" + ", ".join(map(str, metrics)) + "]", "metricsConfig.metrics",
                              "Member must satisfy constraint: [Member must satisfy enum value "
                              "set: [EventCount, ErrorCount, KafkaMetrics]]")
        kafka_only = [m for m in metrics if m in KAFKA_ONLY_METRICS]
        if kafka_only:
            raise _invalid(f"{', '.join(kafka_only)} metrics are for Kafka event sources; "
                           f"a {kind} mapping can produce EventCount metrics.")
        return list(dict.fromkeys(metrics))

    def event_counts(self, uuid: str) -> bool:
        """Whether a mapping publishes its EventCount metrics (``helpers.lambda_.metrics``:
        the lab counts an SQS mapping's events)."""
        with self._lock:
            mapping = self._mappings.get(uuid)
        return bool(mapping and mapping.kind == "sqs" and "EventCount" in mapping.metrics)

    @staticmethod
    def _set_filters(mapping: Mapping, criteria) -> None:
        try:
            mapping.filters = parse_filter_criteria(criteria)
        except FilterPatternError as error:
            raise _invalid(str(error)) from None
        mapping.filter_criteria = criteria if mapping.filters else None

    def _function(self, function_name: str, account_id: str, region: str):
        """(spec, the FunctionArn Lambda reports): qualified when the name was."""
        spec = self.service.functions.find(function_name, None, account_id, region)
        local = function_name.split(":function:")[-1]  # name, or name:qualifier
        if ":" in local:
            return spec, f"{spec.arn}:{local.rsplit(':', 1)[-1]}"
        return spec, spec.arn

    def _source(self, source_arn) -> object:
        """The lab's source for an event source ARN; AWS's error for one it is not."""
        arn = parse_arn(source_arn)
        if arn is not None and arn.service in self.sources:
            return self.sources[arn.service]
        if arn is not None and arn.service in ("kafka", "mq", "rds"):
            raise _invalid(f"The lab polls {', '.join(sorted(self.sources))} event sources; "
                           f"{arn.service} sources are not part of the course.")
        raise _invalid("Unrecognized event source, must be kafka or specify a valid "
                       "EventSourceArn.")
