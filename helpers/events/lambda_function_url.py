"""The event a function URL sends its function (Powertools' ``LambdaFunctionUrlModel``).

Pure functions, no server: ``helpers.front_doors.function_urls`` calls
``function_url_event``. Function URLs use API Gateway's payload format 2.0
(``helpers.events.apigwv2``), with placeholders where API Gateway's features would be:
``routeKey`` and ``stage`` are ``$default``, there are no path parameters or stage
variables, ``apiId`` is the URL's id, and ``requestContext.requestId`` is the Lambda
request id of the invocation. With the ``AWS_IAM`` auth type,
``requestContext.authorizer.iam`` says who signed the request.
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
Introduced in notebook 14.
"""

from __future__ import annotations

from .apigwv2 import http_event

POWERTOOLS_MODEL = "LambdaFunctionUrlModel"  # aws_lambda_powertools...parser.models

__all__ = ["POWERTOOLS_MODEL", "function_url_event", "url_domain"]


def url_domain(url_id: str, region: str) -> str:
    return f"{url_id}.lambda-url.{region}.on.aws"


def function_url_event(*, method: str, raw_path: str, raw_query: str,
                       headers: list[tuple[str, str]], body: bytes, url_id: str,
                       account_id: str, region: str, request_id: str, epoch_ms: int,
                       source_ip: str, caller: dict | None = None) -> dict:
    """The event for one request. ``caller``, for ``AWS_IAM``: the signer's accessKey,
    accountId, callerId, userArn, userId (``requestContext.authorizer.iam``)."""
    event = http_event(
        method=method, raw_path=raw_path, raw_query=raw_query, headers=headers, body=body,
        route_key="$default", path_parameters=None, stage="$default", stage_variables=None,
        api_id=url_id, account_id=account_id, region=region, request_id=request_id,
        epoch_ms=epoch_ms, source_ip=source_ip)
    context = event["requestContext"]
    context["domainName"] = url_domain(url_id, region)
    context["authentication"] = None
    if caller is not None:
        context["authorizer"] = {"iam": {"cognitoIdentity": None, "principalOrgId": None,
                                         **caller}}
    return event
