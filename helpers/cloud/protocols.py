"""AWS's error responses, in each protocol's own shape, for what the lab answers itself.

botocore reads an error's code and message from a different place in each protocol, so
an ``AwsError`` raised by the lab is written the way the service would write it:

- ``rest-json`` (Lambda, API Gateway): ``x-amzn-ErrorType`` and ``{"Type": "User",
  "message": ...}``, with any extra fields (Lambda's ``Reason``);
- ``json`` (SQS, EventBridge, Kinesis, DynamoDB, ...): ``{"__type": ..., "message": ...}``;
- ``rest-xml`` (S3): ``<Error><Code/><Message/>...<RequestId/></Error>``;
- ``query`` (SNS, IAM, SES) and CloudFront: ``<ErrorResponse><Error>...</Error>``.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from ..errors import AwsError
from ..server import Response

__all__ = ["error_response", "protocol_of"]

JSON_CONTENT_TYPES = {"1.0": "application/x-amz-json-1.0", "1.1": "application/x-amz-json-1.1"}
_protocols: dict[str, tuple[str, str | None]] = {}


def protocol_of(service: str | None) -> tuple[str, str | None]:
    """(protocol, JSON version) of a service, from botocore's model; rest-json if unknown."""
    if service in _protocols:
        return _protocols[service]
    result = ("rest-json", None)
    if service:
        try:
            from .operations import _session

            model = _session().get_service_model(service)
            protocol = getattr(model, "resolved_protocol", model.protocol)
            result = (protocol, model.metadata.get("jsonVersion"))
        except Exception:
            pass
    _protocols[service] = result
    return result


def error_response(service: str | None, error: AwsError, request) -> Response:
    """The error as ``service`` answers it; ``request``: the AwsRequest it answers."""
    protocol, json_version = protocol_of(service)
    request_id = request.request_id
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "rest-json":
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", error.code)]
        body = {"Type": "User" if error.sender else "Service", "message": error.message,
                **error.extra}
        return Response(error.status, headers, json.dumps(body).encode())
    if protocol in ("json", "smithy-rpc-v2-cbor"):
        content_type = JSON_CONTENT_TYPES.get(json_version or "1.0")
        headers += [("Content-Type", content_type), ("x-amzn-query-error",
                                                     f"{error.code};Sender")]
        body = {"__type": error.code, "message": error.message, **error.extra}
        return Response(error.status, headers, json.dumps(body).encode())
    extra = "".join(f"<{key}>{escape(str(value))}</{key}>" for key, value in error.extra.items())
    if protocol == "rest-xml" and service == "s3":
        host_id = request.host_id or ""
        headers = [("x-amz-request-id", request_id), ("x-amz-id-2", host_id)]
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(error.code)}'
                f"</Code><Message>{escape(error.message)}</Message>{extra}"
                f"<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>")
    else:
        fault = "Sender" if error.sender else "Receiver"
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>{fault}'
                f"</Type><Code>{escape(error.code)}</Code><Message>{escape(error.message)}"
                f"</Message>{extra}</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    headers.append(("Content-Type", "text/xml"))
    return Response(error.status, headers, body.encode())
