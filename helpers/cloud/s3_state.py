"""Views of moto's S3 buckets and objects, as the S3 notifications need them.

Read-only: a bucket's notification configuration as plain data, whether it is
versioned, what an object (or one version of it) is, and the IAM user an access key
belongs to (the event's ``userIdentity``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NotificationTarget", "ObjectInfo", "S3State"]


@dataclass(frozen=True)
class NotificationTarget:
    kind: str  # "lambda", "sqs" or "sns"
    arn: str
    configuration_id: str
    events: tuple  # ("s3:ObjectCreated:*", ...)
    prefix: str
    suffix: str


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    version_id: str | None  # None in a bucket that was never versioned


def _rules(notification) -> dict:
    rules = (notification.filters or {}).get("S3Key", {}).get("FilterRule", [])
    if isinstance(rules, dict):
        rules = [rules]
    return {rule["Name"].lower(): rule["Value"] for rule in rules}


class S3State:
    @staticmethod
    def _backend(account_id: str):
        from moto.s3.models import s3_backends  # on first use, as moto itself loads it

        return s3_backends[account_id]["aws"]

    def object_bytes(self, bucket: str, key: str, account_id: str) -> bytes | None:
        """An object's content (the latest version), or None if there is no such object."""
        try:
            return bytes(self._backend(account_id).get_object(bucket, key).value)
        except Exception:  # no such bucket or key: the operation's own check answers
            return None

    def bucket_region(self, bucket: str, account_id: str) -> str | None:
        found = self._backend(account_id).buckets.get(bucket)
        return found.region_name if found is not None else None

    def versioned(self, bucket: str, account_id: str) -> bool:
        found = self._backend(account_id).buckets.get(bucket)
        return bool(found is not None and found.is_versioned)

    def targets(self, bucket: str, account_id: str) -> list[NotificationTarget]:
        found = self._backend(account_id).buckets.get(bucket)
        config = found.notification_configuration if found is not None else None
        if config is None:
            return []
        targets = []
        for kind, items in (("lambda", config.cloud_function), ("sqs", config.queue),
                            ("sns", config.topic)):
            for item in items:
                rules = _rules(item)
                targets.append(NotificationTarget(kind, item.arn, item.id, tuple(item.events),
                                                  rules.get("prefix", ""),
                                                  rules.get("suffix", "")))
        return targets

    def event_bridge(self, bucket: str, account_id: str) -> bool:
        found = self._backend(account_id).buckets.get(bucket)
        config = found.notification_configuration if found is not None else None
        return bool(config is not None and config.event_bridge is not None)

    def object_info(self, bucket: str, key: str, version_id: str | None,
                    account_id: str) -> ObjectInfo | None:
        try:
            found = self._backend(account_id).get_object(bucket, key, version_id=version_id)
        except Exception:
            return None
        if found is None or not hasattr(found, "size"):
            return None
        version = getattr(found, "version_id", None)
        return ObjectInfo(int(found.size), found.etag.strip('"'),
                          None if version in (None, "null") else str(version))

    def version_exists(self, bucket: str, key: str, version_id: str, account_id: str) -> bool:
        found = self._backend(account_id).buckets.get(bucket)
        if found is None:
            return False
        return any(str(getattr(item, "version_id", "")) == str(version_id)
                   for item in found.keys.getlist(key, []))

    @staticmethod
    def user_id(access_key: str | None, account_id: str) -> str | None:
        """The unique id of the IAM user an access key belongs to, if any."""
        if not access_key:
            return None
        from moto.iam.models import iam_backends

        for user in iam_backends[account_id]["aws"].users.values():
            if any(key.access_key_id == access_key for key in user.access_keys):
                return user.id
        return None
