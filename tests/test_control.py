"""The control plane moto answers, as Lambda answers it (helpers/lambda_/control.py).

Every documented FunctionName form for every operation; names, environment variables
and packages Lambda refuses; a new RevisionId, LastModified and execution environment
after every update.
"""

import io
import json
import uuid
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import invoke

from helpers.deploy import execution_role_arn, zip_source

ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"total_max_attempts": 1})
HANDLER = "def lambda_handler(event, context):\n    return 'ok'\n"


def error_of(call):
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


def create(client, name, package=None, **extra):
    return client.create_function(
        FunctionName=name, Role=execution_role_arn(), Runtime="python3.12",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": package or zip_source({"lambda_function.py": HANDLER})}, **extra)


# -- 1. every update makes new environments ------------------------------------------------


def test_the_same_code_again_still_gives_a_new_revision_and_a_cold_start(lab, lambda_client,
                                                                         deploy):
    # "When you update the code or configuration, Lambda ... creates new execution
    # environments": https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
    # RevisionId changes with every update:
    # https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html
    source = "count = 0\ndef lambda_handler(e, c):\n    global count\n    count += 1\n" \
             "    return count\n"
    name = deploy(source)
    package = zip_source({"lambda_function.py": source})
    lambda_client.update_function_code(FunctionName=name, ZipFile=package)  # deploy's zip
    before = lambda_client.get_function_configuration(FunctionName=name)
    assert [json.loads(invoke(lambda_client, name)[1]) for _ in range(2)] == [1, 2]
    description = before.get("Description", "")
    for update in (lambda: lambda_client.update_function_code(FunctionName=name,
                                                              ZipFile=package),
                   lambda: lambda_client.update_function_configuration(
                       FunctionName=name, Description=description)):
        answer = update()
        after = lambda_client.get_function_configuration(FunctionName=name)
        assert answer["CodeSha256"] == before["CodeSha256"]  # the very same code
        assert after["RevisionId"] == answer["RevisionId"] != before["RevisionId"]
        assert after["LastModified"] > before["LastModified"]
        response, body, tail = invoke(lambda_client, name, LogType="Tail")
        assert json.loads(body) == 1 and "Init Duration" in tail  # globals start afresh
        before = after


def test_revisions_and_last_modified_look_like_lambda_s(lab, lambda_client, deploy):
    # LastModified: "ISO-8601 format (YYYY-MM-DDThh:mm:ss.sTZD)", RevisionId a UUID:
    # https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html
    name = deploy(HANDLER)
    latest = lambda_client.get_function(FunctionName=name)["Configuration"]
    uuid.UUID(latest["RevisionId"])
    assert len(latest["LastModified"]) == 28 and latest["LastModified"].endswith("+0000")
    version = lambda_client.publish_version(FunctionName=name)
    listed = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    revisions = {v["Version"]: v["RevisionId"] for v in listed}
    assert revisions["$LATEST"] == latest["RevisionId"]
    assert revisions[version["Version"]] == version["RevisionId"] != latest["RevisionId"]
    [found] = [f for f in lambda_client.list_functions()["Functions"]
               if f["FunctionName"] == name]
    assert found["RevisionId"] == latest["RevisionId"]
    published = lambda_client.update_function_code(
        FunctionName=name, ZipFile=zip_source({"lambda_function.py": HANDLER}), Publish=True)
    assert published["Version"] == "2"
    uuid.UUID(published["RevisionId"])
    assert lambda_client.get_function_configuration(FunctionName=name, Qualifier="2")[
        "RevisionId"] == published["RevisionId"]


# -- 4. every documented FunctionName form ---------------------------------------------------


def forms(name, qualifier=None):
    """name, full ARN and partial ARN (with the qualifier, if any): API_Invoke.html's
    "Name formats", the same for every operation with a FunctionName."""
    suffix = f":{qualifier}" if qualifier else ""
    return {"name": f"{name}{suffix}",
            "full ARN": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}{suffix}",
            "partial ARN": f"{ACCOUNT}:function:{name}{suffix}"}


OPERATIONS = {  # operation -> call(client, FunctionName), each form must answer alike
    "GetFunction": lambda c, f: c.get_function(FunctionName=f)["Configuration"]["Version"],
    "GetFunctionConfiguration": lambda c, f: c.get_function_configuration(
        FunctionName=f)["FunctionName"],
    "UpdateFunctionConfiguration": lambda c, f: c.update_function_configuration(
        FunctionName=f, Description="changed")["Description"],
    "UpdateFunctionCode": lambda c, f: c.update_function_code(
        FunctionName=f, ZipFile=zip_source({"lambda_function.py": HANDLER}))["CodeSha256"],
    "ListVersionsByFunction": lambda c, f: len(c.list_versions_by_function(
        FunctionName=f)["Versions"]),
    "ListAliases": lambda c, f: [a["Name"] for a in c.list_aliases(FunctionName=f)["Aliases"]],
    "GetAlias": lambda c, f: c.get_alias(FunctionName=f, Name="live")["FunctionVersion"],
    "PutFunctionConcurrency": lambda c, f: c.put_function_concurrency(
        FunctionName=f, ReservedConcurrentExecutions=5)["ReservedConcurrentExecutions"],
    "GetFunctionConcurrency": lambda c, f: c.get_function_concurrency(
        FunctionName=f).get("ReservedConcurrentExecutions"),
    "AddPermission": lambda c, f: json.loads(c.add_permission(
        FunctionName=f, StatementId=f"s{uuid.uuid4().hex[:8]}", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com")["Statement"])["Effect"],
    "GetPolicy": lambda c, f: len(json.loads(c.get_policy(FunctionName=f)["Policy"])[
        "Statement"]) > 0,
    "Invoke": lambda c, f: c.invoke(FunctionName=f)["Payload"].read(),
    "GetFunctionEventInvokeConfig": lambda c, f: c.put_function_event_invoke_config(
        FunctionName=f, MaximumRetryAttempts=1)["MaximumRetryAttempts"],
}


@pytest.fixture
def aliased(lab, lambda_client, deploy):
    name = deploy(HANDLER)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lambda_client.add_permission(FunctionName=name, StatementId="base",
                                 Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    return name


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_name_form_reaches_the_same_function(aliased, operation):
    client = boto3.client("lambda", config=NO_RETRY)
    answers = {form: OPERATIONS[operation](client, value)
               for form, value in forms(aliased).items()}
    assert answers["partial ARN"] == answers["full ARN"] == answers["name"], answers


@pytest.mark.parametrize("operation", ["GetFunction", "GetFunctionConfiguration", "Invoke",
                                       "GetPolicy", "AddPermission"])
def test_every_qualified_name_form_reaches_the_version(aliased, lambda_client, operation):
    client = boto3.client("lambda", config=NO_RETRY)
    lambda_client.add_permission(FunctionName=aliased, Qualifier="live", StatementId="s3",
                                 Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    answers = {form: OPERATIONS[operation](client, value)
               for form, value in forms(aliased, "live").items()}
    assert answers["partial ARN"] == answers["full ARN"] == answers["name"], answers
    if operation == "GetFunction":
        assert answers["name"] == "1"  # the alias's version


def test_delete_function_by_partial_arn_retires_its_environments(lab, lambda_client, deploy):
    # A deleted function's environments end: nothing to invoke any more.
    name = deploy(HANDLER)
    invoke(lambda_client, name)
    assert lab.environments(name)
    lambda_client.delete_function(FunctionName=forms(name)["partial ARN"])
    assert lab.environments(name) == []
    error = error_of(lambda: lambda_client.get_function(FunctionName=name))
    assert error["Error"]["Code"] == "ResourceNotFoundException"


# -- names Lambda refuses (issue 22, item 6) -----------------------------------------------


@pytest.mark.parametrize("bad", ["a/b", "..", "$LATEST", "name with spaces", "ünïcode"])
def test_create_function_refuses_names_outside_the_pattern(lab, bad):
    # FunctionName pattern, CreateFunction: https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html
    client = boto3.client("lambda", config=NO_RETRY)
    error = error_of(lambda: create(client, bad))
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in \
        error["Error"]["Message"]
    assert bad not in [f["FunctionName"] for f in client.list_functions()["Functions"]]


def test_create_function_refuses_a_name_over_64_characters(lab):
    # "The length constraint applies only to the full ARN. If you specify only the function
    # name, it is limited to 64 characters in length." (API_CreateFunction.html)
    client = boto3.client("lambda", config=NO_RETRY)
    error = error_of(lambda: create(client, "f" * 65))
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"].endswith(
        "Member must have length less than or equal to 64")
    create(client, "f" * 64)  # exactly 64 is fine
    client.delete_function(FunctionName="f" * 64)


# -- 5. reserved environment variables -----------------------------------------------------


@pytest.mark.parametrize("key", ["AWS_REGION", "_HANDLER", "AWS_LAMBDA_FUNCTION_NAME",
                                 "LAMBDA_TASK_ROOT", "AWS_ACCESS_KEY_ID"])
def test_reserved_variables_are_refused_with_lambda_s_message(lab, unique_name, key):
    # Reserved keys "can't be set in your function configuration":
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-runtime.html
    client = boto3.client("lambda", config=NO_RETRY)
    message = ("Lambda was unable to configure your environment variables because the "
               "environment variables you have provided contains reserved keys that are "
               f"currently not supported for modification. Reserved keys used in this "
               f"request: {key}")
    error = error_of(lambda: create(client, unique_name,
                                    Environment={"Variables": {key: "x", "MINE": "1"}}))
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (
        "InvalidParameterValueException", message)
    create(client, unique_name, Environment={"Variables": {"MINE": "1"}})
    error = error_of(lambda: client.update_function_configuration(
        FunctionName=unique_name, Environment={"Variables": {key: "x"}}))
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (
        "InvalidParameterValueException", message)
    assert client.get_function_configuration(FunctionName=unique_name)["Environment"][
        "Variables"] == {"MINE": "1"}


def test_unreserved_variables_are_accepted(lab, lambda_client, deploy):
    # LANG, PATH, LD_LIBRARY_PATH, PYTHONPATH, TZ "aren't reserved and can be extended":
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-runtime.html
    variables = {"TZ": "Europe/Paris", "LANG": "C.UTF-8", "LD_LIBRARY_PATH": "/opt/lib",
                 "PYTHONPATH": "/opt/python", "PATH": "/usr/bin:/bin"}
    name = deploy(HANDLER, environment=variables)
    assert lambda_client.get_function_configuration(FunctionName=name)["Environment"][
        "Variables"] == variables


def test_more_than_4_kb_of_variables_is_refused(lab, unique_name):
    # "The total size of all environment variables doesn't exceed 4 KB":
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
    client = boto3.client("lambda", config=NO_RETRY)
    error = error_of(lambda: create(client, unique_name,
                                    Environment={"Variables": {"BIG": "x" * 4100}}))
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert "exceeded the 4KB limit. String measured: {\"BIG\":" in error["Error"]["Message"]


# -- 8. code packages ----------------------------------------------------------------------


def zip_bomb(unzipped_bytes: int) -> bytes:
    """A small zip whose files declare ``unzipped_bytes`` in all (zeros compress well)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lambda_function.py", HANDLER)
        chunk = 50 * 1024 * 1024
        for index in range(unzipped_bytes // chunk + 1):
            archive.writestr(f"data/{index}.bin", bytes(min(chunk, unzipped_bytes)))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb():
    return zip_bomb(300 * 1024 * 1024)


def test_a_package_that_is_not_a_zip_is_refused(lab, unique_name):
    # https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-deployment.html
    client = boto3.client("lambda", config=NO_RETRY)
    for package in (b"not a zip at all", b"PK\x03\x04broken"):
        error = error_of(lambda p=package: create(client, unique_name, p))
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert (error["Error"]["Code"], error["Error"]["Message"]) == (
            "InvalidParameterValueException",
            "Could not unzip uploaded file. Please check your file, then try to upload again.")
    create(client, unique_name)
    error = error_of(lambda: client.update_function_code(FunctionName=unique_name,
                                                         ZipFile=b"not a zip"))
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert invoke(client, unique_name)[1] == b'"ok"'  # the old code still runs


def test_an_empty_zip_is_refused(lab, unique_name):
    client = boto3.client("lambda", config=NO_RETRY)
    error = error_of(lambda: create(client, unique_name, zip_source({})))
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (
        "InvalidParameterValueException", "Uploaded file must be a non-empty zip")


def test_a_package_over_250_mb_unzipped_is_refused_unread(lab, unique_name, bomb):
    # 250 MB unzipped, code and layers: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    client = boto3.client("lambda", config=NO_RETRY)
    assert len(bomb) < 1024 * 1024  # a few hundred KB that claim 300 MB
    error = error_of(lambda: create(client, unique_name, bomb))
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (
        "InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes")
    boto3.client("s3").create_bucket(Bucket=f"code-{unique_name}")
    boto3.client("s3").put_object(Bucket=f"code-{unique_name}", Key="bomb.zip", Body=bomb)
    error = error_of(lambda: client.create_function(
        FunctionName=unique_name, Role=execution_role_arn(), Runtime="python3.12",
        Handler="lambda_function.lambda_handler",
        Code={"S3Bucket": f"code-{unique_name}", "S3Key": "bomb.zip"}))
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error_of(lambda: client.get_function(FunctionName=unique_name))["Error"][
        "Code"] == "ResourceNotFoundException"
    assert not any((lab.workdir / "code").rglob("*.bin"))  # nothing was unpacked


def test_a_direct_upload_over_50_mb_is_refused(lab, unique_name):
    # 50 MB zipped for direct upload; Lambda measures the request (base64 JSON):
    # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    import os

    client = boto3.client("lambda", config=NO_RETRY)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("lambda_function.py", HANDLER)
        archive.writestr("noise.bin", os.urandom(53 * 1024 * 1024))
    error = error_of(lambda: create(client, unique_name, buffer.getvalue()))
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (
        "RequestEntityTooLargeException",
        "Request must be smaller than 69905067 bytes for the CreateFunction operation")


def test_zip_entries_cannot_leave_the_task_root(lab, lambda_client, deploy):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py",
                         "import os\ndef lambda_handler(e, c):\n"
                         "    return sorted(os.listdir(os.environ['LAMBDA_TASK_ROOT']))\n")
        archive.writestr("../escaped.txt", "out")
        archive.writestr("/abs/olute.txt", "out")
    name = deploy({"lambda_function.py": "x = 1\n"})
    lambda_client.update_function_code(FunctionName=name, ZipFile=buffer.getvalue())
    listing = json.loads(invoke(lambda_client, name)[1])
    assert "lambda_function.py" in listing and "escaped.txt" in listing and "abs" in listing
    assert not (lab.workdir / "code" / "escaped.txt").exists()

