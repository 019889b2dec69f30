"""Function URL configurations: the Lambda API operations the lab answers itself.

``Create/Get/Update/Delete/ListFunctionUrlConfig(s)``, for a function or one of its
aliases (``Qualifier``), validated as the Lambda API validates them, kept in
``helpers.cloud.function_url_state`` (moto's own are wrong in form and miss aliases and
listing). A deleted function or alias loses its URLs.

``AddPermission``'s ``FunctionUrlAuthType`` is checked here; moto would keep it and
``InvokedViaFunctionUrl`` as stray keys of the statement, so a row of
``helpers.cloud.patches`` makes them the conditions ``lambda:FunctionUrlAuthType``
(StringEquals) and ``lambda:InvokedViaFunctionUrl`` (Bool), as AWS writes them.
https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunctionUrlConfig.html
https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
Introduced in notebook 14.
"""

from __future__ import annotations

import json
import re

from ..aws import function_name_parts
from ..errors import LambdaApiError
from ..server import Response

AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
QUALIFIER = re.compile(r"(?!^\d+$)^[0-9a-zA-Z-_]+$")  # an alias name
LIST_LIMITS = (1, 50)

__all__ = ["register_function_url_control_plane"]


def _invalid(value, member: str, rule: str) -> LambdaApiError:
    return LambdaApiError(
        400, "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}")


def _check_list(values, member: str, most: int, longest: int, shortest: int = 0) -> None:
    if not isinstance(values, list):
        raise _invalid(values, member, "Member must be a list")
    if len(values) > most:
        raise _invalid(values, member, f"Member must have length less than or equal to {most}")
    for value in values:
        if not isinstance(value, str) or not shortest <= len(value) <= longest:
            raise _invalid(value, f"{member}.member", "Member must have length between "
                           f"{shortest} and {longest}")


def check_cors(cors) -> dict | None:
    """The CORS configuration if it is one the Lambda API accepts."""
    if cors is None:
        return None
    if not isinstance(cors, dict):
        raise _invalid(cors, "cors", "Member must be a structure")
    for member in ("AllowHeaders", "ExposeHeaders"):
        if member in cors:
            _check_list(cors[member], f"cors.{member[0].lower()}{member[1:]}", 100, 1024)
    if "AllowMethods" in cors:
        _check_list(cors["AllowMethods"], "cors.allowMethods", 6, 6)
    if "AllowOrigins" in cors:
        _check_list(cors["AllowOrigins"], "cors.allowOrigins", 100, 253, shortest=1)
    age = cors.get("MaxAge")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int)
                            or not 0 <= age <= 86400):
        raise _invalid(age, "cors.maxAge", "Member must have value between 0 and 86400")
    if "AllowCredentials" in cors and not isinstance(cors["AllowCredentials"], bool):
        raise _invalid(cors["AllowCredentials"], "cors.allowCredentials",
                       "Member must be true or false")
    return cors


def _json(request) -> dict:
    try:
        document = json.loads(request.body or b"{}")
    except ValueError:
        raise LambdaApiError(400, "InvalidRequestContentException",
                             "Could not parse request body into json") from None
    return document if isinstance(document, dict) else {}


class FunctionUrlControlPlane:
    def __init__(self, state, functions, authorize=None):
        self.state = state  # helpers.cloud.function_url_state.FunctionUrlState
        self.functions = functions  # helpers.cloud.lambda_state.LambdaState
        self.authorize = authorize  # authorize(request, action, resource), with enforce_iam

    def register(self, front) -> None:
        front.answer("lambda", "CreateFunctionUrlConfig", self.create)
        front.answer("lambda", "GetFunctionUrlConfig", self.get)
        front.answer("lambda", "UpdateFunctionUrlConfig", self.update)
        front.answer("lambda", "DeleteFunctionUrlConfig", self.delete)
        front.answer("lambda", "ListFunctionUrlConfigs", self.list)
        front.before("lambda", "AddPermission", self._check_permission)
        front.after("lambda", "DeleteFunction", self._function_deleted)
        front.after("lambda", "DeleteAlias", self._function_deleted)

    # -- which function ---------------------------------------------------------------------

    def _target(self, request, action: str):
        """(function spec, qualifier) the request names, checked as Lambda checks it."""
        name = request.params.get("FunctionName", "")
        qualifier = request.query("Qualifier")
        parts = function_name_parts(name, qualifier)
        if parts is None:
            raise _invalid(name, "functionName", "Member must satisfy regular expression "
                           "pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-"
                           "\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:((?!\\d+$)"
                           "[0-9a-zA-Z-_]+))?")
        if parts.qualifier is not None and not QUALIFIER.match(parts.qualifier):
            raise _invalid(parts.qualifier, "qualifier", "Member must satisfy regular "
                           "expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)")
        spec = self.functions.find(parts.name, parts.qualifier, request.account_id,
                                   request.region)  # 404 for a missing function or alias
        arn = spec.arn + (f":{parts.qualifier}" if parts.qualifier else "")
        if self.authorize is not None:
            self.authorize(request, f"lambda:{action}", arn)
        return spec, parts.qualifier

    def _existing(self, request, action: str):
        spec, qualifier = self._target(request, action)
        config = self.state.get(request.account_id, request.region, spec.name, qualifier)
        if config is None:
            raise LambdaApiError(404, "ResourceNotFoundException",
                                 "The resource you requested does not exist.")
        return config

    @staticmethod
    def _respond(status: int, document, request) -> Response:
        body = b"" if document is None else json.dumps(document).encode()
        return Response(status, [("Content-Type", "application/json"),
                                 ("x-amzn-RequestId", request.request_id)], body)

    @staticmethod
    def _settings(body: dict, required: bool) -> dict:
        auth_type, mode = body.get("AuthType"), body.get("InvokeMode")
        if auth_type is None and required:
            raise _invalid(auth_type, "authType", "Member must not be null")
        if auth_type is not None and auth_type not in AUTH_TYPES:
            raise _invalid(auth_type, "authType",
                           f"Member must satisfy enum value set: [{', '.join(AUTH_TYPES)}]")
        if mode is not None and mode not in INVOKE_MODES:
            raise _invalid(mode, "invokeMode",
                           f"Member must satisfy enum value set: [{', '.join(INVOKE_MODES)}]")
        return {"auth_type": auth_type, "cors": check_cors(body.get("Cors")),
                "invoke_mode": mode}

    # -- the operations -------------------------------------------------------------------

    def create(self, request) -> Response:
        settings = self._settings(_json(request), required=True)
        spec, qualifier = self._target(request, "CreateFunctionUrlConfig")
        config = self.state.create(account_id=request.account_id, region=request.region,
                                   name=spec.name, function_arn=spec.arn, qualifier=qualifier,
                                   **settings)
        if config is None:
            arn = spec.arn + (f":{qualifier}" if qualifier else "")
            raise LambdaApiError(
                409, "ResourceConflictException",
                f"Failed to create function url config for [functionArn = {arn}]. Error "
                "message:  FunctionUrlConfig exists for this Lambda function")
        return self._respond(201, config.document(last_modified=False), request)

    def get(self, request) -> Response:
        return self._respond(200, self._existing(request, "GetFunctionUrlConfig").document(),
                             request)

    def update(self, request) -> Response:
        settings = self._settings(_json(request), required=False)
        config = self._existing(request, "UpdateFunctionUrlConfig")
        return self._respond(200, self.state.update(config, **settings).document(), request)

    def delete(self, request) -> Response:
        config = self._existing(request, "DeleteFunctionUrlConfig")
        self.state.delete(config.account_id, config.region, config.function_name,
                          config.qualifier)
        return Response(204, [("x-amzn-RequestId", request.request_id)])

    def list(self, request) -> Response:
        name = request.params.get("FunctionName", "")
        spec = self.functions.find(name, None, request.account_id, request.region)
        if self.authorize is not None:
            self.authorize(request, "lambda:ListFunctionUrlConfigs", spec.arn)
        raw_items, marker = request.query("MaxItems"), request.query("Marker") or "0"
        low, high = LIST_LIMITS
        items = int(raw_items) if raw_items and raw_items.isdigit() else high
        if not low <= items <= high:
            raise _invalid(items, "maxItems", f"Member must have value between {low} and {high}")
        start = int(marker) if marker.isdigit() else 0
        configs = self.state.of_function(request.account_id, request.region, spec.name)
        page = configs[start:start + items]
        document = {"FunctionUrlConfigs": [config.document() for config in page]}
        if start + items < len(configs):
            document["NextMarker"] = str(start + items)
        return self._respond(200, document, request)

    # -- what moto answers ----------------------------------------------------------------

    @staticmethod
    def _check_permission(request) -> None:
        auth_type = _json(request).get("FunctionUrlAuthType")
        if auth_type is not None and auth_type not in AUTH_TYPES:
            raise _invalid(auth_type, "functionUrlAuthType",
                           f"Member must satisfy enum value set: [{', '.join(AUTH_TYPES)}]")

    def _function_deleted(self, request, response) -> None:
        if response.status >= 300:
            return
        parts = function_name_parts(request.params.get("FunctionName", ""))
        if parts is None:
            return
        if request.operation == "DeleteAlias":
            self.state.forget_function(request.account_id, request.region, parts.name,
                                       request.params.get("Name"))
        elif not request.query("Qualifier"):  # a version has no URL of its own
            self.state.forget_function(request.account_id, request.region, parts.name)


def register_function_url_control_plane(front, state, functions, authorize=None) -> None:
    FunctionUrlControlPlane(state, functions, authorize).register(front)
