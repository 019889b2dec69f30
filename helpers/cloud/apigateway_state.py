"""Views of moto's REST APIs (apigateway) and HTTP APIs (apigatewayv2), as plain data.

moto keeps the APIs but never serves them; the lab's front door
(``helpers.front_doors.api_gateway``) reads them through this module. It also keeps
what moto does not: a REST API deployment is a frozen snapshot in AWS (a stage serves
its deployment until the next one), so ``snapshot`` is taken when CreateDeployment
succeeds and kept here. ``restore_stage`` and ``set_binary_media_types`` mend the two
things moto's model gets wrong (a redeployed stage losing its variables; binary media
types dropped on create). moto keeps no deployments of HTTP APIs: the lab keeps them
here, and a stage without ``AutoDeploy`` serves its deployment, not the API's latest
routes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

REST_TIMEOUT_MS = (50, 29000)
HTTP_TIMEOUT_MS = (50, 30000)

__all__ = ["ApiGatewayState", "HttpStageSpec", "RestStageSpec"]


@dataclass(frozen=True)
class RestMethodSpec:
    """One method of a deployed REST API resource, with its integration."""

    http_method: str
    authorization_type: str | None
    integration_type: str | None
    uri: str | None
    timeout_ms: int
    credentials: str | None


@dataclass(frozen=True)
class RestResourceSpec:
    resource_id: str
    path: str  # the template, e.g. /items/{id}
    methods: dict  # HTTP method (or ANY) -> RestMethodSpec


@dataclass(frozen=True)
class RestStageSpec:
    """A REST API stage as it serves requests: its deployment's snapshot and variables."""

    api_id: str
    name: str
    deployment_id: str
    variables: dict
    resources: tuple  # RestResourceSpec, as deployed
    binary_media_types: tuple
    region: str
    account_id: str


@dataclass(frozen=True)
class HttpIntegrationSpec:
    integration_id: str
    integration_type: str
    uri: str | None
    payload_format_version: str
    timeout_ms: int
    credentials: str | None


@dataclass(frozen=True)
class HttpRouteSpec:
    route_key: str  # "GET /items/{id}" or "$default"
    integration: HttpIntegrationSpec | None


@dataclass(frozen=True)
class HttpStageSpec:
    api_id: str
    name: str
    variables: dict
    routes: tuple  # HttpRouteSpec
    region: str
    account_id: str


class ApiGatewayState:
    def __init__(self):
        self._snapshots: dict[str, tuple] = {}  # deployment id -> (resources, media types)
        # HTTP APIs (moto keeps no deployments of them): api id -> {deployment id: record}
        self._http_deployments: dict[str, dict[str, dict]] = {}
        self._http_stage_deployment: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    # moto's API Gateway modules are imported on first use: loading them takes a second.

    @staticmethod
    def _rest(account_id: str, region: str):
        from moto.apigateway.models import apigateway_backends

        return apigateway_backends[account_id][region]

    @staticmethod
    def _http(account_id: str, region: str):
        from moto.apigatewayv2.models import apigatewayv2_backends

        return apigatewayv2_backends[account_id][region]

    # -- REST APIs --------------------------------------------------------------------------

    def kind(self, api_id: str, account_id: str, region: str) -> str | None:
        """"REST", "HTTP" or "WEBSOCKET" for an API id, or None if there is no such API."""
        if api_id in self._rest(account_id, region).apis:
            return "REST"
        api = self._http(account_id, region).apis.get(api_id)
        return api.protocol_type if api is not None else None

    def rest_stage_names(self, api_id: str, account_id: str, region: str) -> list[str]:
        api = self._rest(account_id, region).apis.get(api_id)
        return sorted(api.stages) if api is not None else []

    def http_stage_names(self, api_id: str, account_id: str, region: str) -> list[str]:
        api = self._http(account_id, region).apis.get(api_id)
        return sorted(api.stages) if api is not None else []

    def snapshot(self, api_id: str, deployment_id: str, account_id: str, region: str) -> None:
        """Freeze the API as it is now for the deployment just made."""
        api = self._rest(account_id, region).apis[api_id]
        resources = []
        for resource in list(api.resources.values()):
            methods = {}
            for verb, method in list(resource.resource_methods.items()):
                integration = method.method_integration
                methods[verb] = RestMethodSpec(
                    http_method=verb, authorization_type=method.authorization_type,
                    integration_type=integration.integration_type if integration else None,
                    uri=integration.uri if integration else None,
                    timeout_ms=int((integration.timeout_in_millis if integration else None)
                                   or REST_TIMEOUT_MS[1]),
                    credentials=integration.credentials if integration else None)
            resources.append(RestResourceSpec(resource.id, resource.get_path(), methods))
        with self._lock:
            self._snapshots[deployment_id] = (tuple(resources),
                                              tuple(api.binaryMediaTypes or ()))

    def stage_object(self, api_id: str, stage_name: str, account_id: str, region: str):
        api = self._rest(account_id, region).apis.get(api_id)
        return api.stages.get(stage_name) if api is not None else None

    def restore_stage(self, api_id: str, stage, deployment_id: str, variables: dict,
                      account_id: str, region: str) -> None:
        """A stage deployed again keeps its settings and variables, as in AWS (moto
        replaces it with a new one)."""
        api = self._rest(account_id, region).apis[api_id]
        stage.deployment_id = deployment_id
        stage.variables = {**(stage.variables or {}), **(variables or {})}
        api.stages[stage.name] = stage

    def set_binary_media_types(self, api_id: str, media_types: list, account_id: str,
                               region: str) -> dict:
        api = self._rest(account_id, region).apis[api_id]
        api.binaryMediaTypes = list(media_types)
        return api.to_dict()

    def patch_binary_media_types(self, api_id: str, operations: list, account_id: str,
                                 region: str) -> None:
        """Apply ``/binaryMediaTypes/image~1png`` patch operations (moto misreads them)."""
        api = self._rest(account_id, region).apis[api_id]
        for op in operations:
            media = op["path"].split("/", 2)[2].replace("~1", "/").replace("~0", "~")
            if op["op"] == "add" and media not in api.binaryMediaTypes:
                api.binaryMediaTypes.append(media)
            elif op["op"] == "remove" and media in api.binaryMediaTypes:
                api.binaryMediaTypes.remove(media)

    def rest_stage(self, api_id: str, stage_name: str, account_id: str,
                   region: str) -> RestStageSpec | None:
        """The stage's deployed snapshot, or None if the API, stage or deployment is missing."""
        api = self._rest(account_id, region).apis.get(api_id)
        stage = api.stages.get(stage_name) if api is not None else None
        deployment = api.deployments.get(stage.deployment_id) if stage is not None else None
        if deployment is None:
            return None
        with self._lock:
            snapshot = self._snapshots.get(deployment.id)
        if snapshot is None:
            self.snapshot(api_id, deployment.id, account_id, region)
            snapshot = self._snapshots[deployment.id]
        return RestStageSpec(
            api_id=api_id, name=stage_name, deployment_id=deployment.id,
            variables=dict(stage.variables or {}), resources=snapshot[0],
            binary_media_types=snapshot[1], region=region, account_id=account_id)

    # -- HTTP APIs --------------------------------------------------------------------------

    def http_api(self, api_id: str, account_id: str, region: str):
        return self._http(account_id, region).apis.get(api_id)

    def http_integration(self, api_id: str, integration_id: str, account_id: str, region: str):
        api = self.http_api(api_id, account_id, region)
        return api.get_integration(integration_id) if api is not None else None

    def http_stage(self, api_id: str, stage_name: str, account_id: str,
                   region: str) -> HttpStageSpec | None:
        """An HTTP API stage as it serves requests: the API's current routes when the stage
        deploys automatically, else its deployment's snapshot; None if the API or stage is
        missing, or the stage has no deployment yet."""
        api = self.http_api(api_id, account_id, region)
        if api is None or api.protocol_type != "HTTP" or stage_name not in api.stages:
            return None
        stage = api.stages[stage_name]
        if stage.auto_deploy:
            routes = self._http_routes(api)
        else:
            with self._lock:
                deployment_id = self._http_stage_deployment.get((api_id, stage_name))
                record = self._http_deployments.get(api_id, {}).get(deployment_id)
            if record is None:
                return None
            routes = record["routes"]
        return HttpStageSpec(api_id=api_id, name=stage_name,
                             variables=dict(stage.stage_variables or {}), routes=routes,
                             region=region, account_id=account_id)

    @staticmethod
    def _http_routes(api) -> tuple:
        """The API's routes now, each with its integration."""
        integrations = {}
        for integration in list(api.integrations.values()):
            integrations[integration.id] = HttpIntegrationSpec(
                integration_id=integration.id, integration_type=integration.integration_type,
                uri=integration.integration_uri,
                payload_format_version=integration.payload_format_version or "1.0",
                timeout_ms=int(integration.timeout_in_millis or HTTP_TIMEOUT_MS[1]),
                credentials=integration.credentials_arn)
        routes = []
        for route in list(api.routes.values()):
            target = route.target or ""
            integration_id = target.split("/", 1)[1] if target.startswith("integrations/") else None
            routes.append(HttpRouteSpec(route.route_key, integrations.get(integration_id)))
        return tuple(routes)

    # -- HTTP API deployments (the lab keeps them) -------------------------------------------

    def create_http_deployment(self, api_id: str, description: str | None, account_id: str,
                               region: str, auto: bool = False) -> dict:
        """A snapshot of the API's routes and integrations now (``auto``: made by AutoDeploy)."""
        import secrets
        from datetime import datetime, timezone

        api = self.http_api(api_id, account_id, region)
        record = {"DeploymentId": secrets.token_hex(3), "DeploymentStatus": "DEPLOYED",
                  "AutoDeployed": auto,
                  "CreatedDate": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "routes": self._http_routes(api)}
        if description:
            record["Description"] = description
        with self._lock:
            self._http_deployments.setdefault(api_id, {})[record["DeploymentId"]] = record
        return record

    def http_deployments(self, api_id: str) -> list[dict]:
        with self._lock:
            return list(self._http_deployments.get(api_id, {}).values())

    def http_deployment(self, api_id: str, deployment_id: str) -> dict | None:
        with self._lock:
            return self._http_deployments.get(api_id, {}).get(deployment_id)

    def delete_http_deployment(self, api_id: str, deployment_id: str) -> bool:
        with self._lock:
            return self._http_deployments.get(api_id, {}).pop(deployment_id, None) is not None

    def set_http_stage_deployment(self, api_id: str, stage_name: str,
                                  deployment_id: str | None) -> None:
        with self._lock:
            if deployment_id is None:
                self._http_stage_deployment.pop((api_id, stage_name), None)
            else:
                self._http_stage_deployment[(api_id, stage_name)] = deployment_id

    def http_stage_deployment(self, api_id: str, stage_name: str) -> str | None:
        with self._lock:
            return self._http_stage_deployment.get((api_id, stage_name))
