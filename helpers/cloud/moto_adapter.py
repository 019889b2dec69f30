"""Everything the lab needs from moto's internals, in one place.

moto is the lab's control plane: it stores functions, buckets, queues, logs and IAM.
This module starts moto's threaded server and connects the lab's Lambda service to it.
It is the only module that imports from moto, and moto is held to a tested version
range in pyproject.toml; ``tests/test_moto_adapter.py`` fails with a clear message if
a moto upgrade moves what this module relies on.

What it changes in moto, and why:

- the server's per-request log is switched off and Nagle's algorithm disabled, so
  notebooks stay quiet and calls are fast;
- moto lists its own package directory on every request to route it; the list never
  changes while the lab runs, so it is computed once;
- ``Invoke`` is answered by the lab's Lambda service instead of moto's (which runs code
  only in Docker, or returns a canned response), and keeps the function's request id;
- moto's own ways of running a function (Docker, or the canned responses used when
  other services "invoke" Lambda) are replaced by the lab's service too;
- with IAM enforced, Lambda requests are checked with IAM's action names
  (``lambda:InvokeFunction``) on the function's ARN, and denials are Lambda's JSON
  ``AccessDeniedException``;
- moto keeps only the first PutFunctionEventInvokeConfig and ignores DeadLetterConfig;
  the lab gives both AWS's semantics;
- function logs are written in the background, off the invoke path; a CloudWatch Logs
  request first waits for the lines already written, so reads never miss one;
- S3 event notifications reach functions through the lab's asynchronous queue, with
  AWS's event, S3's request ids and S3's validation of the configuration; moto's
  synchronous S3-to-Lambda call never runs; Get/PutFunctionRecursionConfig are answered
  (see the section "S3 event notifications and recursive loop detection" below);
- event source mappings for SQS queues are answered by the lab, whose pollers read the
  queue through the SQS API, and moto's SQS never invokes a function itself; moto's SQS
  queues are made safe for concurrent consumers and number FIFO messages (see the
  section "Event source mappings and SQS" below);
- REST API deployments are frozen snapshots, as in AWS, and API Gateway integrations
  are validated as AWS validates them; the lab's HTTP front door reads REST and HTTP
  APIs through plain dataclasses (see the section "API Gateway" below).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import moto
import moto.backends
from moto.awslambda import models as lambda_models
from moto.awslambda.responses import LambdaResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

TESTED_MOTO = (5, 2)
ACCOUNT_ID = "123456789012"

__all__ = [
    "ACCOUNT_ID",
    "CloudServer",
    "FunctionSpec",
    "HttpStageSpec",
    "LambdaApiError",
    "RestStageSpec",
    "api_kind",
    "find_function",
    "find_http_stage",
    "find_rest_stage",
    "function_policy_statements",
    "install",
    "self_check",
    "write_log_events",
]


class LambdaApiError(JsonRESTError):
    """An error of the Lambda API itself (HTTP 4xx/5xx), as moto serializes its own."""

    def __init__(self, status: int, error_type: str, message: str, **extra):
        super().__init__(error_type, message)
        self.code = status
        if extra:
            import json

            self.description = json.dumps(
                {"__type": error_type, "Type": "User", "message": message, **extra}
            )


@dataclass(frozen=True)
class FunctionSpec:
    """What the Lambda service needs to run one version of a function."""

    name: str
    arn: str  # unqualified
    version: str  # "$LATEST" or "1", "2", ...
    runtime: str
    handler: str
    code_zip: bytes
    code_sha256: str
    memory_size: int
    timeout: int
    environment: dict = field(default_factory=dict)
    reserved_concurrency: int | None = None
    region: str = "us-east-1"
    dead_letter_target: str | None = None
    created: str = ""

    @property
    def fingerprint(self) -> tuple:
        """Changes whenever code or configuration change: old environments retire.

        ``created`` tells a function deleted and created again from the one before it.
        """
        return (
            self.created,
            self.code_sha256,
            self.handler,
            self.runtime,
            self.memory_size,
            self.timeout,
            tuple(sorted(self.environment.items())),
        )


def _quiet_request_handler():
    class LabRequestHandler(MotoRequestHandler):
        disable_nagle_algorithm = True

        def log_request(self, *args, **kwargs):
            pass

    return LabRequestHandler


class CloudServer(ThreadedMotoServer):
    """moto's threaded server on 127.0.0.1, on a free port, without a request log."""

    def __init__(self):
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._ip_address, 0, app, True, request_handler=_quiet_request_handler()
        )
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.1)

    @property
    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


def check_version() -> None:
    major, minor = (int(part) for part in moto.__version__.split(".")[:2])
    if (major, minor) != TESTED_MOTO:
        raise RuntimeError(
            f"The lab is tested with moto {TESTED_MOTO[0]}.{TESTED_MOTO[1]}.x but moto "
            f"{moto.__version__} is installed. Reinstall the project (python3 tasks.py lab) "
            "or update helpers/moto_adapter.py for the new moto."
        )


# -- what this module relies on in moto, checked on every install --------------------------
#
# (owner, attribute, parameters): the owner's dotted path, the attribute this module reads,
# calls or replaces, and the names of the parameters it passes or expects, in order (the
# first ones; None when only existence matters). ``self_check`` verifies all of them, so a
# moto upgrade that moves one fails at ``start_lab()`` with a list of what moved instead
# of misbehaving later.
_LAMBDA = "moto.awslambda"
_RESPONSE = f"{_LAMBDA}.responses.LambdaResponse"
_FUNCTION = f"{_LAMBDA}.models.LambdaFunction"
_BACKEND = f"{_LAMBDA}.models.LambdaBackend"
_SERVER = "moto.moto_server.threaded_moto_server.ThreadedMotoServer"
_SQS = "moto.sqs.models"
MOTO_INTERNALS = (
    ("moto.backends", "list_of_moto_modules", ()),
    ("moto", "__version__", None),
    ("moto.moto_server.werkzeug_app", "DomainDispatcherApplication", ("create_app",)),
    ("moto.moto_server.werkzeug_app", "MotoRequestHandler", None),
    ("moto.moto_server.werkzeug_app", "create_backend_app", ("service",)),
    (_SERVER, "__init__", ("self", "ip_address", "port", "verbose")),
    (_SERVER, "_server_entry", ("self",)),
    (_SERVER, "start", ("self",)),
    (_SERVER, "stop", ("self",)),
    (_SERVER, "get_host_and_port", ("self",)),
    (_RESPONSE, "invoke", ("self",)),
    (_RESPONSE, "_enrich_response", ("headers", "body")),
    ("moto.core.responses.BaseResponse", "_enrich_response", ("headers", "body")),
    ("moto.core.responses.BaseResponse", "_get_action", ("self",)),
    (_RESPONSE, "_authenticate_and_authorize_normal_action", ("self", "resource")),
    (_RESPONSE, "create_event_source_mapping", ("self",)),
    (_RESPONSE, "get_event_source_mapping", ("self",)),
    (_RESPONSE, "list_event_source_mappings", ("self",)),
    (_RESPONSE, "update_event_source_mapping", ("self",)),
    (_RESPONSE, "delete_event_source_mapping", ("self",)),
    (_FUNCTION, "__init__", ("self", "account_id", "spec", "region", "version")),
    (_FUNCTION, "invoke", ("self", "body", "request_headers", "response_headers")),
    (_FUNCTION, "_invoke_lambda", ("self", "event")),
    (_FUNCTION, "update_configuration", ("self", "config_updates")),
    (_FUNCTION, "get_configuration", ("self", "on_create")),
    (_BACKEND, "invoke",
     ("self", "function_name", "qualifier", "body", "headers", "response_headers")),
    ("moto.awslambda_simple.models.LambdaSimpleBackend", "invoke",
     ("self", "function_name", "qualifier", "body", "headers", "response_headers")),
    (_BACKEND, "get_function", ("self", "function_name_or_arn", "qualifier")),
    (_BACKEND, "list_functions", ("self",)),
    (_BACKEND, "get_event_source_mapping", ("self", "uuid")),
    (_BACKEND, "put_function_event_invoke_config", ("self", "function_name", "config")),
    (_BACKEND, "update_function_event_invoke_config", ("self", "function_name", "config")),
    (f"{_LAMBDA}.models", "lambda_backends", None),
    (f"{_LAMBDA}.models", "make_function_arn", ("region", "account", "name")),
    (f"{_LAMBDA}.models.EventInvokeConfig", "__init__",
     ("self", "arn", "last_modified", "config")),
    ("moto.logs.responses.LogsResponse", "call_action", ("self",)),
    ("moto.logs.models", "logs_backends", None),
    ("moto.logs.models.LogsBackend", "create_log_group", ("self", "log_group_name", "tags")),
    ("moto.logs.models.LogsBackend", "create_log_stream",
     ("self", "log_group_name", "log_stream_name")),
    ("moto.logs.models.LogsBackend", "put_log_events",
     ("self", "log_group_name", "log_stream_name", "log_events")),
    ("moto.moto_api._internal.models", "moto_api_backend", None),
    ("moto.moto_api._internal.models.moto_api_backend", "reset", ()),
    ("moto.settings", "INITIAL_NO_AUTH_ACTION_COUNT", None),
    ("moto.core.authorization.ActionAuthenticatorMixin", "request_count", None),
    ("moto.core.exceptions", "AccessDeniedError", None),
    ("moto.core.exceptions", "_RESTError", None),
    ("moto.iam.access_control.IAMRequest", "__init__",
     ("self", "account_id", "method", "path", "data", "body", "headers", "action")),
    ("moto.iam.access_control.IAMRequest", "check_signature", ("self",)),
    ("moto.iam.access_control.IAMRequest", "check_action_permitted", ("self", "resource")),
    ("moto.iam.models", "iam_backends", None),
    ("moto.iam.models.IAMBackend", "create_user", ("self", "region_name", "user_name")),
    ("moto.iam.models.IAMBackend", "put_user_policy",
     ("self", "user_name", "policy_name", "policy_json")),
    ("moto.iam.models.IAMBackend", "create_access_key", ("self", "user_name")),
    (f"{_SQS}.SQSBackend", "get_queue", ("self", "queue_name")),
    (f"{_SQS}.SQSBackend", "receive_message", ("self", "queue_name", "count",
     "wait_seconds_timeout", "visibility_timeout", "message_attribute_names")),
    (f"{_SQS}.SQSBackend", "change_message_visibility", ("self", "queue_name")),
    (f"{_SQS}.SQSBackend", "send_message", ("self", "queue_name")),
    (f"{_SQS}.SQSBackend", "send_message_batch", ("self", "queue_name", "entries")),
    (f"{_SQS}.Queue", "delete_message", ("self", "receipt_handle")),
    (f"{_SQS}.Message", "visible", None),
    (f"{_SQS}.Message", "delayed", None),
    (f"{_SQS}.SQSBackend", "is_message_valid_based_on_retention_period",
     ("self", "queue_name", "message")),
    # S3 event notifications and recursive loop detection (notebook 04)
    ("moto.s3.responses.S3Response", "bucket_response", ("self", "request", "full_url")),
    ("moto.s3.responses.S3Response", "key_response", ("self", "request", "full_url")),
    ("moto.s3.notifications", "send_event", ("account_id", "event_name", "bucket", "key")),
    ("moto.s3.notifications", "_invoke_awslambda", None),
    ("moto.s3.notifications", "_get_test_event", ("bucket_name",)),
    ("moto.s3.notifications", "_get_s3_event",
     ("event_name", "bucket", "key", "notification_id")),
    ("moto.s3.notifications", "_send_sns_message",
     ("account_id", "event_body", "topic_arn", "region_name")),
    ("moto.s3.notifications", "_send_event_bridge_message",
     ("account_id", "bucket", "event_name", "key")),
    ("moto.s3.models.S3Backend", "delete_object",
     ("self", "bucket_name", "key_name", "version_id", "bypass")),
    ("moto.s3.models.S3Backend", "complete_multipart_upload", ("self", "bucket_name")),
    ("moto.s3.models.S3Backend", "put_bucket_notification_configuration",
     ("self", "bucket_name", "notification_config")),
    ("moto.s3.models.Notification", "_event_matches", ("self", "event_name")),
    ("moto.awslambda.urls", "url_paths", None),
    # API Gateway (notebook 07)
    ("moto.apigateway.models", "apigateway_backends", None),
    ("moto.apigateway.models.RestAPI", "create_deployment",
     ("self", "name", "description", "stage_variables")),
    ("moto.apigateway.models.RestAPI", "apply_patch_operations", ("self", "patch_operations")),
    ("moto.apigateway.models.Resource", "get_path", ("self",)),
    ("moto.apigateway.models.APIGatewayBackend", "put_integration",
     ("self", "function_id", "resource_id", "method_type", "integration_type", "uri")),
    ("moto.apigateway.models.APIGatewayBackend", "get_rest_api", ("self", "function_id")),
    ("moto.apigateway.responses.APIGatewayResponse", "create_rest_api", ("self",)),
    ("moto.apigateway.exceptions", "BadRequestException", ("message",)),
    ("moto.apigatewayv2.models", "apigatewayv2_backends", None),
    ("moto.apigatewayv2.models.ApiGatewayV2Backend", "create_integration",
     ("self", "api_id")),
    ("moto.apigatewayv2.models.ApiGatewayV2Backend", "update_integration",
     ("self", "api_id")),
    ("moto.apigatewayv2.models.ApiGatewayV2Backend", "get_api", ("self", "api_id")),
    ("moto.apigatewayv2.models.Api", "get_integration", ("self", "integration_id")),
    ("moto.apigatewayv2.exceptions", "BadRequestException", ("message",)),
)
# Attributes of objects moto creates, which this module reads or sets.
FUNCTION_ATTRIBUTES = (
    "account_id", "code_bytes", "code_sha_256", "environment_vars", "event_invoke_config",
    "function_arn", "function_name", "handler", "last_modified", "memory_size", "region",
    "reserved_concurrency", "run_time", "timeout", "version",
)
SERVER_ATTRIBUTES = ("_ip_address", "_server", "_server_ready_event", "_thread")
LOGS_BACKEND_ATTRIBUTES = ("groups",)
QUEUE_ATTRIBUTES = ("_messages_lock", "fifo_queue", "lambda_event_source_mappings",
                    "_pending_messages", "message_retention_period")
MESSAGE_ATTRIBUTES = ("visible_at", "delayed_until", "sent_timestamp", "sequence_number")


def _resolve(dotted: str):
    """The object at ``dotted`` (a module, then attributes); AttributeError if missing."""
    import importlib

    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for part in parts[end:]:
            found = getattr(found, part)
        return found
    raise AttributeError(dotted)


def _parameter_names(target) -> list[str] | None:
    import inspect

    try:
        return list(inspect.signature(target).parameters)
    except (TypeError, ValueError):  # builtins without a signature: nothing to compare
        return None


def _replaced_here(target) -> bool:
    """Whether ``target`` is one of this module's replacements (installed already)."""
    return getattr(getattr(target, "__func__", target), "__module__", None) == __name__


def _missing_attributes(label: str, instance, names) -> list[str]:
    return [f"{label}.{name} (an attribute of a created object): missing"
            for name in names if not hasattr(instance, name)]


def _sample_objects() -> list[str]:
    """Create the moto objects whose attributes this module reads, and check them."""
    import base64
    import io
    import zipfile

    problems = []
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("lambda_function.py", "def lambda_handler(e, c):\n    return 1\n")
    spec = {
        "FunctionName": "lab-self-check", "Runtime": "python3.12",
        "Handler": "lambda_function.lambda_handler",
        "Role": f"arn:aws:iam::{ACCOUNT_ID}:role/lab-self-check",
        "Code": {"ZipFile": base64.b64encode(package.getvalue()).decode()},
    }
    checks = [
        (_FUNCTION, lambda: lambda_models.LambdaFunction(ACCOUNT_ID, spec, "us-east-1"),
         FUNCTION_ATTRIBUTES),
        (_SERVER, lambda: ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False),
         SERVER_ATTRIBUTES),
        ("moto.logs.models.LogsBackend",
         lambda: _resolve("moto.logs.models.logs_backends")[ACCOUNT_ID]["us-east-1"],
         LOGS_BACKEND_ATTRIBUTES),
        (f"{_SQS}.Queue",
         lambda: _resolve(f"{_SQS}.Queue")("lab-self-check", "us-east-1", ACCOUNT_ID),
         QUEUE_ATTRIBUTES),
        (f"{_SQS}.Message", lambda: _resolve(f"{_SQS}.Message")("lab-self-check", "body"),
         MESSAGE_ATTRIBUTES),
    ]
    for label, create, names in checks:
        try:
            instance = create()
        except Exception as exc:  # its constructor moved: say so, and what it raised
            problems.append(f"{label}: could not be created as the lab does ({exc!r})")
        else:
            problems += _missing_attributes(label, instance, names)
    return problems


def _tested_range() -> str:
    """moto's version range as pyproject.toml declares it (from the installed metadata)."""
    from importlib import metadata

    try:
        for requirement in metadata.requires("lambda-invocation-lab") or []:
            if requirement.startswith("moto"):
                return requirement.split(";")[0].strip()
    except metadata.PackageNotFoundError:
        pass
    return f"moto {TESTED_MOTO[0]}.{TESTED_MOTO[1]}.x"


def self_check() -> None:
    """Check that every moto internal this module relies on is there, with its shape.

    Raises RuntimeError naming each one that moved, and what to do about it.
    """
    problems = []
    for owner, name, parameters in MOTO_INTERNALS:
        where = f"{owner}.{name}"
        try:
            target = getattr(_resolve(owner), name)
        except AttributeError:
            problems.append(f"{where}: missing")
            continue
        if parameters is None or _replaced_here(target):
            continue  # a replacement's original was checked before install replaced it
        if not callable(target):
            problems.append(f"{where}: not callable")
            continue
        found = _parameter_names(target)
        if found is not None and found[:len(parameters)] != list(parameters):
            problems.append(f"{where}: parameters ({', '.join(found)}), expected "
                            f"({', '.join(parameters)}, ...)")
    problems += _sample_objects()
    if problems:
        raise RuntimeError(
            f"moto {moto.__version__} no longer has what helpers/moto_adapter.py relies "
            "on:\n  - " + "\n  - ".join(problems) + "\nCheck the installed moto's version "
            f"against pyproject.toml's range ({_tested_range()}) and reinstall the project "
            "(python3 tasks.py lab), or update helpers/moto_adapter.py for the new moto."
        )


_installed = threading.Lock()
_service = None  # the LambdaService answering Invoke, while a lab runs


def install(service) -> None:
    """Route moto's Invoke (and moto's internal invokes) to ``service``; idempotent."""
    global _service
    check_version()
    self_check()
    with _installed:
        _service = service
        if getattr(LambdaResponse.invoke, "_lab", False):
            return
        modules = tuple(moto.backends.list_of_moto_modules())
        moto.backends.list_of_moto_modules = lambda: modules
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        LambdaResponse.invoke = _invoke_response
        LambdaResponse.invoke._lab = True
        LambdaResponse._enrich_response = staticmethod(_enrich_keeping_request_id)
        LambdaResponse._authenticate_and_authorize_normal_action = _authorize_lambda
        backend_class = lambda_models.LambdaBackend
        backend_class.put_function_event_invoke_config = _put_event_invoke_config
        backend_class.update_function_event_invoke_config = _update_event_invoke_config
        function_class = lambda_models.LambdaFunction
        (function_class.__init__, function_class.update_configuration,
         function_class.get_configuration) = _with_dead_letter_config(
            function_class.__init__, function_class.update_configuration,
            function_class.get_configuration)
        lambda_models.LambdaFunction.invoke = _invoke_from_moto
        lambda_models.LambdaFunction._invoke_lambda = _never_docker
        from moto.awslambda_simple.models import LambdaSimpleBackend

        LambdaSimpleBackend.invoke = _invoke_without_canned_response
        from moto.logs.responses import LogsResponse

        moto_call_action = LogsResponse.call_action

        def call_action(response):
            if _service is not None:
                _service.flush_logs()  # reads see every line already written
            return moto_call_action(response)

        LogsResponse.call_action = call_action
        _install_event_source_mappings()
        _install_sqs_fixes()
        _install_api_gateway()
        _install_s3_notifications()


def uninstall(service) -> None:
    global _service
    with _installed:
        if _service is service:
            _service = None


def _require_service():
    if _service is None:
        raise LambdaApiError(503, "ServiceException", "The lab is not running.")
    return _service


def _invoke_response(response: LambdaResponse):
    """Replaces moto's ``LambdaResponse.invoke``: the HTTP side of the Invoke API."""
    service = _require_service()
    function_name = unquote(response.path.rsplit("/", 2)[-2])
    qualifier = response.querystring.get("Qualifier", [None])[0]
    headers = {name.lower(): value for name, value in response.headers.items()}
    status, out_headers, body = service.handle_invoke_api(
        function_name=function_name,
        qualifier=qualifier,
        payload=response.raw_body or b"",
        headers=headers,
        account_id=response.current_account,
        region=response.region,
    )
    out_headers["status"] = status
    return status, out_headers, body


IAM_ACTIONS = {"Invoke": "InvokeFunction"}  # Lambda API operation -> IAM action


def enforce_iam(enabled: bool) -> None:
    """Check every request against IAM (moto's enforcement), or stop checking."""
    from moto import settings

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enabled else float("inf")


def create_admin_credentials(account_id: str = ACCOUNT_ID) -> tuple[str, str]:
    """An IAM user allowed everything, for the lab's own calls while IAM is enforced."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id]["aws"]
    iam.create_user("us-east-1", "lab-admin", path="/")
    iam.put_user_policy("lab-admin", "everything", json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }))
    key = iam.create_access_key("lab-admin")
    return key.access_key_id, key.secret_access_key


def _lambda_resource(response) -> str:
    """The ARN IAM evaluates for Invoke: the function, with its qualifier if given."""
    name = unquote(response.path.rsplit("/", 2)[-2])
    qualifier = response.querystring.get("Qualifier", [None])[0]
    if not name.startswith("arn:"):
        name = make_arn(response.region, response.current_account, name)
    if qualifier and name.count(":") == 6:
        name += f":{qualifier}"
    return name


def make_arn(region: str, account_id: str, name: str) -> str:
    if name.count(":") == 2:  # 123456789012:function:name, a partial ARN
        return f"arn:aws:lambda:{region}:{name}"
    return lambda_models.make_function_arn(region, account_id, name)


def _authorize_lambda(response, resource: str = "*") -> None:
    """moto's IAM check for Lambda, with IAM's action names and AWS's JSON errors."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import AccessDeniedError, _RESTError
    from moto.iam.access_control import IAMRequest

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    action = response._get_action()
    iam_action = IAM_ACTIONS.get(action, action)
    if action == "Invoke":
        resource = _lambda_resource(response)
    path = urlsplit(response.uri).path or response.raw_path
    query = urlsplit(response.uri).query
    if query:
        path += "?" + query
    try:
        request = IAMRequest(
            account_id=response.current_account, method=response.method, path=path,
            data=b"", body=response.raw_body or b"", headers=response.headers,
            action=iam_action,
        )
        request.check_signature()
        request.check_action_permitted(resource)
    except AccessDeniedError as denied:
        user = denied.message.split("User: ", 1)[-1].split(" is not", 1)[0]
        raise LambdaApiError(
            403, "AccessDeniedException",
            f"User: {user} is not authorized to perform: lambda:{iam_action} on resource: "
            f"{resource} because no identity-based policy allows the lambda:{iam_action} "
            "action",
        ) from None
    except _RESTError as error:
        raise LambdaApiError(error.code, error.error_type, error.message) from None


def _enrich_keeping_request_id(headers, body):
    """moto gives every response a new request id; Invoke's must be the function's."""
    ours = headers.get("x-amzn-requestid")
    headers, body = BaseResponse._enrich_response(headers, body)
    if ours:
        headers["x-amzn-requestid"] = ours
    return headers, body


def _invoke_from_moto(fn, body, request_headers, response_headers):
    """Replaces ``LambdaFunction.invoke``, which other moto services call."""
    service = _require_service()
    payload = body.encode() if isinstance(body, str) else (body or b"{}")
    return service.invoke_from_service(
        function_name=fn.function_name,
        qualifier=str(fn.version),
        payload=payload,
        account_id=fn.account_id,
        region=fn.region,
    )


def _invoke_without_canned_response(backend, function_name, qualifier, body, headers,
                                    response_headers):
    """Replaces ``LambdaSimpleBackend.invoke``, which answers other services' invokes with
    "Simple Lambda happy path OK" once moto's config says ``lambda.use_docker: false``."""
    return _backend(backend.account_id, backend.region_name).invoke(
        function_name, qualifier, body, headers, response_headers)


def _never_docker(fn, *args, **kwargs):
    raise RuntimeError("moto's Docker runner is disabled: the lab runs functions itself")


def _backend(account_id: str, region: str):
    return lambda_models.lambda_backends[account_id][region]


def find_function(name_or_arn: str, qualifier: str | None, account_id: str, region: str):
    """The function version that ``name_or_arn`` and ``qualifier`` resolve to.

    Raises moto's ResourceNotFoundException exactly as the Lambda API does.
    """
    backend = _backend(account_id, region)
    fn = backend.get_function(name_or_arn, qualifier)
    latest = backend.get_function(fn.function_name)  # function-level settings live here
    version = str(fn.version)
    return FunctionSpec(
        name=fn.function_name,
        arn=lambda_models.make_function_arn(fn.region, fn.account_id, fn.function_name),
        version=version,
        runtime=fn.run_time or "",
        handler=fn.handler or "",
        code_zip=fn.code_bytes,
        code_sha256=fn.code_sha_256,
        memory_size=int(fn.memory_size),
        timeout=int(fn.timeout),
        environment=dict(fn.environment_vars or {}),
        reserved_concurrency=(
            None if latest.reserved_concurrency is None else int(latest.reserved_concurrency)
        ),
        region=fn.region,
        dead_letter_target=(getattr(fn, "lab_dead_letter_config", None) or {}).get("TargetArn"),
        created=getattr(latest, "lab_created", ""),
    )


EVENT_INVOKE_DEFAULTS = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600}


def event_invoke_config(spec: FunctionSpec, account_id: str) -> dict:
    """The function's asynchronous settings, with AWS's defaults filled in."""
    fn = _backend(account_id, spec.region).get_function(spec.name)
    config = dict(EVENT_INVOKE_DEFAULTS)
    if fn.event_invoke_config:
        config.update(fn.event_invoke_config[0].config)
    config.setdefault("DestinationConfig", {})
    return config


def reserved_concurrency_total(region: str, account_id: str = ACCOUNT_ID) -> int:
    return sum(
        int(fn.reserved_concurrency or 0)
        for fn in _backend(account_id, region).list_functions()
    )


def set_account_concurrency(limit: int) -> None:
    """moto checks PutFunctionConcurrency against this quota (AWS keeps 100 unreserved)."""
    os.environ["MOTO_LAMBDA_CONCURRENCY_QUOTA"] = str(limit)


# -- moto gaps the lab fills -------------------------------------------------------------


def _put_event_invoke_config(backend, function_name, config):
    """PutFunctionEventInvokeConfig replaces the whole configuration, as AWS does."""
    fn = backend.get_function(function_name)
    event_config = lambda_models.EventInvokeConfig(fn.function_arn, fn.last_modified, config)
    fn.event_invoke_config = [event_config]
    return event_config.response()


def _update_event_invoke_config(backend, function_name, config):
    """UpdateFunctionEventInvokeConfig changes only the settings it is given."""
    fn = backend.get_function(function_name)
    merged = dict(fn.event_invoke_config[0].config) if fn.event_invoke_config else {}
    merged.update(config)
    return _put_event_invoke_config(backend, function_name, merged)


def _with_dead_letter_config(original_init, original_update, original_get):
    """moto ignores a function's DeadLetterConfig; the lab stores and returns it."""

    def init(fn, account_id, spec, region, version=1):
        original_init(fn, account_id, spec, region, version)
        fn.lab_dead_letter_config = spec.get("DeadLetterConfig") or None
        fn.lab_created = fn.last_modified  # tells a re-created function from the old one

    def update_configuration(fn, config_updates):
        if "DeadLetterConfig" in config_updates:
            fn.lab_dead_letter_config = config_updates["DeadLetterConfig"] or None
        return original_update(fn, config_updates)

    def get_configuration(fn, on_create=False):
        config = original_get(fn, on_create)
        if getattr(fn, "lab_dead_letter_config", None):
            config["DeadLetterConfig"] = fn.lab_dead_letter_config
        return config

    return init, update_configuration, get_configuration


_LOGS_LOCK = threading.Lock()  # moto's logs backend is not thread-safe


def write_log_events(
    group: str, stream: str, events: list[tuple[int, str]], account_id: str, region: str
) -> None:
    """Append ``(timestamp_ms, message)`` events to a CloudWatch Logs stream in moto."""
    from moto.logs.models import logs_backends

    backend = logs_backends[account_id][region]
    with _LOGS_LOCK:
        if group not in backend.groups:
            backend.create_log_group(group, tags={})
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        backend.put_log_events(
            group, stream, [{"timestamp": ts, "message": message} for ts, message in events]
        )


def reset_state() -> None:
    """Forget every resource (a new lab starts with an empty cloud)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


# -- Event source mappings and SQS ---------------------------------------------------------
#
# What: the Lambda API's event source mapping operations (Create, Get, List, Update,
# Delete) are answered by the lab's ``service.event_source_mappings`` for the sources the
# lab polls itself (SQS queues); moto answers for every other source, as before.
# Why: moto's SQS backend invokes the function inside SendMessage, one message per
# invoke, ignoring batch sizes, batching windows and partial batch responses. The lab's
# poller (helpers/sqs_poller.py) reads the queue through the SQS API, as Lambda does.
#
# What: moto's SQS queues never hold event source mappings, so moto's own trigger can
# never fire. Why: the lab's poller would otherwise compete with it for the messages.
#
# What: receiving, deleting, changing visibility and sending a batch hold the queue's
# own lock. Why: moto's DeleteMessage replaces the queue's message list while SendMessage
# may be appending to the old one, so a message sent during a delete could vanish; two
# receives at once could also hand out the same message. Pollers make both common. A
# SendMessageBatch request then reaches receivers whole, as one request.
#
# What: ReceiveMessage long-polls by looking again every 0.1 s, each look a fresh
# non-waiting receive that first forgets messages whose visibility timeout ended.
# Why: moto keeps such a message marked in flight until a receive reaches it, and a FIFO
# queue then skips the earlier message of a group and delivers a later one: out of
# order. moto's own long poll also notices a message whose visibility timeout ended only
# a second later.
#
# What: whether a message is visible, or still delayed, is read from time.time().
# Why: moto computes the time with datetime arithmetic, twice for every message of the
# queue at every receive and every count of GetQueueAttributes: on a queue of 1,000
# messages, most of each request's time.
#
# What: a received message's retention is checked against the queue's retention period
# alone. Why: moto computes every attribute of the queue (each a scan of all its
# messages) for every message it returns: ReceiveMessage on a queue of 1,000 messages
# took about a second.
#
# What: every message sent to a FIFO queue gets a SequenceNumber, increasing in send
# order. Why: moto numbers only messages sent with an explicit MessageDeduplicationId,
# and Lambda's event for a FIFO message always carries one.

ESM_OPERATIONS = (
    "create_event_source_mapping", "get_event_source_mapping", "list_event_source_mappings",
    "update_event_source_mapping", "delete_event_source_mapping",
)
_NOT_FOUND = "The resource you requested does not exist."


def _esm_uuid(response) -> str:
    return unquote(response.path.rstrip("/").rsplit("/", 1)[-1])


def _install_event_source_mappings() -> None:
    moto_answer = {name: getattr(LambdaResponse, name) for name in ESM_OPERATIONS}

    def moto_knows(response, uuid: str) -> bool:
        return _backend(response.current_account, response.region).get_event_source_mapping(
            uuid) is not None

    def create(response):
        mappings = _require_service().event_source_mappings
        body = response.json_body
        if not mappings.handles(body.get("EventSourceArn")):
            return moto_answer["create_event_source_mapping"](response)
        config = mappings.create(body, response.current_account, response.region)
        return 202, {"status": 202}, json.dumps(config)

    def by_uuid(operation, lab_call, status):
        def answer(response):
            mappings = _require_service().event_source_mappings
            uuid = _esm_uuid(response)
            if mappings.knows(uuid):
                return status, {"status": status}, json.dumps(lab_call(mappings, uuid, response))
            if moto_knows(response, uuid):
                return moto_answer[operation](response)
            raise LambdaApiError(404, "ResourceNotFoundException", _NOT_FOUND)

        return answer

    def listing(response):
        mappings = _require_service().event_source_mappings
        source = response.querystring.get("EventSourceArn", [None])[0]
        function = response.querystring.get("FunctionName", [None])[0]
        ours = mappings.list(source, function, response.current_account, response.region)
        theirs = json.loads(moto_answer["list_event_source_mappings"](response))
        return json.dumps({"EventSourceMappings": ours + theirs["EventSourceMappings"]})

    LambdaResponse.create_event_source_mapping = create
    LambdaResponse.get_event_source_mapping = by_uuid(
        "get_event_source_mapping", lambda m, uuid, r: m.get(uuid), 200)
    LambdaResponse.update_event_source_mapping = by_uuid(
        "update_event_source_mapping", lambda m, uuid, r: m.update(uuid, r.json_body), 202)
    LambdaResponse.delete_event_source_mapping = by_uuid(
        "delete_event_source_mapping", lambda m, uuid, r: m.delete(uuid), 202)
    LambdaResponse.list_event_source_mappings = listing


def _install_sqs_fixes() -> None:
    import itertools
    import time

    from moto.sqs import models as sqs_models

    sqs_models.Queue.lambda_event_source_mappings = property(
        lambda queue: {}, lambda queue, value: None)

    def locked(method, queue_of):
        def call(owner, *args, **kwargs):
            # Condition() wraps an RLock: a long poll's wait inside still releases it.
            with queue_of(owner, *args, **kwargs)._messages_lock:
                return method(owner, *args, **kwargs)

        return call

    def queue_by_name(backend, *args, **kwargs):
        return backend.get_queue(args[0] if args else kwargs["queue_name"])

    backend_class = sqs_models.SQSBackend
    moto_receive = backend_class.receive_message

    def receive_message(backend, queue_name, count, wait_seconds_timeout, visibility_timeout,
                        message_attribute_names=None):
        queue = backend.get_queue(queue_name)
        deadline = time.monotonic() + float(wait_seconds_timeout or 0)
        with queue._messages_lock:
            while True:
                queue._pending_messages.difference_update(
                    [message for message in queue._pending_messages if message.visible])
                messages = moto_receive(backend, queue_name, count, 0, visibility_timeout,
                                        message_attribute_names)
                left = deadline - time.monotonic()
                if messages or left <= 0:
                    return messages
                queue._messages_lock.wait(min(left, 0.1))  # SendMessage notifies

    backend_class.receive_message = receive_message
    backend_class.change_message_visibility = locked(
        backend_class.change_message_visibility, queue_by_name)
    backend_class.send_message_batch = locked(backend_class.send_message_batch, queue_by_name)
    sqs_models.Queue.delete_message = locked(
        sqs_models.Queue.delete_message, lambda queue, *args, **kwargs: queue)

    def retained(backend, queue_name, message):
        from moto.core.utils import unix_time

        retention = float(backend.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    backend_class.is_message_valid_based_on_retention_period = retained
    sqs_models.Message.visible = property(  # moto's times are epoch milliseconds
        lambda message: time.time() * 1000 > message.visible_at)
    sqs_models.Message.delayed = property(
        lambda message: time.time() * 1000 < message.delayed_until)
    sequence = itertools.count(1)
    moto_send = backend_class.send_message

    def send_message(backend, queue_name, *args, **kwargs):
        message = moto_send(backend, queue_name, *args, **kwargs)
        if backend.get_queue(queue_name).fifo_queue:
            message.sequence_number = str(10**19 + next(sequence))
        return message

    backend_class.send_message = send_message


# -- API Gateway (notebook 07) -------------------------------------------------------------
#
# moto keeps REST APIs (apigateway) and HTTP APIs (apigatewayv2) but never serves them.
# The lab's front door (helpers/api_gateway.py) reads them through the functions below,
# which return plain dataclasses. What the lab changes in moto, and why:
#
# What: create_deployment freezes the API's resources, methods and integrations in the
# deployment. Why: in AWS a deployment is a snapshot, and a stage serves its deployment
# until the next one; moto keeps no snapshot, so later edits would go live at once.
# Deploying again to an existing stage moves that stage to the new deployment and keeps
# its variables and settings (moto would replace the stage and drop them).
#
# What: put_integration refuses a timeoutInMillis outside 50-29000 ms, and HTTP API
# integrations one outside 50-30000 ms or a Lambda proxy integration without its
# payloadFormatVersion. Why: AWS validates these; moto stores any value.
#
# What: create_rest_api keeps binaryMediaTypes, and update_rest_api understands AWS's
# patch paths for them ("/binaryMediaTypes/image~1png"). Why: moto drops the first and
# misreads the second, and the lab needs the list to decide what is binary.

REST_TIMEOUT_MS = (50, 29000)
HTTP_TIMEOUT_MS = (50, 30000)


@dataclass(frozen=True)
class RestMethodSpec:
    """One method of a deployed REST API resource, with its integration."""

    http_method: str
    authorization_type: str | None
    integration_type: str | None
    uri: str | None
    timeout_ms: int
    credentials: str | None


@dataclass(frozen=True)
class RestResourceSpec:
    resource_id: str
    path: str  # the template, e.g. /items/{id}
    methods: dict  # HTTP method (or ANY) -> RestMethodSpec


@dataclass(frozen=True)
class RestStageSpec:
    """A REST API stage as it serves requests: its deployment's snapshot and variables."""

    api_id: str
    name: str
    deployment_id: str
    variables: dict
    resources: tuple  # RestResourceSpec, as deployed
    binary_media_types: tuple
    region: str
    account_id: str


@dataclass(frozen=True)
class HttpIntegrationSpec:
    integration_id: str
    integration_type: str
    uri: str | None
    payload_format_version: str
    timeout_ms: int
    credentials: str | None


@dataclass(frozen=True)
class HttpRouteSpec:
    route_key: str  # "GET /items/{id}" or "$default"
    integration: HttpIntegrationSpec | None


@dataclass(frozen=True)
class HttpStageSpec:
    api_id: str
    name: str
    variables: dict
    routes: tuple  # HttpRouteSpec
    region: str
    account_id: str


def _rest_backend(account_id: str, region: str):
    from moto.apigateway.models import apigateway_backends

    return apigateway_backends[account_id][region]


def _http_backend(account_id: str, region: str):
    from moto.apigatewayv2.models import apigatewayv2_backends

    return apigatewayv2_backends[account_id][region]


def _snapshot_rest_api(api) -> tuple:
    resources = []
    for resource in list(api.resources.values()):
        methods = {}
        for verb, method in list(resource.resource_methods.items()):
            integration = method.method_integration
            methods[verb] = RestMethodSpec(
                http_method=verb,
                authorization_type=method.authorization_type,
                integration_type=integration.integration_type if integration else None,
                uri=integration.uri if integration else None,
                timeout_ms=int(integration.timeout_in_millis or REST_TIMEOUT_MS[1])
                if integration else REST_TIMEOUT_MS[1],
                credentials=integration.credentials if integration else None,
            )
        resources.append(RestResourceSpec(resource.id, resource.get_path(), methods))
    return tuple(resources), tuple(api.binaryMediaTypes or ())


def api_kind(api_id: str, account_id: str, region: str) -> str | None:
    """"REST", "HTTP" or "WEBSOCKET" for an API id, or None if there is no such API."""
    if api_id in _rest_backend(account_id, region).apis:
        return "REST"
    api = _http_backend(account_id, region).apis.get(api_id)
    return api.protocol_type if api is not None else None


def rest_stage_names(api_id: str, account_id: str, region: str) -> list[str]:
    api = _rest_backend(account_id, region).apis.get(api_id)
    return sorted(api.stages) if api is not None else []


def http_stage_names(api_id: str, account_id: str, region: str) -> list[str]:
    api = _http_backend(account_id, region).apis.get(api_id)
    return sorted(api.stages) if api is not None else []


def find_rest_stage(api_id: str, stage_name: str, account_id: str,
                    region: str) -> RestStageSpec | None:
    """The stage's deployed snapshot, or None if the API, stage or deployment is missing."""
    api = _rest_backend(account_id, region).apis.get(api_id)
    stage = api.stages.get(stage_name) if api is not None else None
    deployment = api.deployments.get(stage.deployment_id) if stage is not None else None
    if deployment is None:
        return None
    snapshot = getattr(deployment, "lab_snapshot", None) or _snapshot_rest_api(api)
    return RestStageSpec(
        api_id=api_id, name=stage_name, deployment_id=deployment.id,
        variables=dict(stage.variables or {}), resources=snapshot[0],
        binary_media_types=snapshot[1], region=region, account_id=account_id,
    )


def find_http_stage(api_id: str, stage_name: str, account_id: str,
                    region: str) -> HttpStageSpec | None:
    """An HTTP API stage with the API's current routes, or None if either is missing."""
    api = _http_backend(account_id, region).apis.get(api_id)
    if api is None or api.protocol_type != "HTTP" or stage_name not in api.stages:
        return None
    stage = api.stages[stage_name]
    integrations = {}
    for integration in list(api.integrations.values()):
        integrations[integration.id] = HttpIntegrationSpec(
            integration_id=integration.id,
            integration_type=integration.integration_type,
            uri=integration.integration_uri,
            payload_format_version=integration.payload_format_version or "1.0",
            timeout_ms=int(integration.timeout_in_millis or HTTP_TIMEOUT_MS[1]),
            credentials=integration.credentials_arn,
        )
    routes = []
    for route in list(api.routes.values()):
        target = route.target or ""
        integration_id = target.split("/", 1)[1] if target.startswith("integrations/") else None
        routes.append(HttpRouteSpec(route.route_key, integrations.get(integration_id)))
    return HttpStageSpec(
        api_id=api_id, name=stage_name, variables=dict(stage.stage_variables or {}),
        routes=tuple(routes), region=region, account_id=account_id,
    )


def function_policy_statements(name: str, qualifier: str | None, account_id: str,
                               region: str) -> list[dict]:
    """The statements of a function's resource-based policy (none: an empty list)."""
    try:
        fn = _backend(account_id, region).get_function(name, qualifier)
        return [dict(statement) for statement in fn.policy.statements]
    except Exception:  # no such function, or no policy
        return []


def _check_rest_timeout(timeout_in_millis) -> None:
    from moto.apigateway.exceptions import BadRequestException

    if timeout_in_millis is None:
        return
    low, high = REST_TIMEOUT_MS
    if not isinstance(timeout_in_millis, int) or not low <= timeout_in_millis <= high:
        raise BadRequestException(f"Timeout should be between {low} ms and {high} ms")


def _check_http_integration(kwargs: dict, api) -> None:
    from moto.apigatewayv2.exceptions import BadRequestException

    timeout = kwargs.get("timeout_in_millis")
    low, high = HTTP_TIMEOUT_MS
    if timeout is not None and (not isinstance(timeout, int) or not low <= timeout <= high):
        raise BadRequestException(f"TimeoutInMillis must be between {low} and {high} "
                                  "milliseconds for an HTTP API.")
    version = kwargs.get("payload_format_version")
    if version is not None and version not in ("1.0", "2.0"):
        raise BadRequestException("PayloadFormatVersion must be 1.0 or 2.0.")
    if (api.protocol_type == "HTTP" and kwargs.get("integration_type") == "AWS_PROXY"
            and version is None):
        raise BadRequestException("PayloadFormatVersion is required for an HTTP API's "
                                  "AWS_PROXY integration: use 1.0 or 2.0.")


def _install_api_gateway() -> None:
    from moto.apigateway import models as rest_models
    from moto.apigateway.responses import APIGatewayResponse
    from moto.apigatewayv2 import models as http_models

    if getattr(rest_models.RestAPI.create_deployment, "_lab", False):
        return
    moto_create_deployment = rest_models.RestAPI.create_deployment

    def create_deployment(api, name, description, stage_variables=None):
        existing = api.stages.get(name) if name else None
        deployment = moto_create_deployment(api, name, description, stage_variables)
        deployment.lab_snapshot = _snapshot_rest_api(api)
        if existing is not None:  # moto replaces the stage; AWS moves it to the deployment
            existing.deployment_id = deployment.id
            existing.variables = {**(existing.variables or {}), **(stage_variables or {})}
            api.stages[name] = existing
        return deployment

    create_deployment._lab = True
    rest_models.RestAPI.create_deployment = create_deployment

    moto_put_integration = rest_models.APIGatewayBackend.put_integration

    def put_integration(backend, *args, **kwargs):
        _check_rest_timeout(kwargs.get("timeout_in_millis"))
        return moto_put_integration(backend, *args, **kwargs)

    rest_models.APIGatewayBackend.put_integration = put_integration

    moto_create_rest_api = APIGatewayResponse.create_rest_api

    def create_rest_api(response):
        status, headers, body = moto_create_rest_api(response)
        media = response._get_param("binaryMediaTypes")
        if media and status == 200:
            api = response.backend.get_rest_api(json.loads(body)["id"])
            api.binaryMediaTypes = list(media)
            body = json.dumps(api.to_dict())
        return status, headers, body

    APIGatewayResponse.create_rest_api = create_rest_api

    moto_patch = rest_models.RestAPI.apply_patch_operations

    def apply_patch_operations(api, operations):
        rest = []
        for op in operations:
            path = op.get("path", "")
            if path.startswith("/binaryMediaTypes/") and op.get("op") in ("add", "remove"):
                media = path.split("/", 2)[2].replace("~1", "/").replace("~0", "~")
                if op["op"] == "add" and media not in api.binaryMediaTypes:
                    api.binaryMediaTypes.append(media)
                elif op["op"] == "remove" and media in api.binaryMediaTypes:
                    api.binaryMediaTypes.remove(media)
            else:
                rest.append(op)
        return moto_patch(api, rest)

    rest_models.RestAPI.apply_patch_operations = apply_patch_operations

    http_backend = http_models.ApiGatewayV2Backend
    moto_create_integration = http_backend.create_integration
    moto_update_integration = http_backend.update_integration

    def create_integration(backend, **kwargs):
        _check_http_integration(kwargs, backend.get_api(kwargs["api_id"]))
        return moto_create_integration(backend, **kwargs)

    def update_integration(backend, **kwargs):
        api = backend.get_api(kwargs["api_id"])
        current = api.get_integration(kwargs["integration_id"])
        merged = {"integration_type": current.integration_type,
                  "payload_format_version": current.payload_format_version}
        merged.update({key: value for key, value in kwargs.items() if value is not None})
        _check_http_integration(merged, api)
        return moto_update_integration(backend, **kwargs)

    http_backend.create_integration = create_integration
    http_backend.update_integration = update_integration


# -- S3 event notifications and recursive loop detection (notebook 04) --------------------
#
# What: every S3 request runs with a small per-thread context (``_S3Request``): its
# request ids, the caller's ``X-Amzn-Trace-Id`` and the changes it made. S3 responses
# carry S3's own ``x-amz-request-id`` and ``x-amz-id-2`` headers instead of moto's
# ``x-amzn-requestid``. Why: the event's ``responseElements`` hold the ids the request
# answered with, and a function's writes carry the trace header that recursion
# detection follows.
#
# What: moto's ``notifications.send_event`` is replaced: Lambda and SQS destinations
# get the lab's event (helpers/s3_events.py), built once the response is ready, and a
# Lambda function is invoked through the lab's asynchronous queue; moto's own
# ``_invoke_awslambda`` is disabled. Why: moto builds an incomplete event and runs the
# function synchronously inside the S3 request, without retries or destinations.
#
# What: DeleteObject on a versioned bucket produces ``ObjectRemoved:DeleteMarkerCreated``
# (or ``ObjectRemoved:Delete`` for a given version, every time); CompleteMultipartUpload
# produces only ``ObjectCreated:CompleteMultipartUpload``. Why: moto sends no event for
# delete markers, one only when the last version goes, and an extra ``Put`` for uploads.
#
# What: PutBucketNotificationConfiguration is validated as S3 validates it: each
# function must exist and allow ``s3.amazonaws.com`` to invoke it (matching SourceArn
# and SourceAccount), unless ``x-amz-skip-destination-validation`` is set; overlapping
# configurations for one event type are rejected; filters match the URL-encoded key.
# The ``s3:TestEvent`` sent to queues carries the request's ids. Why: moto accepts any
# configuration and matches filters on the raw key.
#
# What: Get/PutFunctionRecursionConfig are answered (stored on moto's function).
# Why: moto 5.2 does not know these operations.

RECURSION_CONFIG_PATH = (
    r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/recursion-config/?$"
)
OVERLAP_MESSAGE = ("Configurations overlap. Configurations on the same bucket cannot share "
                   "a common event type.")
DESTINATION_MESSAGE = "Unable to validate the following destination configurations"
_s3_local = threading.local()


class S3XmlError(Exception):
    """An S3 error the lab answers itself, in S3's XML shape (``ArgumentName1``...)."""

    def __init__(self, code: str, message: str, arguments=(), status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.arguments = list(arguments)  # [(ArgumentName, ArgumentValue), ...]

    def xml(self, request_id: str, host_id: str) -> bytes:
        from xml.sax.saxutils import escape

        parts = [f"<Code>{escape(self.code)}</Code>", f"<Message>{escape(self.message)}</Message>"]
        for index, (name, value) in enumerate(self.arguments, 1):  # S3 numbers them
            parts.append(f"<ArgumentName{index}>{escape(name)}</ArgumentName{index}>")
            parts.append(f"<ArgumentValue{index}>{escape(value)}</ArgumentValue{index}>")
        parts += [f"<RequestId>{request_id}</RequestId>", f"<HostId>{host_id}</HostId>"]
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts)
                + "</Error>").encode()


class _S3Request:
    """What the lab keeps about the S3 request this thread is handling."""

    def __init__(self, request):
        from ..push import s3 as s3_events

        headers = request.headers
        self.info = s3_events.S3RequestInfo(
            source_ip=getattr(request, "remote_addr", None) or "127.0.0.1",
            trace_header=headers.get("X-Amzn-Trace-Id"),
            operation=f"{request.method} {getattr(request, 'path', '')}",
        )
        self.authorization = headers.get("Authorization", "")
        self.skip_destination_validation = (
            headers.get("x-amz-skip-destination-validation", "").lower() == "true")
        self.captured = []  # [(ObjectChange, [Destination])]
        self.only_events = None  # a set: other events are not S3's for this operation


def _current_s3_request():
    return getattr(_s3_local, "request", None)


def _s3_principal(authorization: str) -> str:
    from ..push import s3 as s3_events

    access_key = None
    if "Credential=" in authorization:
        access_key = authorization.split("Credential=", 1)[1].split("/", 1)[0]
    user_id = None
    if access_key:
        try:
            from moto.iam.models import iam_backends

            for user in iam_backends[ACCOUNT_ID]["aws"].users.values():
                if any(key.access_key_id == access_key for key in user.access_keys):
                    user_id = user.id
                    break
        except Exception:  # no IAM user with that key: a derived id
            user_id = None
    return s3_events.principal_id(access_key, user_id)


def _with_s3_request(handler):
    """Wrap ``S3Response.bucket_response`` / ``key_response`` (see the section comment)."""

    def handle(response, request, *args, **kwargs):
        if _current_s3_request() is not None:  # nested: the outer call does the work
            return handler(response, request, *args, **kwargs)
        context = _S3Request(request)
        _s3_local.request = context
        try:
            try:
                result = handler(response, request, *args, **kwargs)
            except S3XmlError as error:
                result = (error.status, {"content-type": "application/xml"},
                          error.xml(context.info.request_id, context.info.host_id))
        finally:
            _s3_local.request = None
        if not (isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], dict)):
            return result
        status, out_headers, body = result
        out_headers = {name: value for name, value in out_headers.items()
                       if name.lower() != "x-amzn-requestid"}
        out_headers["x-amz-request-id"] = context.info.request_id
        out_headers["x-amz-id-2"] = context.info.host_id
        if int(status) >= 400 and isinstance(body, bytes) and body.lstrip().startswith(b"<"):
            import re  # error bodies name the request too: the same ids as the headers

            body = re.sub(rb"(?<=<RequestId>)[^<]*(?=</RequestId>)",
                          context.info.request_id.encode(), body)
            body = re.sub(rb"(?<=<HostId>)[^<]*(?=</HostId>)", context.info.host_id.encode(),
                          body)
        if int(status) < 300 and context.captured:
            from ..push import s3 as s3_events

            context.info.principal_id = _s3_principal(context.authorization)
            s3_events.deliver(_service, context.captured, context.info, _send_to_queue)
        return status, out_headers, body

    handle._lab = True
    return handle


def _send_to_queue(account_id, body, queue_name, region):
    from moto.sqs.models import sqs_backends

    sqs_backends[account_id][region].send_message(queue_name=queue_name, message_body=body)


def _s3_send_event(account_id, event_name, bucket, key) -> None:
    """Replaces ``moto.s3.notifications.send_event`` (moto calls it after each change)."""
    if getattr(_s3_local, "muted", 0):
        return
    context = _current_s3_request()
    if context is not None and context.only_events is not None:
        if event_name not in context.only_events:
            return
    removal = "ObjectRemoved" in event_name
    event_name = getattr(event_name, "value", event_name)  # moto passes an Enum member
    _capture(account_id, event_name, bucket, key, key.name,
             version_id=key.version_id if bucket.is_versioned else None,
             size=None if removal else key.size,
             etag=None if removal else key.etag.strip('"'))


def _capture(account_id, event_name, bucket, key, key_name, version_id, size, etag):
    from moto.s3 import notifications

    from ..push import s3 as s3_events

    config = bucket.notification_configuration
    if config is None:
        return
    change = s3_events.ObjectChange(
        event_name=event_name, bucket=bucket.name, region=bucket.region_name,
        account_id=account_id, key=key_name, size=size, etag=etag,
        version_id=None if version_id is None else str(version_id),
        sequencer=s3_events.next_sequencer())
    destinations = [
        s3_events.Destination(kind, item.arn, item.id)
        for kind, items in (("lambda", config.cloud_function), ("sqs", config.queue))
        for item in items if _notification_matches(item, event_name, key_name)
    ]
    for topic in config.topic:  # SNS: moto's own delivery
        if _notification_matches(topic, event_name, key_name) and key is not None:
            try:
                body = notifications._get_s3_event(event_name, bucket, key, topic.id)
                notifications._send_sns_message(account_id, body, topic.arn,
                                                 topic.arn.split(":")[3])
            except Exception:  # asynchronous in AWS: never fails the S3 request
                pass
    if config.event_bridge is not None and key is not None:
        notifications._send_event_bridge_message(account_id, bucket, event_name, key)
    if not destinations:
        return
    context = _current_s3_request()
    if context is not None:
        context.captured.append((change, destinations))
    else:  # a change made outside any S3 request (moto internals)
        s3_events.deliver(_service, [(change, destinations)], s3_events.S3RequestInfo(),
                          _send_to_queue)


def _filter_rules(notification) -> dict:
    rules = (notification.filters or {}).get("S3Key", {}).get("FilterRule", [])
    if isinstance(rules, dict):
        rules = [rules]
    return {rule["Name"].lower(): rule["Value"] for rule in rules}


def _notification_matches(notification, event_name: str, key_name: str) -> bool:
    """Event type, then prefix and suffix against the key as S3 encodes it."""
    from ..push import s3 as s3_events

    if not notification._event_matches(event_name):
        return False
    rules = _filter_rules(notification)
    encoded = s3_events.encode_key(key_name)
    return encoded.startswith(rules.get("prefix", "")) and encoded.endswith(
        rules.get("suffix", ""))


class _Muted:
    """Within it, moto's own send_event calls are ignored (the caller sends its own)."""

    def __enter__(self):
        _s3_local.muted = getattr(_s3_local, "muted", 0) + 1

    def __exit__(self, *exc):
        _s3_local.muted -= 1


def _s3_delete_object(moto_delete):
    def delete_object(backend, bucket_name, key_name, version_id=None, bypass=False):
        bucket = backend.get_bucket(bucket_name)
        versions = list(bucket.keys.getlist(key_name, []))
        current = versions[-1] if versions else None
        target = None
        if version_id is not None:
            target = next((k for k in versions if str(k.version_id) == str(version_id)), None)
        with _Muted():
            success, meta = moto_delete(backend, bucket_name, key_name, version_id=version_id,
                                        bypass=bypass)
        if not success:
            return success, meta
        source = target if target is not None else current
        real_key = getattr(source, "key", source)  # a delete marker points at its object
        while hasattr(real_key, "key"):
            real_key = real_key.key
        if version_id is None and bucket.is_versioned:
            event, version = "s3:ObjectRemoved:DeleteMarkerCreated", meta.get("version-id")
        elif version_id is not None:
            if target is None:
                return success, meta
            event, version = "s3:ObjectRemoved:Delete", version_id
        else:
            event, version = "s3:ObjectRemoved:Delete", None
        _capture(backend.account_id, event, bucket, real_key, key_name, version_id=version,
                 size=None, etag=None)
        return success, meta

    return delete_object


def _s3_only(moto_method, *events):
    def call(backend, *args, **kwargs):
        context = _current_s3_request()
        if context is None:
            return moto_method(backend, *args, **kwargs)
        saved, context.only_events = context.only_events, set(events)
        try:
            return moto_method(backend, *args, **kwargs)
        finally:
            context.only_events = saved

    return call


def _s3_test_event(bucket_name):
    """Replaces moto's ``_get_test_event``: with the request's RequestId and HostId."""
    from ..push import s3 as s3_events

    context = _current_s3_request()
    return s3_events.test_event(bucket_name, context.info if context else None)


# -- validation of PutBucketNotificationConfiguration --------------------------------------


def _event_types_overlap(first: list, second: list) -> bool:
    def covers(a, b):
        return a == b or (a.endswith(":*") and b.startswith(a[:-1]))

    return any(covers(a, b) or covers(b, a) for a in first for b in second)


def _filters_overlap(first: dict, second: dict) -> bool:
    p1, p2 = first.get("prefix", ""), second.get("prefix", "")
    s1, s2 = first.get("suffix", ""), second.get("suffix", "")
    prefixes = p1.startswith(p2) or p2.startswith(p1)
    suffixes = s1.endswith(s2) or s2.endswith(s1)
    return prefixes and suffixes


def _configured(notification_config: dict) -> list[tuple[str, str, list, dict]]:
    """(kind, arn, events, filter rules) for every configuration in the request."""
    result = []
    for kind, field_name in (("sns", "Topic"), ("sqs", "Queue"), ("lambda", "CloudFunction")):
        for item in notification_config.get(f"{field_name}Configuration") or []:
            rules = (item.get("Filter") or {}).get("S3Key", {}) or {}
            rules = rules.get("FilterRule", []) if isinstance(rules, dict) else []
            if isinstance(rules, dict):
                rules = [rules]
            names = [rule.get("Name", "").lower() for rule in rules]
            for name in ("prefix", "suffix"):
                if names.count(name) > 1:
                    raise S3XmlError("InvalidArgument",
                                     f"Cannot specify more than one {name} rule in a filter.")
            result.append((kind, item[field_name], list(item["Event"]),
                           {rule.get("Name", "").lower(): rule.get("Value", "")
                            for rule in rules}))
    return result


def _s3_may_invoke(function_arn: str, bucket_name: str, bucket_account: str) -> bool:
    """Does the function exist, and does its policy let S3 (this bucket) invoke it?"""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        return False
    account, region, name = parts[4], parts[3], parts[6]
    qualifier = parts[7] if len(parts) > 7 else None
    try:
        _backend(account, region).get_function(name, qualifier)
    except Exception:
        return False
    bucket_arn = f"arn:aws:s3:::{bucket_name}"
    for statement in function_policy_statements(name, qualifier, account, region):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
            continue
        principal = statement.get("Principal")
        services = principal.get("Service", principal.get("AWS")) if isinstance(
            principal, dict) else principal
        services = [services] if isinstance(services, str) else (services or [])
        if not any(s in ("s3.amazonaws.com", "*") for s in services):
            continue
        if _conditions_hold(statement.get("Condition") or {}, bucket_arn, bucket_account):
            return True
    return False


def _conditions_hold(conditions: dict, bucket_arn: str, bucket_account: str) -> bool:
    from fnmatch import fnmatchcase

    context = {"aws:sourcearn": bucket_arn, "aws:sourceaccount": bucket_account}
    for operator, entries in conditions.items():
        for key, expected in entries.items():
            actual = context.get(key.lower())
            if actual is None:
                continue  # a condition S3's check does not evaluate
            values = [expected] if isinstance(expected, str) else list(expected)
            if operator in ("ArnLike", "StringLike"):
                ok = any(fnmatchcase(actual, value) for value in values)
            elif operator in ("ArnEquals", "StringEquals"):
                ok = actual in values
            else:
                ok = False
            if not ok:
                return False
    return True


def _validated_notification_config(moto_put):
    def put_bucket_notification_configuration(backend, bucket_name, notification_config):
        backend.get_bucket(bucket_name)  # NoSuchBucket first
        configured = _configured(notification_config or {})
        for index, (_, _, events, rules) in enumerate(configured):
            for _, _, other_events, other_rules in configured[index + 1:]:
                if _event_types_overlap(events, other_events) and _filters_overlap(
                        rules, other_rules):
                    raise S3XmlError("InvalidArgument", OVERLAP_MESSAGE)
        context = _current_s3_request()
        if context is None or not context.skip_destination_validation:
            failing = [arn for kind, arn, _, _ in configured if kind == "lambda"
                       and not _s3_may_invoke(arn, bucket_name, backend.account_id)]
            if failing:
                raise S3XmlError("InvalidArgument", DESTINATION_MESSAGE, [
                    (f"{arn}, null", f"Not authorized to invoke function [{arn}]")
                    for arn in failing])
        return moto_put(backend, bucket_name, notification_config)

    return put_bucket_notification_configuration


# -- Get/PutFunctionRecursionConfig --------------------------------------------------------


def _recursion_config_response(response):
    from ..lambda_ import recursion

    name = unquote(response.path.rstrip("/").rsplit("/", 2)[-2])
    fn = _backend(response.current_account, response.region).get_function(name)
    if response.method == "PUT":
        mode = (response.json_body or {}).get("RecursiveLoop")
        if mode not in recursion.RECURSIVE_LOOP_MODES:
            raise LambdaApiError(
                400, "ValidationException",
                f"1 validation error detected: Value '{mode}' at 'recursiveLoop' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Allow, Terminate]")
        fn.lab_recursive_loop = mode
    mode = getattr(fn, "lab_recursive_loop", recursion.DEFAULT_RECURSIVE_LOOP)
    return 200, {"status": 200, "content-type": "application/json"}, json.dumps(
        {"RecursiveLoop": mode})


def recursive_loop(spec: FunctionSpec, account_id: str) -> str:
    """The function's recursion setting: "Terminate" (AWS's default) or "Allow"."""
    from ..lambda_ import recursion

    try:
        fn = _backend(account_id, spec.region).get_function(spec.name)
    except Exception:
        return recursion.DEFAULT_RECURSIVE_LOOP
    return getattr(fn, "lab_recursive_loop", recursion.DEFAULT_RECURSIVE_LOOP)


def _install_s3_notifications() -> None:
    from moto.awslambda import urls as lambda_urls
    from moto.s3 import models as s3_models
    from moto.s3 import notifications
    from moto.s3.responses import S3Response

    if getattr(S3Response.key_response, "_lab", False):
        return
    S3Response.bucket_response = _with_s3_request(S3Response.bucket_response)
    S3Response.key_response = _with_s3_request(S3Response.key_response)
    notifications.send_event = _s3_send_event
    notifications._invoke_awslambda = lambda *args, **kwargs: None  # the lab delivers
    notifications._get_test_event = _s3_test_event
    backend_class = s3_models.S3Backend
    backend_class.delete_object = _s3_delete_object(backend_class.delete_object)
    backend_class.complete_multipart_upload = _s3_only(
        backend_class.complete_multipart_upload, "s3:ObjectCreated:CompleteMultipartUpload")
    backend_class.put_bucket_notification_configuration = _validated_notification_config(
        backend_class.put_bucket_notification_configuration)
    lambda_urls.url_paths.setdefault(RECURSION_CONFIG_PATH, LambdaResponse.dispatch)
    LambdaResponse.get_function_recursion_config = _recursion_config_response
    LambdaResponse.put_function_recursion_config = _recursion_config_response
