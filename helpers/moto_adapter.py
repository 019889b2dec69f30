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
  request first waits for the lines already written, so reads never miss one.
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
    "LambdaApiError",
    "find_function",
    "install",
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

    @property
    def fingerprint(self) -> tuple:
        """Changes whenever code or configuration change: old environments retire."""
        return (
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


_installed = threading.Lock()
_service = None  # the LambdaService answering Invoke, while a lab runs


def install(service) -> None:
    """Route moto's Invoke (and moto's internal invokes) to ``service``; idempotent."""
    global _service
    check_version()
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
        from moto.logs.responses import LogsResponse

        moto_call_action = LogsResponse.call_action

        def call_action(response):
            if _service is not None:
                _service.flush_logs()  # reads see every line already written
            return moto_call_action(response)

        LogsResponse.call_action = call_action


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
