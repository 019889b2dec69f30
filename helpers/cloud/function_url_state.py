"""Function URL configurations, kept by the lab (moto's are not the ones AWS has).

moto stores one URL configuration per function, ignores ``Qualifier`` (an alias's own
URL), has no ``ListFunctionUrlConfigs``, and gives URLs another form. The lab answers the
five operations itself (``helpers.front_doors.function_url_control``) and keeps the
configurations here, per function and alias, with AWS's URL form:
``https://<url-id>.lambda-url.<region>.on.aws/``, where the id is 32 lowercase letters
and digits. https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html
Introduced in notebook 14.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone

__all__ = ["FunctionUrlState", "UrlConfig"]

_ALPHABET = string.ascii_lowercase + string.digits


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class UrlConfig:
    function_name: str
    function_arn: str  # unqualified
    qualifier: str | None  # an alias, or None for the unpublished version ($LATEST)
    url_id: str
    auth_type: str  # "NONE" or "AWS_IAM"
    cors: dict | None
    invoke_mode: str  # "BUFFERED" or "RESPONSE_STREAM"
    region: str
    account_id: str
    creation_time: str
    last_modified: str

    @property
    def url(self) -> str:
        return f"https://{self.url_id}.lambda-url.{self.region}.on.aws/"

    @property
    def invoked_arn(self) -> str:
        return f"{self.function_arn}:{self.qualifier}" if self.qualifier else self.function_arn

    def document(self, *, last_modified: bool = True) -> dict:
        """The configuration as the Lambda API returns it."""
        document = {"FunctionUrl": self.url, "FunctionArn": self.invoked_arn,
                    "AuthType": self.auth_type, "CreationTime": self.creation_time,
                    "InvokeMode": self.invoke_mode}
        if self.cors is not None:
            document["Cors"] = self.cors
        if last_modified:
            document["LastModifiedTime"] = self.last_modified
        return document


class FunctionUrlState:
    def __init__(self):
        self._configs: dict[tuple, UrlConfig] = {}  # (account, region, name, qualifier)
        self._lock = threading.Lock()

    def get(self, account_id, region, name, qualifier) -> UrlConfig | None:
        return self._configs.get((account_id, region, name, qualifier))

    def create(self, *, account_id, region, name, function_arn, qualifier, auth_type, cors,
               invoke_mode) -> UrlConfig | None:
        """The new configuration; None if the function (or alias) already has one."""
        key = (account_id, region, name, qualifier)
        with self._lock:
            if key in self._configs:
                return None
            now = _now()
            config = UrlConfig(
                function_name=name, function_arn=function_arn, qualifier=qualifier,
                url_id="".join(secrets.choice(_ALPHABET) for _ in range(32)),
                auth_type=auth_type, cors=cors, invoke_mode=invoke_mode or "BUFFERED",
                region=region, account_id=account_id, creation_time=now, last_modified=now)
            self._configs[key] = config
            return config

    def update(self, config: UrlConfig, **changes) -> UrlConfig:
        changes = {key: value for key, value in changes.items() if value is not None}
        with self._lock:
            updated = replace(config, **changes, last_modified=_now())
            self._configs[(config.account_id, config.region, config.function_name,
                           config.qualifier)] = updated
            return updated

    def delete(self, account_id, region, name, qualifier) -> bool:
        with self._lock:
            return self._configs.pop((account_id, region, name, qualifier), None) is not None

    def of_function(self, account_id, region, name) -> list[UrlConfig]:
        """The configurations of a function and its aliases, oldest first."""
        with self._lock:
            found = [config for key, config in self._configs.items()
                     if key[:3] == (account_id, region, name)]
        return sorted(found, key=lambda config: config.creation_time)

    def by_url_id(self, url_id: str) -> UrlConfig | None:
        with self._lock:
            return next((c for c in self._configs.values() if c.url_id == url_id), None)

    def forget_function(self, account_id, region, name, qualifier=None) -> None:
        """A deleted function loses all its URLs; a deleted alias, its own."""
        with self._lock:
            for key in list(self._configs):
                if key[:3] == (account_id, region, name) and qualifier in (None, key[3]):
                    del self._configs[key]
