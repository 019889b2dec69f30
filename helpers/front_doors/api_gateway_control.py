"""API Gateway's control plane as moto answers it, mended at the lab's front."""

from __future__ import annotations

import json

from ..errors import AwsError

REST_TIMEOUT_MS = (50, 29000)
HTTP_TIMEOUT_MS = (50, 30000)

__all__ = ["ControlPlane", "register_control_plane"]


class ControlPlane:
    """What moto's API Gateway gets wrong, mended at the front (REST and HTTP APIs):

    - a REST API deployment freezes the API (``state.snapshot``); deploying again to a
      stage keeps its variables and settings;
    - ``timeoutInMillis`` outside 50-29,000 ms (REST) or 50-30,000 ms (HTTP APIs), and an
      HTTP API Lambda proxy integration without ``PayloadFormatVersion``, are refused;
    - ``binaryMediaTypes`` are kept on create and patched with AWS's paths
      (``/binaryMediaTypes/image~1png``).
    """

    def __init__(self, state):
        self.state = state

    def register(self, front) -> None:
        front.before("apigateway", "PutIntegration", self._check_rest_integration)
        front.before("apigateway", "CreateDeployment", self._before_deployment)
        front.after("apigateway", "CreateDeployment", self._after_deployment)
        front.after("apigateway", "CreateRestApi", self._after_create_rest_api)
        front.before("apigateway", "UpdateRestApi", self._before_update_rest_api)
        front.before("apigatewayv2", "CreateIntegration", self._check_http_integration)
        front.before("apigatewayv2", "UpdateIntegration", self._check_http_integration)

    @staticmethod
    def _bad_request(message: str) -> AwsError:
        return AwsError(400, "BadRequestException", message)

    def _check_rest_integration(self, request) -> None:
        timeout = _json(request.body).get("timeoutInMillis")
        low, high = REST_TIMEOUT_MS
        if timeout is not None and (not isinstance(timeout, int) or not low <= timeout <= high):
            raise self._bad_request(f"Timeout should be between {low} ms and {high} ms")

    def _check_http_integration(self, request) -> None:
        body = _json(request.body)
        api_id = request.params.get("apiId", "")
        api = self.state.http_api(api_id, request.account_id, request.region)
        if api is None:
            return  # moto answers NotFound
        version = body.get("payloadFormatVersion")  # apigatewayv2's wire names
        integration_type = body.get("integrationType")
        if request.operation == "UpdateIntegration":
            current = self.state.http_integration(api_id, request.params.get("integrationId"),
                                                  request.account_id, request.region)
            if current is not None:
                version = version or current.payload_format_version
                integration_type = integration_type or current.integration_type
        timeout = body.get("timeoutInMillis")
        low, high = HTTP_TIMEOUT_MS
        if timeout is not None and (not isinstance(timeout, int) or not low <= timeout <= high):
            raise self._bad_request(f"TimeoutInMillis must be between {low} and {high} "
                                    "milliseconds for an HTTP API.")
        if version is not None and version not in ("1.0", "2.0"):
            raise self._bad_request("PayloadFormatVersion must be 1.0 or 2.0.")
        if api.protocol_type == "HTTP" and integration_type == "AWS_PROXY" and version is None:
            raise self._bad_request("PayloadFormatVersion is required for an HTTP API's "
                                    "AWS_PROXY integration: use 1.0 or 2.0.")

    def _before_deployment(self, request) -> None:
        stage_name = _json(request.body).get("stageName")
        request.existing_stage = (self.state.stage_object(
            request.params.get("restapi_id", ""), stage_name, request.account_id,
            request.region) if stage_name else None)

    def _after_deployment(self, request, response) -> None:
        if response.status >= 300:
            return
        api_id = request.params.get("restapi_id", "")
        deployment_id = _json(response.body)["id"]
        self.state.snapshot(api_id, deployment_id, request.account_id, request.region)
        stage = getattr(request, "existing_stage", None)
        if stage is not None:
            self.state.restore_stage(api_id, stage, deployment_id,
                                     _json(request.body).get("variables") or {},
                                     request.account_id, request.region)

    def _after_create_rest_api(self, request, response) -> None:
        media = _json(request.body).get("binaryMediaTypes")
        if media and response.status < 300:
            document = self.state.set_binary_media_types(
                _json(response.body)["id"], media, request.account_id, request.region)
            response.body = json.dumps(document).encode()

    def _before_update_rest_api(self, request) -> None:
        body = _json(request.body)
        operations = body.get("patchOperations") or []
        media = [op for op in operations if op.get("op") in ("add", "remove")
                 and str(op.get("path", "")).startswith("/binaryMediaTypes/")]
        if media:
            self.state.patch_binary_media_types(request.params.get("restapi_id", ""), media,
                                                request.account_id, request.region)
            body["patchOperations"] = [op for op in operations if op not in media]
            request.http.body = json.dumps(body).encode()


def register_control_plane(front, state) -> None:
    from .http_api_deployments import HttpApiDeployments

    ControlPlane(state).register(front)
    HttpApiDeployments(state).register(front)


def _json(body: bytes) -> dict:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
