"""The Lambda API operations the lab answers itself, at the front (moto never sees them).

- ``Invoke`` (and the deprecated ``InvokeAsync``): validated as AWS validates them, then
  run synchronously, queued (``Event``) or only checked (``DryRun``) by the service;
- ``Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s)``: per version or alias, with
  AWS's put-replaces / update-merges semantics;
- ``Get/PutFunctionRecursionConfig``.

The control plane moto answers is watched by ``helpers.lambda_.control``. Introduced in
notebook 01.
"""

from __future__ import annotations

import base64
import binascii
import json

from ..aws import MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD, function_arn, parse_arn
from ..errors import LambdaApiError
from ..server import Response
from .logs import tail_base64

INVOKE_ASYNC_LIMIT = 256 * 1024  # the deprecated InvokeAsync keeps the old limit
MAX_CLIENT_CONTEXT = 3583  # bytes of base64 (Invoke API, ClientContext)
BAD_CLIENT_CONTEXT = "Client context must be a valid Base64-encoded JSON object."
RECURSIVE_LOOP_MODES = ("Allow", "Terminate")
DESTINATION_ARN = (r"^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:"
                   r"(\d{12})?:(.*)")
JSON = "application/json"

__all__ = ["LambdaApi"]


def _validation(value, member: str, rule: str) -> LambdaApiError:
    return LambdaApiError(
        400, "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}")


def _json_response(status: int, document, request_id: str) -> Response:
    return Response(status, [("Content-Type", JSON), ("x-amzn-RequestId", request_id)],
                    json.dumps(document).encode())


def check_payload(payload: bytes, limit: int) -> bytes:
    """The payload as Lambda accepts it: at most ``limit`` bytes of JSON (``{}`` if empty)."""
    if len(payload) > limit:
        raise LambdaApiError(
            413, "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation")
    if not payload:
        return b"{}"
    try:
        json.loads(payload)
    except (ValueError, RecursionError) as error:
        detail = str(error) if isinstance(error, ValueError) else "nesting too deep"
        raise LambdaApiError(400, "InvalidRequestContentException",
                             f"Could not parse request body into json: {detail}") from None
    return payload


def decode_client_context(header: str | None) -> str | None:
    """The JSON a runtime gets as ``Lambda-Runtime-Client-Context``, from the Invoke
    request's base64 ``X-Amz-Client-Context`` header (None if there is none)."""
    if not header:
        return None
    if len(header) > MAX_CLIENT_CONTEXT:
        raise LambdaApiError(400, "InvalidRequestContentException",
                             f"Client context must be at most {MAX_CLIENT_CONTEXT} bytes of "
                             "base64-encoded data.")
    try:
        document = json.loads(base64.b64decode(header, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise LambdaApiError(400, "InvalidRequestContentException", BAD_CLIENT_CONTEXT)
    return json.dumps(document)


class LambdaApi:
    """Answers the operations above for ``service``; ``functions`` reads moto's state."""

    def __init__(self, service, functions, settings, authorize=None):
        self.service = service
        self.functions = functions
        self.settings = settings
        self.authorize = authorize  # authorize(request, action, resource), with enforce_iam

    def register(self, front) -> None:
        front.answer("lambda", "Invoke", self.invoke)
        front.answer("lambda", "InvokeAsync", self.invoke_async)
        for operation in ("PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig"):
            front.answer("lambda", operation, self.put_event_invoke_config)
        front.answer("lambda", "GetFunctionEventInvokeConfig", self.get_event_invoke_config)
        front.answer("lambda", "DeleteFunctionEventInvokeConfig",
                     self.delete_event_invoke_config)
        front.answer("lambda", "ListFunctionEventInvokeConfigs",
                     self.list_event_invoke_configs)
        front.answer("lambda", "GetFunctionRecursionConfig", self.recursion_config)
        front.answer("lambda", "PutFunctionRecursionConfig", self.recursion_config)

    # -- Invoke -------------------------------------------------------------------------------

    def invoke(self, request) -> Response:
        """``POST /2015-03-31/functions/{FunctionName}/invocations``."""
        name = request.params.get("FunctionName", "")
        qualifier = request.query("Qualifier")
        invocation_type = request.header("x-amz-invocation-type") or "RequestResponse"
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise LambdaApiError(400, "InvalidParameterValueException",
                                 f"Unsupported invocation type: {invocation_type}")
        spec = self.functions.find(name, qualifier, request.account_id, request.region)
        invoked_arn = self._invoked_arn(spec, name, qualifier)
        if self.authorize is not None:
            self.authorize(request, "lambda:InvokeFunction", invoked_arn)
        client_context = decode_client_context(request.header("x-amz-client-context"))
        request_id = request.request_id
        trace = self.service.trace
        alias = {"alias": spec.alias} if spec.alias else {}  # a weighted alias's choice
        trace.record("invoke", request_id=request_id, function=spec.arn, version=spec.version,
                     invocation_type=invocation_type, source="api", **alias)
        if invocation_type == "DryRun":  # checked: function, qualifier, permission. Not run.
            return Response(204, [("x-amzn-RequestId", request_id)])
        if invocation_type == "Event":
            payload = check_payload(request.body, MAX_ASYNC_PAYLOAD)
            self.service.submit_event(spec, payload, invoked_arn, request_id, name, qualifier,
                                      request.account_id, request.region)
            return Response(202, [("x-amzn-RequestId", request_id)])
        payload = check_payload(request.body, MAX_SYNC_PAYLOAD)
        outcome = self.service.invoke(spec, payload, invoked_arn,
                                      client_context=client_context, request_id=request_id)
        headers = [("Content-Type", JSON), ("X-Amz-Executed-Version", outcome.executed_version),
                   ("x-amzn-RequestId", outcome.request_id)]
        if outcome.function_error:
            headers.append(("X-Amz-Function-Error", outcome.function_error))
        if request.header("x-amz-log-type") == "Tail":
            headers.append(("X-Amz-Log-Result", tail_base64(outcome.log_text)))
        return Response(200, headers, outcome.payload)

    def invoke_async(self, request) -> Response:
        """The deprecated ``InvokeAsync``: an Event invoke with its old 256 KB limit."""
        name = request.params.get("FunctionName", "")
        spec = self.functions.find(name, None, request.account_id, request.region)
        invoked_arn = self._invoked_arn(spec, name, None)
        if self.authorize is not None:
            self.authorize(request, "lambda:InvokeFunction", invoked_arn)
        payload = check_payload(request.body, INVOKE_ASYNC_LIMIT)
        self.service.trace.record("invoke", request_id=request.request_id, function=spec.arn,
                                  version=spec.version, invocation_type="Event", source="api")
        self.service.submit_event(spec, payload, invoked_arn, request.request_id, name, None,
                                  request.account_id, request.region)
        return _json_response(202, {"Status": 202}, request.request_id)

    @staticmethod
    def _invoked_arn(spec, name: str, qualifier: str | None) -> str:
        """The ARN the function sees as ``context.invoked_function_arn``."""
        local = name.split(":function:")[-1]
        if not qualifier and ":" in local:
            qualifier = local.rsplit(":", 1)[-1]
        return spec.arn + (f":{qualifier}" if qualifier else "")

    # -- asynchronous invocation configuration ----------------------------------------------

    def _config_target(self, request):
        name = request.params.get("FunctionName", "")
        qualifier = request.query("Qualifier")
        spec = self.functions.find(name, qualifier, request.account_id, request.region)
        local = name.split(":function:")[-1]
        if not qualifier and ":" in local:
            qualifier = local.rsplit(":", 1)[-1]
        return spec, qualifier

    @staticmethod
    def _validate_event_invoke_config(config: dict) -> None:
        import re

        retries = config.get("MaximumRetryAttempts")
        if retries is not None and retries > 2:
            raise _validation(retries, "maximumRetryAttempts",
                              "Member must have value less than or equal to 2")
        age = config.get("MaximumEventAgeInSeconds")
        if age is not None and age > 21600:
            raise _validation(age, "maximumEventAgeInSeconds",
                              "Member must have value less than or equal to 21600")
        for which in ("OnSuccess", "OnFailure"):
            destination = (config.get("DestinationConfig") or {}).get(which, {}).get(
                "Destination")
            if destination is not None and not re.match(DESTINATION_ARN, destination):
                raise _validation(destination, f"destinationConfig.{which[0].lower()}"
                                  f"{which[1:]}.destination",
                                  f"Member must satisfy regular expression pattern: "
                                  f"{DESTINATION_ARN}")
            if destination:
                arn = parse_arn(destination)
                if arn is None or arn.service not in ("sqs", "sns", "lambda", "events", "s3"):
                    raise LambdaApiError(
                        400, "InvalidParameterValueException",
                        f"The destination ARN {destination} is invalid.")

    def _config_document(self, spec, qualifier, config, modified) -> dict:
        return {"LastModified": modified,
                "FunctionArn": function_arn(spec.name, spec.region, spec.account_id, qualifier),
                **config}

    def put_event_invoke_config(self, request) -> Response:
        spec, qualifier = self._config_target(request)
        body = json.loads(request.body or b"{}")
        config = {key: body[key] for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                                            "DestinationConfig") if key in body}
        if request.operation == "UpdateFunctionEventInvokeConfig":
            stored = self.settings.of(spec.arn).event_invoke.get(qualifier or "$LATEST")
            config = {**(stored[0] if stored else {}), **config}
        self._validate_event_invoke_config(config)
        modified = self.settings.put_event_invoke_config(spec.arn, qualifier, config)
        return _json_response(200, self._config_document(spec, qualifier, config, modified),
                              request.request_id)

    def _stored_config(self, spec, qualifier):
        stored = self.settings.of(spec.arn).event_invoke.get(qualifier or "$LATEST")
        if stored is None:
            raise LambdaApiError(
                404, "ResourceNotFoundException",
                f"The function {function_arn(spec.name, spec.region, spec.account_id, qualifier)}"
                " doesn't have an EventInvokeConfig")
        return stored

    def get_event_invoke_config(self, request) -> Response:
        spec, qualifier = self._config_target(request)
        config, modified = self._stored_config(spec, qualifier)
        return _json_response(200, self._config_document(spec, qualifier, config, modified),
                              request.request_id)

    def delete_event_invoke_config(self, request) -> Response:
        spec, qualifier = self._config_target(request)
        self._stored_config(spec, qualifier)
        self.settings.of(spec.arn).event_invoke.pop(qualifier or "$LATEST", None)
        return Response(204, [("x-amzn-RequestId", request.request_id)])

    def list_event_invoke_configs(self, request) -> Response:
        spec, _ = self._config_target(request)
        configs = [self._config_document(spec, None if qualifier == "$LATEST" else qualifier,
                                         config, modified)
                   for qualifier, (config, modified)
                   in sorted(self.settings.of(spec.arn).event_invoke.items())]
        return _json_response(200, {"FunctionEventInvokeConfigs": configs}, request.request_id)

    # -- recursive loop detection -----------------------------------------------------------

    def recursion_config(self, request) -> Response:
        spec = self.functions.find(request.params.get("FunctionName", ""), None,
                                   request.account_id, request.region)
        settings = self.settings.of(spec.arn)
        if request.operation == "PutFunctionRecursionConfig":
            mode = json.loads(request.body or b"{}").get("RecursiveLoop")
            if mode not in RECURSIVE_LOOP_MODES:
                raise _validation(mode, "recursiveLoop",
                                  "Member must satisfy enum value set: [Allow, Terminate]")
            settings.recursive_loop = mode
        return _json_response(200, {"RecursiveLoop": settings.recursive_loop},
                              request.request_id)

    def dead_letter_target(self, spec) -> str | None:
        dead_letter = self.settings.of(spec.arn).dead_letter or {}
        return dead_letter.get("TargetArn")

