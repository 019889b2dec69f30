"""The Lambda control plane moto answers: what the lab checks first and adds afterwards.

Before moto sees a request (``before`` hooks at the front):

- a function named in the path in any documented form (name, ``name:qualifier``, full
  ARN, partial ARN ``123456789012:function:name``) reaches moto as its plain name, so
  every operation accepts every form, as Lambda's do;
- ``CreateFunction`` refuses names Lambda refuses (``a/b``, ``..``, ``$LATEST``, longer
  than 64 characters);
- ``CreateFunction`` / ``UpdateFunctionConfiguration`` refuse reserved environment
  variables (``AWS_REGION``, ``_HANDLER``, ...) with Lambda's message, and more than
  4 KB of them;
- ``CreateFunction`` / ``UpdateFunctionCode`` refuse a package that is not a zip, is
  empty, is over 250 MB unzipped or (uploaded directly) over 50 MB
  (``helpers.lambda_.packages``).

After moto answered (``after`` hooks): every change to a function gives the next
invoke a new execution environment and a new ``RevisionId`` and ``LastModified``
(moto keeps neither), a deleted function's environments retire at once, and
``DeadLetterConfig`` (which moto drops) is kept and returned. Introduced in notebook 01.
https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import quote

from ..aws import function_arn, function_name_parts, parse_arn
from ..errors import LambdaApiError
from .packages import MAX_REQUEST_BYTES, PackageError, check_package

# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-runtime.html
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
RESERVED_MESSAGE = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided contains reserved keys that are currently not supported "
    "for modification. Reserved keys used in this request: {keys}")
TOO_BIG_MESSAGE = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided exceeded the 4KB limit. String measured: {measured}")
MAX_VARIABLES_BYTES = 4096
NAME_PATTERN = ("(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
FUNCTION_IN_PATH = re.compile(r"(/functions/)([^/]+)")
CHANGES = ("CreateFunction", "UpdateFunctionConfiguration", "UpdateFunctionCode",
           "DeleteFunction", "PublishVersion")
CONFIGURATIONS = ("CreateFunction", "UpdateFunctionConfiguration", "UpdateFunctionCode",
                  "GetFunction", "GetFunctionConfiguration", "PublishVersion",
                  "ListFunctions", "ListVersionsByFunction")

__all__ = ["ControlPlane", "RESERVED_VARIABLES"]


def _body(request) -> dict:
    try:
        document = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


class ControlPlane:
    """Registers the hooks above; ``read_s3_object(bucket, key, account) -> bytes | None``
    reads a package uploaded to S3."""

    def __init__(self, service, settings, read_s3_object=None):
        self.service = service
        self.settings = settings
        self.read_s3_object = read_s3_object

    def register(self, front) -> None:
        front.before("lambda", "*", self.normalize_function_name)
        front.before("lambda", "CreateFunction", self.check_create)
        front.before("lambda", "UpdateFunctionConfiguration", self.check_configuration)
        front.before("lambda", "UpdateFunctionCode", self.check_code_update)
        for operation in set(CHANGES) | set(CONFIGURATIONS):
            front.after("lambda", operation, self.observe)

    # -- before moto --------------------------------------------------------------------

    def normalize_function_name(self, request) -> None:
        """Give moto the plain name of a function named by ARN or partial ARN."""
        named = request.params.get("FunctionName")
        if not named or ":" not in named:
            return
        parts = function_name_parts(named)
        if parts is None or (parts.account is None and parts.region is None):
            return
        if parts.account not in (None, request.account_id) or parts.region not in (
                None, request.region):
            return  # another account or region: moto answers as it does
        plain = parts.name + (f":{parts.qualifier}" if parts.qualifier else "")
        http = request.http
        path, _, query = http.target.partition("?")
        path = FUNCTION_IN_PATH.sub(lambda m: m[1] + quote(plain, safe=""), path, count=1)
        http.target = path + (f"?{query}" if query else "")
        request.params["FunctionName"] = plain

    def check_create(self, request) -> None:
        body = _body(request)
        self._check_name(body.get("FunctionName", ""))
        self._check_variables(body)
        self._check_request_size(request)
        code = body.get("Code") or {}
        self._check_code(code, request)

    def check_configuration(self, request) -> None:
        self._check_variables(_body(request))

    def check_code_update(self, request) -> None:
        self._check_request_size(request)
        self._check_code(_body(request), request)

    @staticmethod
    def _check_name(name: str) -> None:
        if isinstance(name, str) and ":" not in name and len(name) > 64:
            raise LambdaApiError(
                400, "InvalidParameterValueException",
                f"1 validation error detected: Value '{name}' at 'functionName' failed to "
                "satisfy constraint: Member must have length less than or equal to 64")
        parts = function_name_parts(name) if isinstance(name, str) else None
        if parts is None or parts.qualifier:
            raise LambdaApiError(
                400, "ValidationException",
                f"1 validation error detected: Value '{name}' at 'functionName' failed to "
                f"satisfy constraint: Member must satisfy regular expression pattern: "
                f"{NAME_PATTERN}")

    @staticmethod
    def _check_variables(body: dict) -> None:
        variables = (body.get("Environment") or {}).get("Variables") or {}
        if not isinstance(variables, dict):
            return
        reserved = [key for key in variables if key in RESERVED_VARIABLES]
        if reserved:
            raise LambdaApiError(400, "InvalidParameterValueException",
                                 RESERVED_MESSAGE.format(keys=", ".join(reserved)))
        measured = json.dumps(variables, separators=(",", ":"))
        if len(measured.encode()) > MAX_VARIABLES_BYTES:
            raise LambdaApiError(400, "InvalidParameterValueException",
                                 TOO_BIG_MESSAGE.format(measured=measured))

    @staticmethod
    def _check_request_size(request) -> None:
        if len(request.body) > MAX_REQUEST_BYTES:
            raise LambdaApiError(
                413, "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the "
                f"{request.operation} operation")

    def _check_code(self, code: dict, request) -> None:
        if code.get("ZipFile") is not None:
            try:
                data = base64.b64decode(code["ZipFile"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise PackageError("Could not unzip uploaded file. Please check your file, "
                                   "then try to upload again.") from None
            check_package(data)
        elif code.get("S3Bucket") and code.get("S3Key") and self.read_s3_object:
            data = self.read_s3_object(code["S3Bucket"], code["S3Key"], request.account_id)
            if data is not None:
                check_package(data)

    # -- after moto ---------------------------------------------------------------------

    def observe(self, request, response) -> None:
        if response.status >= 300:
            return
        operation = request.operation
        if operation in CHANGES:
            self._changed(request, response)
        if operation in CONFIGURATIONS:
            self._amend(request, response)

    def _arn_of(self, request, response) -> str:
        configuration = _body_of(response)
        configuration = configuration.get("Configuration", configuration)
        name = configuration.get("FunctionName") or request.params.get("FunctionName", "")
        local = name.split(":function:")[-1].split(":")[0]
        arn = parse_arn(configuration.get("FunctionArn", ""))
        if arn is not None:
            return function_arn(local, arn.region, arn.account)
        return function_arn(local, request.region, request.account_id)

    def _changed(self, request, response) -> None:
        arn = self._arn_of(request, response)
        operation = request.operation
        if operation == "DeleteFunction":
            if not request.query("Qualifier"):
                self.settings.forget(arn)
                self.service.retire_function(arn)
            return
        if operation == "PublishVersion":
            version = _body_of(response).get("Version")
            if version:
                self.settings.published(arn, str(version))
            return
        if operation == "CreateFunction":
            self.settings.forget(arn)  # a function made again with the name starts afresh
        body = _body(request)
        if "DeadLetterConfig" in body:
            self.settings.of(arn).dead_letter = body["DeadLetterConfig"] or None
        self.settings.changed(arn)
        version = str(_body_of(response).get("Version", "$LATEST"))
        if version != "$LATEST":  # published in the same call (Publish=True)
            self.settings.published(arn, version)

    def _amend(self, request, response) -> None:
        """Add what moto does not keep to each configuration in the answer."""
        document = _body_of(response)
        if not document:
            return
        if "Functions" in document or "Versions" in document:
            configurations = document.get("Functions") or document.get("Versions") or []
        else:
            configurations = [document.get("Configuration", document)]
        for configuration in configurations:
            arn = parse_arn(configuration.get("FunctionArn", ""))
            if arn is None or not configuration.get("FunctionName"):
                continue
            unqualified = function_arn(configuration["FunctionName"], arn.region,
                                       arn.account)
            settings = self.settings.of(unqualified)
            revision = settings.revision_of(str(configuration.get("Version", "$LATEST")))
            if revision is not None:
                configuration["RevisionId"], configuration["LastModified"] = revision
            dead_letter = settings.dead_letter
            if dead_letter and dead_letter.get("TargetArn"):
                configuration["DeadLetterConfig"] = dead_letter
        response.body = json.dumps(document).encode()


def _body_of(response) -> dict:
    try:
        document = json.loads(response.body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
