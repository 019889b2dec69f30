"""The lab's SNS signing key: each notification is signed as SNS signs it, with a key of the
lab's own (made on first use; its certificate is not published anywhere).

``SignatureVersion`` "1" signs with SHA1withRSA, "2" with SHA256withRSA.
https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
"""

from __future__ import annotations

import base64
import threading
import uuid

__all__ = ["Signer"]


class Signer:
    def __init__(self):
        self._key = None
        self._lock = threading.Lock()
        self.certificate_name = f"SimpleNotificationService-{uuid.uuid4().hex}.pem"

    def certificate_url(self, region: str) -> str:
        return f"https://sns.{region}.amazonaws.com/{self.certificate_name}"

    def _private_key(self):
        with self._lock:
            if self._key is None:
                from cryptography.hazmat.primitives.asymmetric import rsa

                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def public_key_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self._private_key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, text: str, version: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        digest = hashes.SHA256() if version == "2" else hashes.SHA1()
        signature = self._private_key().sign(text.encode(), padding.PKCS1v15(), digest)
        return base64.b64encode(signature).decode()
