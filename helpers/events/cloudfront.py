"""The events CloudFront sends a Lambda@Edge function, at each of its four triggers.

Pure functions, no server: ``helpers.front_doors.cloudfront`` calls them for every
trigger it runs. The shape follows the CloudFront guide's event structure
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html):

- ``Records[0].cf.config``: distributionDomainName, distributionId, eventType, requestId;
- ``Records[0].cf.request``: clientIp, method, uri, querystring (no leading ``?``, ``""``
  when there is none), headers, and for origin events the origin (``{"s3": ...}`` or
  ``{"custom": ...}``), and ``body`` only when the association has Include Body;
- ``Records[0].cf.response`` in the two response events: status (a string),
  statusDescription, headers. An origin-response event does not carry the origin's body.

Headers are a map from the lowercase name to a list of ``{"key": <name as sent>,
"value": ...}``, one per value.

There is no Powertools parser model for CloudFront events (``POWERTOOLS_MODEL`` is None):
``tests/test_events.py`` checks these events against the guide's sample events instead.
Introduced in notebook 10.
"""

from __future__ import annotations

import base64

POWERTOOLS_MODEL = None  # no model in aws_lambda_powertools.utilities.parser.models

EVENT_TYPES = ("viewer-request", "origin-request", "origin-response", "viewer-response")

__all__ = ["EVENT_TYPES", "POWERTOOLS_MODEL", "cloudfront_event", "header_map",
           "header_pairs", "request_body", "s3_origin", "custom_origin"]


def header_map(pairs) -> dict:
    """``[("Host", "a"), ("Accept", "*/*")]`` as ``{"host": [{"key": "Host", "value":
    "a"}], ...}``: every value kept, in order, under its lowercase name."""
    headers: dict = {}
    for name, value in pairs:
        headers.setdefault(name.lower(), []).append({"key": name, "value": value})
    return headers


def header_pairs(headers: dict) -> list[tuple[str, str]]:
    """The header map back as (name, value) pairs; an entry without ``key`` uses the
    map's name."""
    pairs = []
    for name, values in headers.items():
        for entry in values:
            pairs.append((entry.get("key") or name, entry["value"]))
    return pairs


def request_body(data: bytes, limit: int) -> dict:
    """The ``body`` an Include Body association gives the function: the first ``limit``
    bytes, always base64 on input."""
    return {"inputTruncated": len(data) > limit, "action": "read-only",
            "encoding": "base64", "data": base64.b64encode(data[:limit]).decode()}


def s3_origin(domain_name: str, path: str, region: str, custom_headers=(),
              access_identity: bool = False) -> dict:
    return {"s3": {"authMethod": "origin-access-identity" if access_identity else "none",
                   "customHeaders": header_map(custom_headers), "domainName": domain_name,
                   "path": path, "region": region}}


def custom_origin(domain_name: str, path: str, port: int, protocol: str, read_timeout: int,
                  keepalive_timeout: int, ssl_protocols=(), custom_headers=()) -> dict:
    return {"custom": {"customHeaders": header_map(custom_headers),
                       "domainName": domain_name, "keepaliveTimeout": keepalive_timeout,
                       "path": path, "port": port, "protocol": protocol,
                       "readTimeout": read_timeout, "sslProtocols": list(ssl_protocols)}}


def cloudfront_event(*, event_type: str, distribution_id: str, domain_name: str,
                     request_id: str, client_ip: str, method: str, uri: str,
                     querystring: str, headers: dict, origin: dict | None = None,
                     body: dict | None = None, response: dict | None = None) -> dict:
    """One trigger's event. ``response`` (status, statusDescription, headers) only for the
    response events; ``origin`` only for the origin events."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    request = {"clientIp": client_ip, "headers": headers, "method": method,
               "querystring": querystring, "uri": uri}
    if origin is not None and event_type.startswith("origin-"):
        request["origin"] = origin
    if body is not None and event_type.endswith("-request"):
        request["body"] = body
    cf = {"config": {"distributionDomainName": domain_name, "distributionId": distribution_id,
                     "eventType": event_type, "requestId": request_id},
          "request": request}
    if event_type.endswith("-response"):
        cf["response"] = response
    return {"Records": [{"cf": cf}]}
