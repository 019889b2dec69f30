"""The lab's one edge cache: cache keys, time to live, and invalidations.

A cache behaviour's cache policy says what goes in the cache key and how long an object
stays: the managed policies by id
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html),
or the behaviour's legacy settings (``ForwardedValues``, MinTTL / DefaultTTL / MaxTTL)
when it names no policy. How long an object stays follows
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html:
the origin's ``Cache-Control: s-maxage`` or ``max-age`` (or ``Expires``), held between
the minimum and maximum TTL, or the default TTL when the origin says nothing;
``no-cache``, ``no-store`` and ``private`` cache for the minimum TTL only. A maximum
TTL of 0 caches nothing. ``create_invalidation`` removes the paths it names (a
trailing ``*`` matches every path that starts with what comes before it).
Introduced in notebook 10.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

__all__ = ["ALL_VIEWER", "CACHING_DISABLED", "CACHING_OPTIMIZED", "MANAGED_CACHE_POLICIES",
           "MANAGED_ORIGIN_REQUEST_POLICIES", "CachePolicy", "CachedObject", "EdgeCache",
           "cache_policy", "time_to_live"]

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# Managed origin request policies: what is sent to the origin beyond the cache key.
# AllViewer sends every header, cookie and query string of the viewer's request.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
MANAGED_ORIGIN_REQUEST_POLICIES = {ALL_VIEWER: "AllViewer"}


@dataclass(frozen=True)
class CachePolicy:
    name: str
    min_ttl: int
    default_ttl: int
    max_ttl: int
    query_strings: bool  # all query strings in the key (and sent to the origin)
    cookies: bool  # all cookies in the key (and sent to the origin)


MANAGED_CACHE_POLICIES = {
    CACHING_OPTIMIZED: CachePolicy("CachingOptimized", 1, 86400, 31536000, False, False),
    CACHING_DISABLED: CachePolicy("CachingDisabled", 0, 0, 0, False, False),
}


def cache_policy(behaviour) -> CachePolicy:
    """The cache policy of a ``BehaviourSpec``: a managed one, or its legacy settings."""
    if behaviour.cache_policy_id:
        return MANAGED_CACHE_POLICIES[behaviour.cache_policy_id]
    return CachePolicy("legacy settings", behaviour.min_ttl, behaviour.default_ttl,
                       behaviour.max_ttl, behaviour.forward_query_string,
                       behaviour.forward_cookies == "all")


def _directives(cache_control: str) -> dict:
    found = {}
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name:
            found[name.lower()] = value.strip().strip('"')
    return found


def time_to_live(policy: CachePolicy, headers, now: float | None = None) -> float:
    """Seconds an origin's response stays in the cache (0: not cached)."""
    if policy.max_ttl <= 0:
        return 0.0
    values = {name.lower(): value for name, value in headers}
    directives = _directives(values.get("cache-control", ""))
    if {"no-cache", "no-store", "private"} & directives.keys():
        return float(policy.min_ttl)
    asked = None
    for name in ("s-maxage", "max-age"):
        if directives.get(name, "").isdigit():
            asked = int(directives[name])
            break
    if asked is None and "expires" in values:
        try:
            asked = max(0.0, parsedate_to_datetime(values["expires"]).timestamp()
                        - (now or time.time()))
        except (TypeError, ValueError):
            asked = 0
    if asked is None:
        return float(policy.default_ttl)
    return float(min(max(asked, policy.min_ttl), policy.max_ttl))


@dataclass
class CachedObject:
    status: int
    description: str
    headers: list  # (name, value) pairs, as the origin-response trigger left them
    body: bytes
    stored: float  # time.monotonic()
    ttl: float
    hits: int = 0
    key: tuple = field(default=())

    def age(self, now: float) -> int:
        return int(now - self.stored)


class EdgeCache:
    """Objects by (distribution, cache key); one edge location for the whole lab."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._objects: dict[tuple, CachedObject] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(distribution_id: str, policy: CachePolicy, method: str, uri: str,
            querystring: str, cookie: str | None) -> tuple:
        return (distribution_id, "HEAD" if method == "HEAD" else "GET", uri,
                querystring if policy.query_strings else "",
                (cookie or "") if policy.cookies else "")

    def get(self, key: tuple) -> CachedObject | None:
        now = self._clock()
        with self._lock:
            found = self._objects.get(key)
            if found is None:
                return None
            if now - found.stored >= found.ttl:
                del self._objects[key]
                return None
            found.hits += 1
            return found

    def put(self, key: tuple, status: int, description: str, headers, body: bytes,
            ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._objects[key] = CachedObject(status, description, list(headers), body,
                                              self._clock(), ttl, key=key)

    def invalidate(self, distribution_id: str, paths) -> int:
        """Remove the objects of ``paths`` (``/images/*``: every path under it); how many."""
        removed = 0
        with self._lock:
            for key in list(self._objects):
                if key[0] != distribution_id:
                    continue
                uri = key[2]
                for path in paths:
                    if (path.endswith("*") and uri.startswith(path[:-1])) or uri == path:
                        del self._objects[key]
                        removed += 1
                        break
        return removed

    def objects(self, distribution_id: str | None = None) -> list[CachedObject]:
        with self._lock:
            return [o for key, o in self._objects.items()
                    if distribution_id is None or key[0] == distribution_id]

    def clear(self) -> None:
        with self._lock:
            self._objects.clear()
