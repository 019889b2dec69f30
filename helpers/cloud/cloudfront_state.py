"""Read-only views of moto's CloudFront distributions, as plain data.

moto keeps distributions (origins, cache behaviours and, with the lab's patch, their
Lambda@Edge associations) but serves no request; the lab's edge
(``helpers.front_doors.cloudfront``) reads them through this module on every request, so
an ``update_distribution`` applies to the next request at once. moto's modules are
imported on first use. Nothing here changes moto's state.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Association", "BehaviourSpec", "CloudFrontState", "DistributionSpec",
           "OriginSpec"]


@dataclass(frozen=True)
class Association:
    event_type: str  # viewer-request, origin-request, origin-response, viewer-response
    function_arn: str  # a numbered version's ARN
    include_body: bool


@dataclass(frozen=True)
class OriginSpec:
    id: str
    domain_name: str
    path: str  # OriginPath: prefixed to the URI sent to the origin
    kind: str  # "s3" or "custom"
    custom_headers: tuple  # ((name, value), ...)
    http_port: int = 80
    https_port: int = 443
    protocol_policy: str = "http-only"
    read_timeout: int = 30
    keepalive_timeout: int = 5
    ssl_protocols: tuple = ()
    access_identity: str = ""

    @property
    def bucket(self) -> str | None:
        """The bucket of an S3 origin (``bucket.s3.amazonaws.com``,
        ``bucket.s3.us-east-1.amazonaws.com``)."""
        if self.kind != "s3":
            return None
        return self.domain_name.split(".s3", 1)[0]


@dataclass(frozen=True)
class BehaviourSpec:
    path_pattern: str  # "*" for the default behaviour
    target_origin_id: str
    cache_policy_id: str  # "" when the legacy settings (ForwardedValues, TTLs) are used
    origin_request_policy_id: str
    min_ttl: int
    default_ttl: int
    max_ttl: int
    forward_query_string: bool
    forward_cookies: str  # "none", "all", "whitelist"
    allowed_methods: tuple
    cached_methods: tuple
    associations: tuple  # Association, one per event type

    def association(self, event_type: str) -> Association | None:
        for association in self.associations:
            if association.event_type == event_type:
                return association
        return None


@dataclass(frozen=True)
class DistributionSpec:
    id: str
    arn: str
    domain_name: str
    enabled: bool
    origins: tuple  # OriginSpec
    behaviours: tuple  # BehaviourSpec, in the order they are matched, the default last
    default_root_object: str

    def origin(self, origin_id: str) -> OriginSpec | None:
        for origin in self.origins:
            if origin.id == origin_id:
                return origin
        return None


def _associations(behaviour) -> tuple:
    items = (behaviour.lambda_function_associations or {}).get("Items") or []
    return tuple(Association(item.get("EventType", ""), item.get("LambdaFunctionARN", ""),
                             bool(item.get("IncludeBody", False))) for item in items)


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _behaviour(behaviour, pattern: str) -> BehaviourSpec:
    forwarded = behaviour.forwarded_values
    methods = behaviour.allowed_methods
    cookies = getattr(forwarded, "Cookies", None) or {}
    return BehaviourSpec(
        path_pattern=pattern, target_origin_id=behaviour.target_origin_id,
        cache_policy_id=behaviour.cache_policy_id or "",
        origin_request_policy_id=behaviour.origin_request_policy_id or "",
        min_ttl=_int(behaviour.min_ttl, 0), default_ttl=_int(behaviour.default_ttl, 86400),
        max_ttl=_int(behaviour.max_ttl, 31536000),
        forward_query_string=str(getattr(forwarded, "QueryString", False)).lower() == "true",
        forward_cookies=str(cookies.get("Forward", "none")),
        allowed_methods=tuple(methods.items),
        cached_methods=tuple(methods.cached_methods.get("Items") or ()),
        associations=_associations(behaviour))


def _origin(origin) -> OriginSpec:
    headers = tuple((item.get("HeaderName", ""), item.get("HeaderValue", ""))
                    for item in (origin.custom_headers or {}).get("Items") or [])
    custom = getattr(origin, "custom_origin_config", None)
    if custom is None:
        return OriginSpec(id=origin.id, domain_name=origin.domain_name,
                          path=origin.origin_path or "", kind="s3", custom_headers=headers,
                          access_identity=origin.s3_access_identity or "")
    return OriginSpec(
        id=origin.id, domain_name=origin.domain_name, path=origin.origin_path or "",
        kind="custom", custom_headers=headers, http_port=_int(custom.http_port, 80),
        https_port=_int(custom.https_port, 443),
        protocol_policy=custom.origin_protocol_policy or "http-only",
        read_timeout=_int(custom.origin_read_timeout, 30),
        keepalive_timeout=_int(custom.origin_keepalive_timeout, 5),
        ssl_protocols=tuple(custom.origin_ssl_protocols.get("Items") or ()))


class CloudFrontState:
    @staticmethod
    def _backend(account_id: str):
        from moto.cloudfront.models import cloudfront_backends  # on first use

        return cloudfront_backends[account_id]["aws"]  # a global service: one per partition

    def distribution(self, distribution_id: str, account_id: str) -> DistributionSpec | None:
        found = self._backend(account_id).distributions.get(distribution_id)
        if found is None:
            return None
        config = found.distribution_config
        listed = config.CacheBehaviors.get("Items") or [] if isinstance(
            config.CacheBehaviors, dict) else []
        behaviours = [_behaviour(b, b.path_pattern) for b in listed]
        behaviours.append(_behaviour(config.DefaultCacheBehavior, "*"))
        enabled = str(getattr(config, "Enabled", True)).lower() != "false"
        return DistributionSpec(
            id=found.distribution_id, arn=found.arn, domain_name=found.domain_name,
            enabled=enabled, origins=tuple(_origin(o) for o in config.Origins["Items"]),
            behaviours=tuple(behaviours),
            default_root_object=getattr(config, "DefaultRootObject", "") or "")
