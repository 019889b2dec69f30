"""Views of moto's SNS topics and subscriptions, as the lab's SNS deliveries need them.

Read-only: whether a topic exists and is FIFO, its signature version, and each
subscription's protocol, endpoint and delivery settings (filter policy and its scope,
raw message delivery, the dead-letter queue of its redrive policy) as plain data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["SnsState", "SubscriptionInfo", "TopicInfo"]


@dataclass(frozen=True)
class TopicInfo:
    arn: str
    fifo: bool
    signature_version: str  # "1" (SHA1withRSA, the default) or "2" (SHA256withRSA)
    content_based_deduplication: bool


@dataclass(frozen=True)
class SubscriptionInfo:
    arn: str
    topic_arn: str
    protocol: str  # "lambda", "sqs", ...
    endpoint: str
    filter_policy: str | None  # the policy's JSON text
    filter_policy_scope: str  # "MessageAttributes" or "MessageBody"
    raw: bool  # RawMessageDelivery
    dead_letter_arn: str | None  # RedrivePolicy's deadLetterTargetArn


def _true(value) -> bool:
    return str(value).lower() == "true"


class SnsState:
    @staticmethod
    def _backend(account_id: str, region: str):
        from moto.sns.models import sns_backends  # on first use, as moto itself loads it

        return sns_backends[account_id][region]

    def topic(self, arn: str, account_id: str, region: str) -> TopicInfo | None:
        found = self._backend(account_id, region).topics.get(arn)
        if found is None:
            return None
        return TopicInfo(found.arn, bool(getattr(found, "fifo_topic", False)),
                         str(getattr(found, "signature_version", None) or "1"),
                         _true(getattr(found, "content_based_deduplication", False)))

    def subscriptions(self, topic_arn: str, account_id: str,
                      region: str) -> list[SubscriptionInfo]:
        subscriptions = self._backend(account_id, region).subscriptions.values()
        return [self._info(s) for s in list(subscriptions) if s.topic.arn == topic_arn]

    def subscription(self, arn: str, account_id: str, region: str) -> SubscriptionInfo | None:
        found = self._backend(account_id, region).subscriptions.get(arn)
        return self._info(found) if found is not None else None

    @staticmethod
    def _info(subscription) -> SubscriptionInfo:
        attributes = dict(subscription.attributes)
        redrive = attributes.get("RedrivePolicy")
        dead_letter = None
        if redrive:
            try:
                dead_letter = json.loads(redrive).get("deadLetterTargetArn")
            except (TypeError, ValueError, AttributeError):
                dead_letter = None
        return SubscriptionInfo(
            subscription.arn, subscription.topic.arn, subscription.protocol,
            subscription.endpoint, attributes.get("FilterPolicy") or None,
            attributes.get("FilterPolicyScope") or "MessageAttributes",
            _true(attributes.get("RawMessageDelivery")), dead_letter)
