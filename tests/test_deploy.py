"""Deploying functions: plain boto3 with a zip, and lab.deploy in one line (issue 2, point 3)."""

import io
import json
import zipfile

import boto3
import pytest
from conftest import invoke

import helpers


def _zip(files: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _answer(client, name, payload=None, **kwargs):
    response, body, _ = invoke(client, name, payload, **kwargs)
    assert "FunctionError" not in response, body
    return json.loads(body)


def _role_arn():
    iam = boto3.client("iam")
    try:
        return iam.get_role(RoleName="test-deploy-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}
        return iam.create_role(RoleName="test-deploy-role",
                               AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"]


def say(word):
    return f"def lambda_handler(event, context):\n    return {word!r}\n"


def test_plain_boto3_create_update_publish_alias(lab, lambda_client, unique_name):
    name = unique_name
    created = lambda_client.create_function(
        FunctionName=name, Runtime="python3.12", Role=_role_arn(),
        Handler="app.handle", Code={"ZipFile": _zip({"app.py": say("one").replace(
            "lambda_handler", "handle")})},
    )
    assert created["FunctionName"] == name
    assert _answer(lambda_client, name) == "one"

    version_1 = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.update_function_code(
        FunctionName=name, ZipFile=_zip({"app.py": say("two").replace("lambda_handler",
                                                                      "handle")}))
    assert _answer(lambda_client, name) == "two"  # $LATEST runs the new code at once
    version_2 = lambda_client.publish_version(FunctionName=name)["Version"]
    assert (version_1, version_2) == ("1", "2")
    lambda_client.create_alias(FunctionName=name, Name="stable", FunctionVersion=version_1)
    lambda_client.create_alias(FunctionName=name, Name="next", FunctionVersion=version_2)

    assert _answer(lambda_client, name, Qualifier="stable") == "one"
    assert _answer(lambda_client, name, Qualifier="next") == "two"
    assert _answer(lambda_client, name, Qualifier="1") == "one"
    lambda_client.update_alias(FunctionName=name, Name="stable", FunctionVersion=version_2)
    assert _answer(lambda_client, name, Qualifier="stable") == "two"


def test_deploy_source_text(lab, lambda_client, unique_name):
    config = lab.deploy(unique_name, say("from text"))
    assert config["Handler"] == "lambda_function.lambda_handler"
    assert config["Runtime"].startswith("python3")
    assert _answer(lambda_client, unique_name) == "from text"


def test_deploy_a_file(lab, lambda_client, unique_name, tmp_path):
    path = tmp_path / "orders.py"
    path.write_text(say("from a file"))
    config = lab.deploy(unique_name, str(path))
    assert config["Handler"] == "orders.lambda_handler"
    assert _answer(lambda_client, unique_name) == "from a file"
    path.write_text(say("from a Path"))
    lab.deploy(unique_name, path)
    assert _answer(lambda_client, unique_name) == "from a Path"


def handle_order(event, context):
    import json  # a deployed function takes only its own source: imports go inside

    return {"order": event["order"], "as_json": json.dumps(event)}


def test_deploy_a_function_object(lab, lambda_client, unique_name):
    config = lab.deploy(unique_name, handle_order)
    assert config["Handler"] == "lambda_function.handle_order"
    assert _answer(lambda_client, unique_name, {"order": 7}) == {
        "order": 7, "as_json": '{"order": 7}'}


def test_deploy_a_nested_function_object(lab, lambda_client, unique_name):
    def greet(event, context):
        import os

        return f"hello from {os.environ['AWS_LAMBDA_FUNCTION_NAME']}"

    lab.deploy(unique_name, greet)
    assert _answer(lambda_client, unique_name) == f"hello from {unique_name}"


def test_deploy_files_with_an_explicit_handler(lab, lambda_client, unique_name):
    files = {
        "service/__init__.py": "",
        "service/handlers.py": "from service.prices import total\n"
                               "def run(event, context):\n"
                               "    return total(event['items'])\n",
        "service/prices.py": "def total(items):\n    return sum(items) * 2\n",
    }
    config = lab.deploy(unique_name, files, handler="service.handlers.run")
    assert config["Handler"] == "service.handlers.run"
    assert _answer(lambda_client, unique_name, {"items": [1, 2, 3]}) == 12


def test_deploy_again_updates_code_and_configuration(lab, lambda_client, unique_name):
    source = ("import os\n"
              "def lambda_handler(event, context):\n"
              "    remaining = context.get_remaining_time_in_millis()\n"
              "    return [{v!r}, os.environ.get('STAGE'), remaining]\n")
    lab.deploy(unique_name, source.format(v="v1"), environment={"STAGE": "dev"})
    version, stage, remaining = _answer(lambda_client, unique_name)
    assert (version, stage) == ("v1", "dev") and remaining <= 3000

    config = lab.deploy(unique_name, source.format(v="v2"), timeout=20,
                        environment={"STAGE": "prod"})
    assert config["Timeout"] == 20
    assert config["Environment"]["Variables"] == {"STAGE": "prod"}
    version, stage, remaining = _answer(lambda_client, unique_name)
    assert (version, stage) == ("v2", "prod") and 3000 < remaining <= 20000
    stored = lambda_client.get_function_configuration(FunctionName=unique_name)
    assert stored["Timeout"] == 20
    assert stored["Environment"]["Variables"] == {"STAGE": "prod"}
    assert len(lambda_client.list_versions_by_function(FunctionName=unique_name)["Versions"]) == 1


def test_deploy_with_publish_creates_versions(lab, lambda_client, unique_name):
    assert lab.deploy(unique_name, say("first"), publish=True)["Version"] == "1"
    assert lab.deploy(unique_name, say("second"), publish=True)["Version"] == "2"
    assert _answer(lambda_client, unique_name, Qualifier="1") == "first"
    assert _answer(lambda_client, unique_name, Qualifier="2") == "second"


def test_helpers_deploy_function_is_the_same_as_lab_deploy(lab, lambda_client, unique_name):
    helpers.deploy_function(unique_name, say("module level"))
    assert _answer(lambda_client, unique_name) == "module level"


def test_missing_file_is_a_deploy_error(lab, lambda_client, tmp_path, unique_name):
    missing = tmp_path / "not_there.py"
    with pytest.raises(helpers.DeployError, match="not_there.py"):
        lab.deploy(unique_name, str(missing))
    with pytest.raises(helpers.DeployError):
        lab.deploy(unique_name, missing)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName=unique_name)  # nothing half-made


def test_code_of_an_unsupported_kind_is_a_deploy_error(lab, unique_name):
    with pytest.raises(helpers.DeployError):
        lab.deploy(unique_name, 42)
