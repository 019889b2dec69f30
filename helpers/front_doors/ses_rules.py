"""How SES decides which receipt rules a message matches, and the verdicts it reports.

Recipient conditions
(https://docs.aws.amazon.com/ses/latest/dg/receiving-email-receipt-rules-console-walkthrough.html):
``user@example.com`` matches that address and its labelled forms
(``user+anything@example.com``), a condition with a label only that label;
``example.com`` matches every address of the domain but none of its subdomains;
``.example.com`` (a leading dot) matches every subdomain but not the domain itself. A
rule without conditions matches every recipient of the verified identities. Matching
ignores case.

Verdicts. AWS checks SPF and DMARC in DNS and scans the content
(https://docs.aws.amazon.com/ses/latest/dg/receiving-email-concepts.html#receiving-email-auth-and-scan);
the lab reaches no DNS, so it decides from what it has, as it says in notebook 09:

- spam: FAIL when the message holds GTUBE, the standard test string spam filters flag
  (https://spamassassin.apache.org/gtube/); PASS otherwise;
- virus: FAIL when the message, or an attachment once decoded, holds the EICAR
  anti-virus test string (https://www.eicar.org/download-anti-malware-testfile/);
- both GRAY when the rule does not ask for scanning (``ScanEnabled`` false);
- SPF: the lab treats every domain verified in its SES as publishing an SPF record that
  permits this machine: PASS when the envelope sender's domain (or a parent) is
  verified, GRAY (no SPF record) otherwise;
- DKIM: GRAY for an unsigned message; PROCESSING_FAILED for a signed one (the signer's
  key is in DNS, out of reach);
- DMARC: verified domains are treated as publishing ``p=reject``: for a From: domain
  that is verified, PASS when SPF passed for the same domain (or a subdomain), FAIL
  otherwise; GRAY (no DMARC policy) for other From: domains.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.utils import getaddresses

from ..events.ses import parse_headers

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# Kept in two pieces so that no scanner mistakes this source file for the test file.
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
LAB_DMARC_POLICY = "reject"  # what the lab takes a verified domain's DMARC policy to be

__all__ = ["EICAR", "GTUBE", "Verdicts", "covered_by_identity", "decide_verdicts",
           "domain_of", "recipient_matches", "rule_recipients"]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def recipient_matches(condition: str, address: str) -> bool:
    """Does one recipient condition of a receipt rule match an envelope recipient?"""
    condition, address = condition.strip().lower(), address.strip().lower()
    local, _, domain = address.rpartition("@")
    if "@" in condition:
        wanted_local, _, wanted_domain = condition.rpartition("@")
        if wanted_domain != domain:
            return False
        if "+" in wanted_local:
            return local == wanted_local
        return local.split("+", 1)[0] == wanted_local
    if condition.startswith("."):
        return domain.endswith(condition)
    return domain == condition


def covered_by_identity(address: str, identities: frozenset) -> bool:
    """Is the address, its domain or a parent domain a verified identity?"""
    address = address.lower()
    if address in identities:
        return True
    parts = domain_of(address).split(".")
    return any(".".join(parts[start:]) in identities for start in range(len(parts) - 1))


def rule_recipients(rule, recipients: list[str], identities: frozenset) -> list[str]:
    """The envelope recipients an enabled rule applies to (in the order they came)."""
    if not rule.enabled:
        return []
    mine = [r for r in recipients if covered_by_identity(r, identities)]
    if not rule.recipients:
        return mine
    return [r for r in mine if any(recipient_matches(c, r) for c in rule.recipients)]


@dataclass(frozen=True)
class Verdicts:
    spam: str
    virus: str
    spf: str
    dkim: str
    dmarc: str
    dmarc_policy: str | None = None

    def as_event(self) -> dict:
        return {"spamVerdict": self.spam, "virusVerdict": self.virus, "spfVerdict": self.spf,
                "dkimVerdict": self.dkim, "dmarcVerdict": self.dmarc}


def _holds(raw: bytes, text: str) -> bool:
    if text.encode() in raw:
        return True
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:  # a part that does not decode cannot hold it either
            continue
        if text.encode() in payload:
            return True
    return False


def _aligned(first: str, second: str) -> bool:
    return first == second or first.endswith("." + second) or second.endswith("." + first)


def decide_verdicts(raw: bytes, mail_from: str, identities: frozenset,
                    scan: bool) -> Verdicts:
    """The verdicts of one message for a rule that does (or does not) scan."""
    headers = parse_headers(raw)
    spam = virus = "GRAY"
    if scan:
        spam = "FAIL" if _holds(raw, GTUBE) else "PASS"
        virus = "FAIL" if _holds(raw, EICAR) else "PASS"
    sender_domain = domain_of(mail_from) if "@" in mail_from else ""
    spf = "PASS" if sender_domain and covered_by_identity("x@" + sender_domain,
                                                         identities) else "GRAY"
    signed = any(name.lower() == "dkim-signature" for name, _ in headers)
    dkim = "PROCESSING_FAILED" if signed else "GRAY"
    senders = [address for name, value in headers if name.lower() == "from"
               for _, address in getaddresses([value]) if "@" in address]
    from_domain = domain_of(senders[0]) if senders else ""
    dmarc, policy = "GRAY", None
    if from_domain and covered_by_identity("x@" + from_domain, identities):
        passed = spf == "PASS" and _aligned(sender_domain, from_domain)
        dmarc, policy = ("PASS", None) if passed else ("FAIL", LAB_DMARC_POLICY)
    return Verdicts(spam, virus, spf, dkim, dmarc, policy)
