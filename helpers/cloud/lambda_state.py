"""Read-only views of moto's Lambda functions, in the shape the Lambda service needs.

``LambdaState.find`` resolves any documented form of a function's name (name,
``name:qualifier``, partial or full ARN, an alias or a version as qualifier) through
moto, and answers the Lambda API's own 404 when there is no such function. An alias
with ``RoutingConfig.AdditionalVersionWeights`` sends each invoke to one of its versions
at random, with those weights, as Lambda does
(https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html). Nothing
here changes moto's state.
"""

from __future__ import annotations

import random

from ..aws import function_arn, function_name_parts
from ..errors import LambdaApiError
from ..lambda_.functions import FunctionSpec, Settings

__all__ = ["LambdaState"]


def _not_found(message: str) -> LambdaApiError:
    return LambdaApiError(404, "ResourceNotFoundException", message)


class LambdaState:
    def __init__(self, settings: Settings):
        self.settings = settings

    @staticmethod
    def _backend(account_id: str, region: str):
        from moto.awslambda.models import lambda_backends  # on first use

        return lambda_backends[account_id][region]

    def _moto_function(self, name_or_arn: str, qualifier: str | None, account_id: str,
                       region: str):
        parts = function_name_parts(name_or_arn, qualifier)
        if parts is None:
            raise LambdaApiError(
                400, "ValidationException",
                f"1 validation error detected: Value '{name_or_arn}' at 'functionName' failed "
                "to satisfy constraint: Member must satisfy regular expression pattern: "
                "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
        account = parts.account or account_id
        region = parts.region or region
        from moto.core.exceptions import JsonRESTError

        backend = self._backend(account, region)
        try:
            fn = backend.get_function(parts.name, parts.qualifier)
        except JsonRESTError as error:
            raise LambdaApiError(error.code, error.error_type, error.message) from None
        return fn, parts

    @staticmethod
    def _weighted(backend, fn, parts):
        """(the version an invoke of a weighted alias runs, the alias) or (fn, None)."""
        qualifier = parts.qualifier
        if not qualifier or qualifier == "$LATEST" or qualifier.isdigit():
            return fn, None
        try:
            alias = backend.get_alias(qualifier, parts.name)
        except Exception:  # not an alias
            return fn, None
        weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        draw, total = random.random(), 0.0
        for version, weight in sorted(weights.items()):
            total += float(weight)
            if draw < total:
                return backend.get_function(parts.name, str(version)), qualifier
        return fn, qualifier

    def find(self, name_or_arn: str, qualifier: str | None, account_id: str,
             region: str) -> FunctionSpec:
        """The function version that ``name_or_arn`` and ``qualifier`` resolve to."""
        fn, parts = self._moto_function(name_or_arn, qualifier, account_id, region)
        backend = self._backend(fn.account_id, fn.region)
        fn, alias = self._weighted(backend, fn, parts)
        latest = backend.get_function(fn.function_name)
        arn = function_arn(fn.function_name, fn.region, fn.account_id)
        return FunctionSpec(
            name=fn.function_name, arn=arn, version=str(fn.version),
            runtime=fn.run_time or "", handler=fn.handler or "", code_zip=fn.code_bytes,
            code_sha256=fn.code_sha_256, memory_size=int(fn.memory_size),
            timeout=int(fn.timeout), environment=dict(fn.environment_vars or {}),
            reserved_concurrency=(None if latest.reserved_concurrency is None
                                  else int(latest.reserved_concurrency)),
            region=fn.region, account_id=fn.account_id,
            generation=self.settings.of(arn).generation,
            ephemeral_storage=int(fn.ephemeral_storage or 512), alias=alias,
        )

    def exists(self, name_or_arn: str, account_id: str, region: str) -> bool:
        try:
            self._moto_function(name_or_arn, None, account_id, region)
        except LambdaApiError:
            return False
        return True

    def policy_statements(self, name: str, qualifier: str | None, account_id: str,
                          region: str) -> list[dict]:
        """The statements of a function's (or a version's or alias's) resource policy."""
        try:
            fn, _ = self._moto_function(name, qualifier, account_id, region)
            return [dict(statement) for statement in fn.policy.statements]
        except Exception:  # no such function, or no policy yet
            return []

    def reserved_total(self, account_id: str, region: str) -> int:
        """Concurrency reserved by every function of the account in the region."""
        return sum(int(fn.reserved_concurrency or 0)
                   for fn in self._backend(account_id, region).list_functions())
