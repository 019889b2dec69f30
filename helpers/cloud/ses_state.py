"""Read-only views of moto's SES receiving state, as the SES front door needs it.

The receipt rule sets (which one is active, their rules in order, each rule's recipient
conditions, scan and TLS settings and actions), the verified identities, and the two
things SES checks in other services: a bucket's policy and whether a topic exists.
Plain dataclasses, copied out of moto; moto is imported on first use.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

__all__ = ["ReceiptAction", "ReceiptRule", "RuleSet", "SesState"]

ACTION_KINDS = {"S3Action": "S3", "SNSAction": "SNS", "LambdaAction": "Lambda",
                "BounceAction": "Bounce", "StopAction": "Stop",
                "AddHeaderAction": "AddHeader", "WorkmailAction": "WorkMail",
                "ConnectAction": "Connect"}


@dataclass(frozen=True)
class ReceiptAction:
    kind: str  # "Lambda", "S3", "SNS", "AddHeader", "Stop", "Bounce", ...
    settings: dict  # the action's own parameters, as the API took them


@dataclass(frozen=True)
class ReceiptRule:
    name: str
    enabled: bool  # AWS's default: false
    recipients: tuple  # addresses, domains, ".subdomains"; empty: every verified domain
    scan_enabled: bool
    tls_policy: str  # "Optional" (the default) or "Require"
    actions: tuple  # ReceiptAction, in order


@dataclass(frozen=True)
class RuleSet:
    name: str
    rules: tuple  # ReceiptRule, in order


def _flag(value) -> bool:
    return value is True or str(value).lower() == "true"


def _rule(raw: dict) -> ReceiptRule:
    actions = []
    for entry in raw.get("Actions") or []:
        for key, settings in entry.items():
            actions.append(ReceiptAction(ACTION_KINDS.get(key, key), copy.deepcopy(settings)))
    return ReceiptRule(name=raw.get("Name", ""), enabled=_flag(raw.get("Enabled")),
                       recipients=tuple(raw.get("Recipients") or ()),
                       scan_enabled=_flag(raw.get("ScanEnabled")),
                       tls_policy=raw.get("TlsPolicy") or "Optional", actions=tuple(actions))


class SesState:
    @staticmethod
    def _backend(account_id: str, region: str):
        from moto.ses.models import ses_backends  # on first use, as moto itself loads it

        return ses_backends[account_id][region]

    def rule_set(self, name: str, account_id: str, region: str) -> RuleSet | None:
        found = self._backend(account_id, region).receipt_rule_set.get(name)
        if found is None:
            return None
        return RuleSet(found.name, tuple(_rule(rule) for rule in found.rules))

    def active_rule_set(self, account_id: str, region: str) -> RuleSet | None:
        for found in list(self._backend(account_id, region).receipt_rule_set.values()):
            if found.is_active:
                return RuleSet(found.name, tuple(_rule(rule) for rule in found.rules))
        return None

    def identities(self, account_id: str, region: str) -> frozenset:
        """The verified domains and addresses, lowercase."""
        return frozenset(name.lower() for name in
                         list(self._backend(account_id, region).email_identities))

    @staticmethod
    def bucket_policy(bucket: str, account_id: str) -> list[dict] | None:
        """The statements of a bucket's policy; [] without one, None without the bucket."""
        from moto.s3.models import s3_backends

        found = s3_backends[account_id]["aws"].buckets.get(bucket)
        if found is None:
            return None
        if not found.policy:
            return []
        try:
            document = json.loads(found.policy)
        except (TypeError, ValueError):
            return []
        statements = document.get("Statement", [])
        return [statements] if isinstance(statements, dict) else list(statements)

    @staticmethod
    def topic_exists(topic_arn: str, account_id: str, region: str) -> bool:
        from moto.sns.models import sns_backends

        return topic_arn in sns_backends[account_id][region].topics
