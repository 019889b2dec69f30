"""Who may call a function URL, and what its CORS configuration adds to the answer.

Permissions, as Lambda checks them since October 2025: a request reaches the function
only if ``lambda:InvokeFunctionUrl`` **and** ``lambda:InvokeFunction`` are both allowed
(https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html):

- ``NONE``: the function's resource-based policy must allow both to everyone
  (``Principal: "*"``), in statements whose conditions hold for the request
  (``lambda:FunctionUrlAuthType`` is ``NONE``, ``lambda:InvokedViaFunctionUrl`` is true);
- ``AWS_IAM``: the request must be signed with Signature Version 4 for the ``lambda``
  service, by the lab's own credentials or an IAM user's access key made in the lab;
  each action is allowed by the user's identity-based policies or by a resource-based
  statement naming the user (or everyone).

CORS (``Cors`` of the URL's configuration) answers preflight requests itself and adds
its headers to every answer, over the function's own:
https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html#urls-cors
Introduced in notebook 14.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..aws import policy_allows
from ..errors import AwsError

ACTIONS = ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction")

__all__ = ["Caller", "UrlAccess", "cors_headers", "preflight_headers"]


@dataclass(frozen=True)
class Caller:
    """Who signed a request (``requestContext.authorizer.iam``)."""

    access_key: str
    account_id: str
    user_arn: str
    user_id: str

    def event_fields(self) -> dict:
        return {"accessKey": self.access_key, "accountId": self.account_id,
                "callerId": self.user_id, "userArn": self.user_arn, "userId": self.user_id}


class Denied(Exception):
    """The request may not invoke the function; the message says why (for the trace)."""


class _Signed:
    """What SignatureChecker and the IAM check read from an HTTP request."""

    def __init__(self, http, account_id: str):
        self.http = http
        self.account_id = account_id
        self.method = http.method
        self.body = http.body


class UrlAccess:
    """``signatures``: the front's SignatureChecker; ``lab_key``: the lab's own access key
    (allowed everything); ``iam``: helpers.cloud.iam.Iam (identity-based policies)."""

    def __init__(self, functions, signatures, lab_key, iam, region: str):
        self.functions = functions
        self.signatures = signatures
        self.lab_key = lab_key
        self.iam = iam
        self.region = region

    def check(self, config, request) -> Caller | None:
        """The caller (None for ``NONE``) if the request may invoke; Denied otherwise."""
        statements = self.functions.policy_statements(
            config.function_name, config.qualifier, config.account_id, config.region)
        context = {"lambda:FunctionUrlAuthType": config.auth_type,
                   "lambda:InvokedViaFunctionUrl": "true"}
        resource = config.invoked_arn
        if config.auth_type == "NONE":
            missing = [action for action in ACTIONS if not policy_allows(
                statements, action=action, resource=resource, context=context)]
            if missing:
                raise Denied(f"the resource-based policy does not allow everyone "
                             f"{' and '.join(missing)}")
            return None
        caller = self._signer(request, config.account_id)
        for action in ACTIONS:
            if caller.access_key == self.lab_key:
                continue  # the lab's own credentials may do anything, like an admin's
            if policy_allows(statements, action=action, resource=resource,
                             account=caller.user_arn, context=context):
                continue
            try:
                self.iam.authorize(_Signed(request, config.account_id), action, resource)
            except AwsError as error:
                raise Denied(f"{caller.user_arn} may not {action}: {error.message}") from None
        return caller

    def _signer(self, request, account_id: str) -> Caller:
        scope = _credential(request)
        if scope is None:
            raise Denied("the request is not signed (AWS_IAM needs Signature Version 4)")
        access_key, _, region, service = scope
        if service != "lambda" or region != self.region:
            raise Denied(f"signed for {service} in {region}; function URLs are signed for "
                         f"lambda in {self.region}")
        try:
            self.signatures.check(_Signed(request, account_id), "json")
        except AwsError as error:
            raise Denied(f"the signature is refused: {error.message}") from None
        if access_key == self.lab_key:
            return Caller(access_key, account_id, f"arn:aws:iam::{account_id}:root",
                          account_id)
        user = self.iam.user_of(access_key)
        if user is None:
            raise Denied("the access key belongs to no IAM user of this lab")
        return Caller(access_key, account_id, user[0], user[1])


def _credential(request) -> tuple[str, str, str, str] | None:
    """(access key, date, region, service) of a SigV4 Authorization header."""
    authorization = request.header("authorization") or ""
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return None
    for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","):
        name, _, value = part.strip().partition("=")
        if name == "Credential":
            pieces = value.split("/")
            if len(pieces) == 5:
                return pieces[0], pieces[1], pieces[2], pieces[3]
    return None


# -- CORS -------------------------------------------------------------------------------------


def _allowed_origin(cors: dict, origin: str | None) -> str | None:
    origins = cors.get("AllowOrigins") or []
    if "*" in origins:
        return "*"
    if origin and any(origin.lower() == allowed.lower() for allowed in origins):
        return origin
    return None


def cors_headers(cors: dict | None, origin: str | None) -> list[tuple[str, str]]:
    """The headers CORS adds to an answer for a request from ``origin``."""
    if not cors or origin is None:
        return []
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return []
    headers = [("Access-Control-Allow-Origin", allowed)]
    if cors.get("ExposeHeaders"):
        headers.append(("Access-Control-Expose-Headers", ", ".join(cors["ExposeHeaders"])))
    if cors.get("AllowCredentials"):
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if allowed != "*":
        headers.append(("Vary", "Origin"))
    return headers


def preflight_headers(cors: dict, request) -> list[tuple[str, str]]:
    """The answer's headers for a preflight (OPTIONS with Origin and
    Access-Control-Request-Method); none when the origin or method is not allowed."""
    origin = request.header("origin")
    wanted = (request.header("access-control-request-method") or "").upper()
    methods = [method.upper() for method in cors.get("AllowMethods") or []]
    if _allowed_origin(cors, origin) is None or not ("*" in methods or wanted in methods):
        return []
    headers = cors_headers(cors, origin)
    headers.append(("Access-Control-Allow-Methods", ", ".join(cors["AllowMethods"])))
    if cors.get("AllowHeaders"):
        headers.append(("Access-Control-Allow-Headers", ", ".join(cors["AllowHeaders"])))
    if cors.get("MaxAge") is not None:
        headers.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    return headers
