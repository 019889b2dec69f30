"""Signature Version 4, checked at the front for every AWS API request.

Each lab has its own random credentials; the kernel and its functions sign with them
(botocore does it for every call), and so does an IAM user's access key made in the
lab. The front recomputes each request's signature the way AWS does and refuses a
request that is unsigned, signed with an unknown key or wrongly signed, with the
service's own error: no other local user can call the lab's APIs.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html

S3 URLs presigned with the older Signature Version 2 (boto3's default for
``generate_presigned_url`` on S3) are checked too. The canonical request follows
botocore's signer (``botocore.auth.SigV4Auth``): the path
as sent (for S3) or normalized and quoted once more (every other service), the query
pairs sorted, the signed headers trimmed, and the payload's SHA-256 (or the
``X-Amz-Content-SHA256`` header's value).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, unquote

from ..errors import AwsError

__all__ = ["SignatureChecker", "missing_signature"]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you "
                 "provided. Check your AWS Secret Access Key and signing method. Consult the "
                 "service documentation for details.")
S3_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you "
                    "provided. Check your key and signing method.")
UNKNOWN_KEY = "The security token included in the request is invalid."
# Query parameters that are part of what an S3 Signature Version 2 signs (botocore's list).
S3_SUBRESOURCES = {
    "accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging", "partNumber",
    "policy", "requestPayment", "torrent", "versioning", "versionId", "versions", "website",
    "uploads", "uploadId", "response-content-type", "response-content-language",
    "response-expires", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "delete", "lifecycle", "tagging", "restore", "storageClass",
    "notification", "replication", "analytics", "metrics", "inventory", "select",
    "select-type", "object-lock"}


def _errors(protocol: str) -> dict:
    """The service's error for (missing, unknown key, bad signature)."""
    if protocol == "s3":
        return {"missing": ("AccessDenied", "Access Denied"),
                "unknown": ("InvalidAccessKeyId", "The AWS Access Key Id you provided does "
                            "not exist in our records."),
                "bad": ("SignatureDoesNotMatch", S3_BAD_SIGNATURE),
                "expired": ("AccessDenied", "Request has expired")}
    if protocol == "query":
        return {"missing": ("MissingAuthenticationToken",
                            "Request is missing Authentication Token"),
                "unknown": ("InvalidClientTokenId", UNKNOWN_KEY),
                "bad": ("SignatureDoesNotMatch", BAD_SIGNATURE),
                "expired": ("ExpiredToken", "The security token included in the request is "
                            "expired")}
    return {"missing": ("MissingAuthenticationTokenException", "Missing Authentication Token"),
            "unknown": ("UnrecognizedClientException", UNKNOWN_KEY),
            "bad": ("InvalidSignatureException", BAD_SIGNATURE),
            "expired": ("ExpiredTokenException", "The security token included in the request "
                        "is expired")}


def _refused(protocol: str, which: str) -> AwsError:
    code, message = _errors(protocol)[which]
    return AwsError(403, code, message)


def missing_signature(protocol: str) -> AwsError:
    return _refused(protocol, "missing")


def _normalize(path: str) -> str:
    """RFC 3986 dot-segment removal, as botocore's ``normalize_url_path``."""
    if not path:
        return "/"
    output = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    result = "/" + "/".join(output)
    if path.endswith("/") and result != "/":
        result += "/"
    return result


def _trim(value: str) -> str:
    return " ".join(value.split())


class SignatureChecker:
    """Checks requests against the secrets ``secret_for(access_key)`` knows (None: unknown)."""

    def __init__(self, secret_for):
        self.secret_for = secret_for
        self._keys: dict[tuple, bytes] = {}
        self._lock = threading.Lock()

    def _signing_key(self, secret: str, date: str, region: str, service: str) -> bytes:
        cache = (secret, date, region, service)
        key = self._keys.get(cache)
        if key is None:
            key = f"AWS4{secret}".encode()
            for part in (date, region, service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            with self._lock:
                if len(self._keys) > 256:
                    self._keys.clear()
                self._keys[cache] = key
        return key

    def check(self, request, protocol: str) -> str:
        """The request's access key, once its signature is right; AwsError otherwise.

        ``protocol``: "s3", "query" or anything else (JSON services) for the errors' shape.
        """
        http = request.http
        authorization = http.header("authorization") or ""
        if authorization.startswith("AWS4-HMAC-SHA256 "):
            fields = {}
            for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","):
                name, _, value = part.strip().partition("=")
                fields[name] = value
            credential = fields.get("Credential", "")
            signed_headers = fields.get("SignedHeaders", "")
            signature = fields.get("Signature", "")
            timestamp = http.header("x-amz-date") or ""
            query_pairs = [pair for pair in http.query.split("&") if pair]
            payload = http.header("x-amz-content-sha256")
            if payload is None:
                payload = hashlib.sha256(http.body).hexdigest() if http.body else EMPTY_SHA256
        elif "X-Amz-Signature=" in http.query:  # a presigned URL
            params = dict(parse_qsl(http.query, keep_blank_values=True))
            credential = params.get("X-Amz-Credential", "")
            signed_headers = params.get("X-Amz-SignedHeaders", "")
            signature = params.get("X-Amz-Signature", "")
            timestamp = params.get("X-Amz-Date", "")
            query_pairs = [pair for pair in http.query.split("&")
                           if pair and not pair.startswith("X-Amz-Signature=")]
            payload = "UNSIGNED-PAYLOAD"
            try:
                signed_at = datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(
                    tzinfo=timezone.utc).timestamp()
                expires = int(params.get("X-Amz-Expires", "0"))
            except ValueError:
                raise _refused(protocol, "bad") from None
            if time.time() > signed_at + expires:
                raise _refused(protocol, "expired")
        elif protocol == "s3" and "Signature=" in http.query:
            return self._check_s3_v2_query(http, protocol)
        else:
            raise _refused(protocol, "missing")
        pieces = credential.split("/")
        if len(pieces) != 5 or not signature or not timestamp:
            raise _refused(protocol, "bad")
        access_key, date, region, service, _ = pieces
        secret = self.secret_for(access_key)
        if secret is None:
            raise _refused(protocol, "unknown")
        raw_path = http.path
        path = raw_path if protocol == "s3" else quote(_normalize(raw_path), safe="/~")
        query = "&".join(f"{k}={v}" for k, v in sorted(p.partition("=")[::2]
                                                        for p in query_pairs))
        names = [name for name in signed_headers.split(";") if name]
        values = {}
        for name, value in http.headers:
            lowered = name.lower()
            if lowered in names:
                values[lowered] = (f"{values[lowered]},{_trim(value)}" if lowered in values
                                   else _trim(value))
        canonical_headers = "".join(f"{name}:{values.get(name, '')}\n" for name in names)
        canonical = "\n".join((http.method.upper(), path, query, canonical_headers,
                               signed_headers, payload))
        string_to_sign = "\n".join((
            "AWS4-HMAC-SHA256", timestamp, f"{date}/{region}/{service}/aws4_request",
            hashlib.sha256(canonical.encode()).hexdigest()))
        expected = hmac.new(self._signing_key(secret, date, region, service),
                            string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise _refused(protocol, "bad")
        return access_key

    def _check_s3_v2_query(self, http, protocol: str) -> str:
        """An S3 URL presigned with Signature Version 2 (boto3's default for S3 URLs).
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html"""
        params = dict(parse_qsl(http.query, keep_blank_values=True))
        access_key = params.get("AWSAccessKeyId", "")
        secret = self.secret_for(access_key)
        if secret is None:
            raise _refused(protocol, "unknown")
        try:
            expires = int(params.get("Expires", "0"))
        except ValueError:
            raise _refused(protocol, "bad") from None
        if time.time() > expires:
            raise _refused(protocol, "expired")
        amz = {name.lower(): _trim(value) for name, value in http.headers
               if name.lower().startswith("x-amz-")}
        if "x-amz-security-token" in params:
            amz["x-amz-security-token"] = params["x-amz-security-token"]
        resource = http.path
        kept = sorted((key, value) for key, _, value in
                      (pair.partition("=") for pair in http.query.split("&") if pair)
                      if key in S3_SUBRESOURCES)
        if kept:
            resource += "?" + "&".join(f"{k}={unquote(v)}" if v else k for k, v in kept)
        string_to_sign = "\n".join((
            http.method.upper(), http.header("content-md5", ""), http.header("content-type", ""),
            str(expires), *(f"{k}:{v}" for k, v in sorted(amz.items())), resource))
        expected = base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(),
                                             hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, params.get("Signature", "")):
            raise _refused(protocol, "bad")
        return access_key
