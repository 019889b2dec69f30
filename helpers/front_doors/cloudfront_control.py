"""CloudFront's control plane as moto answers it, mended at the lab's front.

What moto accepts and AWS refuses, when a distribution is created or updated:

- a Lambda@Edge association must name a numbered version (not ``$LATEST``, an alias, or
  an unqualified ARN) of a function that exists in us-east-1, whose execution role
  ``edgelambda.amazonaws.com`` may assume, with no environment variables and no layers,
  and within the trigger's limits (viewer triggers: 128 MB and 5 s; origin triggers:
  30 s); one function per event type, Include Body on request events only. Anything
  else is ``InvalidLambdaFunctionAssociation`` (HTTP 400).
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-edge-permissions.html
- a ``CachePolicyId`` must name a cache policy: the lab has the managed ones
  (``helpers.front_doors.cloudfront_cache``), others are ``NoSuchCachePolicy``; so is
  an ``OriginRequestPolicyId`` (the lab has AllViewer), else ``NoSuchOriginRequestPolicy``.

``create_invalidation`` empties the lab's edge cache of the paths it names, after moto
has recorded the invalidation (which the lab reports ``Completed`` at once).
Introduced in notebook 10.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from urllib.parse import unquote

from ..errors import AwsError
from ..events.cloudfront import EVENT_TYPES
from .cloudfront_cache import MANAGED_CACHE_POLICIES, MANAGED_ORIGIN_REQUEST_POLICIES

__all__ = ["EDGE_PRINCIPAL", "register_cloudfront_control_plane"]

EDGE_PRINCIPAL = "edgelambda.amazonaws.com"
EDGE_REGION = "us-east-1"
VIEWER_MEMORY_MB, VIEWER_TIMEOUT_S, ORIGIN_TIMEOUT_S = 128, 5, 30
ARN = re.compile(r"^arn:aws:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)"
                 r"(?::([^:]+))?$")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element, name: str) -> list:
    return [child for child in element.iter() if _local(child.tag) == name]


def _text(element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _invalid(message: str) -> AwsError:
    return AwsError(400, "InvalidLambdaFunctionAssociation", message)


def _trusts(document, principal: str) -> bool:
    if isinstance(document, str):
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return False
    statements = (document or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        services = (statement.get("Principal") or {}).get("Service") or []
        services = [services] if isinstance(services, str) else services
        if statement.get("Effect") == "Allow" and "sts:AssumeRole" in actions \
                and principal in services:
            return True
    return False


class CloudFrontControlPlane:
    def __init__(self, cache):
        self.cache = cache  # helpers.front_doors.cloudfront_cache.EdgeCache

    def register(self, front) -> None:
        for operation in ("CreateDistribution", "CreateDistributionWithTags",
                          "UpdateDistribution"):
            front.before("cloudfront", operation, self._check_config)
        front.after("cloudfront", "CreateInvalidation", self._invalidate)

    # -- CreateDistribution / UpdateDistribution ------------------------------------------

    def _check_config(self, request) -> None:
        try:
            root = ElementTree.fromstring(request.body)
        except ElementTree.ParseError:
            return  # moto answers for a malformed body
        for policy in _children(root, "CachePolicyId"):
            policy_id = (policy.text or "").strip()
            if policy_id and policy_id not in MANAGED_CACHE_POLICIES:
                raise AwsError(404, "NoSuchCachePolicy",
                               f"The cache policy {policy_id} does not exist. (The lab has "
                               "the managed policies CachingOptimized and CachingDisabled.)")
        for policy in _children(root, "OriginRequestPolicyId"):
            policy_id = (policy.text or "").strip()
            if policy_id and policy_id not in MANAGED_ORIGIN_REQUEST_POLICIES:
                raise AwsError(404, "NoSuchOriginRequestPolicy",
                               f"The origin request policy {policy_id} does not exist. (The "
                               "lab has the managed policy AllViewer.)")
        for behaviour in _children(root, "DefaultCacheBehavior") + _children(
                root, "CacheBehavior"):
            seen = set()
            for association in _children(behaviour, "LambdaFunctionAssociation"):
                event_type = _text(association, "EventType") or ""
                if event_type in seen:
                    raise _invalid(f"A cache behavior can have only one function for the "
                                   f"event type {event_type}.")
                seen.add(event_type)
                self._check_association(
                    request, _text(association, "LambdaFunctionARN") or "", event_type,
                    (_text(association, "IncludeBody") or "false").lower() == "true")

    def _check_association(self, request, arn: str, event_type: str, include_body: bool):
        if event_type not in EVENT_TYPES:
            raise _invalid(f"The event type {event_type!r} is not one of "
                           f"{', '.join(EVENT_TYPES)}.")
        if include_body and not event_type.endswith("-request"):
            raise _invalid(f"IncludeBody is only for request events, not {event_type}.")
        match = ARN.match(arn)
        if match is None:
            raise _invalid(f"The function ARN is not valid. ARN: {arn}")
        region, account, name, qualifier = match.groups()
        if qualifier is None or not qualifier.isdigit():
            raise _invalid("The function ARN must reference a specific function version. "
                           f"(The ARN must end with the version number.) ARN: {arn}")
        if region != EDGE_REGION:
            raise _invalid(f"The function must be in region '{EDGE_REGION}'. ARN: {arn}")
        from moto.awslambda.models import lambda_backends
        from moto.iam.models import iam_backends

        try:
            fn = lambda_backends[account][region].get_function(name, qualifier)
        except Exception:
            raise _invalid(f"The function version does not exist. ARN: {arn}") from None
        if fn is None or str(fn.version) != qualifier:
            raise _invalid(f"The function version does not exist. ARN: {arn}")
        role = next((r for r in iam_backends[account]["aws"].roles.values()
                     if r.arn == fn.role), None)
        if role is None or not _trusts(role.assume_role_policy_document, EDGE_PRINCIPAL):
            raise _invalid("The function execution role must be assumable with "
                           f"{EDGE_PRINCIPAL} as well as lambda.amazonaws.com principals. "
                           f"Update the IAM role and try again. Role: {fn.role}")
        if fn.environment_vars:
            raise _invalid(f"The function cannot have environment variables. Function: {arn}")
        if getattr(fn, "layers", None):
            raise _invalid(f"The function cannot have layers. Function: {arn}")
        if event_type.startswith("viewer-"):
            if int(fn.memory_size) > VIEWER_MEMORY_MB:
                raise _invalid(f"The function memory size ({fn.memory_size} MB) is larger "
                               f"than the maximum allowed for {event_type} events: "
                               f"{VIEWER_MEMORY_MB} MB. Function: {arn}")
            if int(fn.timeout) > VIEWER_TIMEOUT_S:
                raise _invalid(f"The function timeout ({fn.timeout} s) is larger than the "
                               f"maximum allowed for {event_type} events: "
                               f"{VIEWER_TIMEOUT_S} seconds. Function: {arn}")
        elif int(fn.timeout) > ORIGIN_TIMEOUT_S:
            raise _invalid(f"The function timeout ({fn.timeout} s) is larger than the maximum "
                           f"allowed for {event_type} events: {ORIGIN_TIMEOUT_S} seconds. "
                           f"Function: {arn}")

    # -- CreateInvalidation ---------------------------------------------------------------

    def _invalidate(self, request, response) -> None:
        if response.status >= 300:
            return
        match = re.search(r"/distribution/([^/]+)/invalidation", request.path)
        if match is None:
            return
        root = ElementTree.fromstring(request.body)
        paths = [(item.text or "").strip() for paths in _children(root, "Paths")
                 for item in _children(paths, "Path")]
        self.cache.invalidate(unquote(match.group(1)), paths)


def register_cloudfront_control_plane(front, cache) -> None:
    CloudFrontControlPlane(cache).register(front)
