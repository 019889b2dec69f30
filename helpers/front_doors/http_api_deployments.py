"""HTTP API deployments, answered by the lab (moto keeps none), and stages that use them.

A deployment is a snapshot of an HTTP API's routes and integrations. A stage serves its
deployment, so a change to the API reaches clients only once it is deployed again,
unless the stage has ``AutoDeploy`` turned on (off by default): then every change is
released by itself. https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html

The lab answers ``CreateDeployment`` (with a ``StageName``, the stage moves to the new
deployment), ``GetDeployment(s)``, ``UpdateDeployment``, ``DeleteDeployment`` and
``UpdateStage`` (``AutoDeploy``, ``DeploymentId``, ``StageVariables``, ``Description``),
and adds each stage's ``DeploymentId`` to what moto answers for ``CreateStage``,
``GetStage`` and ``GetStages``. Introduced in notebook 07.
"""

from __future__ import annotations

import json

from ..errors import AwsError
from ..server import Response

__all__ = ["HttpApiDeployments"]

SHOWN = ("DeploymentId", "DeploymentStatus", "AutoDeployed", "CreatedDate", "Description")


def _camel(record: dict) -> dict:
    """apigatewayv2 speaks camelCase on the wire (deploymentId, createdDate, ...)."""
    return {key[0].lower() + key[1:]: value for key, value in record.items() if key in SHOWN}


def _json(body: bytes) -> dict:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _not_found(message: str) -> AwsError:
    return AwsError(404, "NotFoundException", message)


class HttpApiDeployments:
    def __init__(self, state):
        self.state = state  # helpers.cloud.apigateway_state.ApiGatewayState

    def register(self, front) -> None:
        service = "apigatewayv2"
        front.answer(service, "CreateDeployment", self.create)
        front.answer(service, "GetDeployment", self.get)
        front.answer(service, "GetDeployments", self.list)
        front.answer(service, "UpdateDeployment", self.update)
        front.answer(service, "DeleteDeployment", self.delete)
        front.answer(service, "UpdateStage", self.update_stage)
        front.before(service, "CreateStage", self._check_stage_deployment)
        for operation in ("CreateStage", "GetStage", "GetStages", "DeleteStage"):
            front.after(service, operation, self._stage_answered)

    @staticmethod
    def _reply(status: int, document, request) -> Response:
        return Response(status, [("Content-Type", "application/json"),
                                 ("x-amzn-RequestId", request.request_id)],
                        json.dumps(document).encode())

    def _api(self, request):
        api_id = request.params.get("apiId", "")
        api = self.state.http_api(api_id, request.account_id, request.region)
        if api is None:
            raise _not_found(f"Invalid API identifier specified {request.account_id}:{api_id}")
        return api_id, api

    def _deployment(self, request) -> tuple[str, dict]:
        api_id, _ = self._api(request)
        deployment_id = request.params.get("deploymentId", "")
        record = self.state.http_deployment(api_id, deployment_id)
        if record is None:
            raise _not_found(f"Invalid Deployment identifier specified {deployment_id}")
        return api_id, record

    # -- deployments ------------------------------------------------------------------------

    def create(self, request) -> Response:
        api_id, api = self._api(request)
        body = _json(request.body)
        stage_name = body.get("stageName")
        if stage_name is not None:
            stage = api.stages.get(stage_name)
            if stage is None:
                raise _not_found(f"Invalid stage identifier specified {stage_name}")
            if stage.auto_deploy:
                raise AwsError(400, "BadRequestException",
                               "Deployment creation is not allowed for stages with "
                               "AutoDeploy enabled.")
        record = self.state.create_http_deployment(api_id, body.get("description"),
                                                   request.account_id, request.region)
        if stage_name is not None:
            self.state.set_http_stage_deployment(api_id, stage_name, record["DeploymentId"])
        return self._reply(201, _camel(record), request)

    def get(self, request) -> Response:
        _, record = self._deployment(request)
        return self._reply(200, _camel(record), request)

    def list(self, request) -> Response:
        api_id, _ = self._api(request)
        items = [_camel(record) for record in self.state.http_deployments(api_id)]
        return self._reply(200, {"items": items}, request)

    def update(self, request) -> Response:
        _, record = self._deployment(request)
        description = _json(request.body).get("description")
        if description is not None:
            record["Description"] = description
        return self._reply(200, _camel(record), request)

    def delete(self, request) -> Response:
        api_id, record = self._deployment(request)
        api = self.state.http_api(api_id, request.account_id, request.region)
        in_use = [name for name in api.stages
                  if self.state.http_stage_deployment(api_id, name) == record["DeploymentId"]]
        if in_use:
            raise AwsError(400, "BadRequestException",
                           f"Deployment is in use by stage(s): {', '.join(in_use)}")
        self.state.delete_http_deployment(api_id, record["DeploymentId"])
        return Response(204, [("x-amzn-RequestId", request.request_id)])

    # -- stages -----------------------------------------------------------------------------

    def _check_stage_deployment(self, request) -> None:
        api_id, _ = self._api(request)
        deployment_id = _json(request.body).get("deploymentId")
        if deployment_id and self.state.http_deployment(api_id, deployment_id) is None:
            raise _not_found(f"Invalid Deployment identifier specified {deployment_id}")

    def update_stage(self, request) -> Response:
        api_id, api = self._api(request)
        stage_name = request.params.get("stageName", "")
        stage = api.stages.get(stage_name)
        if stage is None:
            raise _not_found(f"Invalid stage identifier specified {stage_name}")
        body = _json(request.body)
        deployment_id = body.get("deploymentId")
        if deployment_id is not None and body.get("autoDeploy", stage.auto_deploy):
            raise AwsError(400, "BadRequestException",
                           "A DeploymentId cannot be set on a stage with AutoDeploy enabled.")
        if deployment_id is not None:
            if self.state.http_deployment(api_id, deployment_id) is None:
                raise _not_found(f"Invalid Deployment identifier specified {deployment_id}")
            self.state.set_http_stage_deployment(api_id, stage_name, deployment_id)
        if "autoDeploy" in body:
            if stage.auto_deploy and not body["autoDeploy"] and deployment_id is None:
                # The stage keeps serving what was released last (its last automatic
                # deployment): the API as it is now.
                record = self.state.create_http_deployment(
                    api_id, None, request.account_id, request.region, auto=True)
                self.state.set_http_stage_deployment(api_id, stage_name, record["DeploymentId"])
            stage.auto_deploy = bool(body["autoDeploy"])
        if "stageVariables" in body:
            stage.stage_variables = dict(body["stageVariables"] or {})
        if "description" in body:
            stage.description = body["description"]
        return self._reply(200, self._with_deployment(api_id, stage.to_json()), request)

    def _with_deployment(self, api_id: str, document: dict) -> dict:
        deployment_id = self.state.http_stage_deployment(api_id, document.get("stageName", ""))
        if deployment_id:
            document["deploymentId"] = deployment_id
        return document

    def _stage_answered(self, request, response) -> None:
        if response.status >= 300:
            return
        api_id = request.params.get("apiId", "")
        if request.operation == "DeleteStage":
            self.state.set_http_stage_deployment(api_id, request.params.get("stageName", ""),
                                                 None)
            return
        document = _json(response.body)
        if request.operation == "CreateStage":
            deployment_id = _json(request.body).get("deploymentId")
            if deployment_id:
                self.state.set_http_stage_deployment(api_id, document.get("stageName", ""),
                                                     deployment_id)
        if request.operation == "GetStages":
            document["items"] = [self._with_deployment(api_id, item)
                                 for item in document.get("items", [])]
        else:
            document = self._with_deployment(api_id, document)
        response.body = json.dumps(document).encode()
