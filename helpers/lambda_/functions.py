"""What the Lambda service knows about a function: its spec, and the settings moto lacks.

moto keeps functions, versions, aliases and policies; ``helpers.cloud.lambda_state``
reads them into a ``FunctionSpec``, which is all the service needs to run one version.
Settings moto does not keep (or keeps wrongly) live in ``FunctionSettings``, per
function: the asynchronous invocation configuration of each version or alias, the
dead-letter queue, the recursive loop setting, the ``RevisionId`` and ``LastModified``
of each version, and a generation that grows with every change to the function, so
that the next invoke gets a new execution environment.
Introduced in notebook 01.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property

__all__ = ["EVENT_INVOKE_DEFAULTS", "FunctionSettings", "FunctionSpec", "Settings"]

# https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html
EVENT_INVOKE_DEFAULTS = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600}
DEFAULT_RECURSIVE_LOOP = "Terminate"


@dataclass(frozen=True)
class FunctionSpec:
    """What the Lambda service needs to run one version of a function."""

    name: str
    arn: str  # unqualified
    version: str  # "$LATEST" or "1", "2", ...
    runtime: str
    handler: str
    code_zip: bytes
    code_sha256: str
    memory_size: int
    timeout: int
    environment: dict = field(default_factory=dict)
    reserved_concurrency: int | None = None
    region: str = "us-east-1"
    account_id: str = "123456789012"
    generation: int = 0  # FunctionSettings.generation when the spec was read
    ephemeral_storage: int = 512  # MB of /tmp
    alias: str | None = None  # the alias invoked, when the version came from one

    @cached_property
    def fingerprint(self) -> tuple:
        """Changes whenever the function changes: environments of another one retire."""
        return (self.generation, self.code_sha256, self.handler, self.runtime,
                self.memory_size, self.timeout, self.ephemeral_storage,
                tuple(sorted(self.environment.items())))

    @property
    def version_arn(self) -> str:
        return f"{self.arn}:{self.version}"


@dataclass
class FunctionSettings:
    """One function's settings that the lab keeps itself."""

    event_invoke: dict = field(default_factory=dict)  # qualifier -> (config, last modified)
    dead_letter: dict | None = None  # {"TargetArn": ...}
    recursive_loop: str = DEFAULT_RECURSIVE_LOOP
    generation: int = 0
    revisions: dict = field(default_factory=dict)  # version -> (RevisionId, LastModified)

    def revision_of(self, version: str) -> tuple[str, str] | None:
        return self.revisions.get(version)


def _last_modified(epoch_ms: int) -> str:
    """A time as Lambda writes ``LastModified`` (``2024-01-01T12:00:00.000+0000``)."""
    seconds, ms = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}+0000"


class Settings:
    """The lab's settings of every function, keyed by unqualified function ARN."""

    def __init__(self):
        self._settings: dict[str, FunctionSettings] = {}
        self._lock = threading.Lock()
        self._generations = 0
        self._last_ms = 0  # each change gets a later LastModified, even within 1 ms

    def of(self, function_arn: str) -> FunctionSettings:
        with self._lock:
            settings = self._settings.get(function_arn)
            if settings is None:
                settings = self._settings[function_arn] = FunctionSettings()
            return settings

    def changed(self, function_arn: str) -> None:
        """The function's code or configuration changed: its environments are stale."""
        with self._lock:
            self._generations += 1
            settings = self._settings.setdefault(function_arn, FunctionSettings())
            settings.generation = self._generations
            self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
            settings.revisions["$LATEST"] = (str(uuid.uuid4()), _last_modified(self._last_ms))

    def published(self, function_arn: str, version: str) -> None:
        """A version was published: it has its own RevisionId, and $LATEST's LastModified."""
        with self._lock:
            settings = self._settings.setdefault(function_arn, FunctionSettings())
            latest = settings.revisions.get("$LATEST")
            modified = latest[1] if latest else _last_modified(int(time.time() * 1000))
            settings.revisions[version] = (str(uuid.uuid4()), modified)

    def forget(self, function_arn: str) -> None:
        """The function was deleted: a function made later with its name starts afresh."""
        with self._lock:
            self._generations += 1
            self._settings[function_arn] = FunctionSettings(generation=self._generations)

    def event_invoke_config(self, function_arn: str, qualifier: str | None) -> dict:
        """The asynchronous settings an invoke of ``qualifier`` uses, AWS's defaults filled in."""
        config = dict(EVENT_INVOKE_DEFAULTS)
        stored = self.of(function_arn).event_invoke.get(qualifier or "$LATEST")
        if stored:
            config.update(stored[0])
        config.setdefault("DestinationConfig", {})
        return config

    def put_event_invoke_config(self, function_arn: str, qualifier: str | None,
                                config: dict) -> float:
        modified = time.time()
        with self._lock:
            self._settings.setdefault(function_arn, FunctionSettings()).event_invoke[
                qualifier or "$LATEST"] = (config, modified)
        return modified
