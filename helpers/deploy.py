"""Deploying a function in one line, from source text, a .py file or a Python function.

Notebooks show the plain boto3 calls (``create_function`` with a zip) first; after that,
``lab.deploy("name", source)`` does the same in one line and updates the function when
it exists already. Introduced in 00-welcome.
"""

from __future__ import annotations

import inspect
import io
import json
import textwrap
import zipfile
from pathlib import Path

import boto3

from .errors import DeployError

ROLE_NAME = "lab-lambda-role"
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
}
MODULE = "lambda_function"

__all__ = ["deploy_function", "execution_role_arn", "zip_source"]


def zip_source(files: dict[str, str | bytes]) -> bytes:
    """A deployment package (zip) holding ``files`` (name -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def execution_role_arn() -> str:
    """The ARN of the lab's execution role for functions, created on first use."""
    iam = boto3.client("iam")
    try:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
        )
        return role["Role"]["Arn"]


def _package(code, handler):
    """(files, handler) for source text, a path to a .py file, a function, or a dict."""
    if callable(code):
        try:
            source = textwrap.dedent(inspect.getsource(code))
        except (OSError, TypeError) as exc:
            raise DeployError(f"Cannot read the source of {code!r}: {exc}") from None
        return {f"{MODULE}.py": source}, handler or f"{MODULE}.{code.__name__}"
    if isinstance(code, dict):
        return code, handler or f"{MODULE}.lambda_handler"
    if isinstance(code, Path) or (
        isinstance(code, str) and code.endswith(".py") and "\n" not in code
    ):
        path = Path(code)
        if not path.is_file():
            raise DeployError(f"No such file: {path}")
        return {path.name: path.read_text()}, handler or f"{path.stem}.lambda_handler"
    if isinstance(code, str):
        return {f"{MODULE}.py": textwrap.dedent(code)}, handler or f"{MODULE}.lambda_handler"
    raise DeployError("code must be source text, a .py path, a function, or {filename: text}")


def deploy_function(
    name: str,
    code,
    *,
    handler: str | None = None,
    runtime: str = "python3.12",
    timeout: int = 3,
    memory_size: int = 128,
    environment: dict | None = None,
    publish: bool = False,
    role: str | None = None,
    **extra,
) -> dict:
    """Create the function ``name`` or, if it exists, update its code and configuration.

    ``code`` is handler source text, a path to a ``.py`` file, a function defined in a
    notebook cell (its own source only: put its imports inside it), or a
    ``{filename: content}`` dict. ``role`` is the execution role's ARN (None: the lab's
    own role, which only ``lambda.amazonaws.com`` may assume). Returns the function's
    configuration, as ``get_function_configuration`` does.
    """
    files, handler = _package(code, handler)
    package = zip_source(files)
    client = boto3.client("lambda")
    config = {
        "Runtime": runtime,
        "Handler": handler,
        "Timeout": timeout,
        "MemorySize": memory_size,
        "Environment": {"Variables": dict(environment or {})},
        **extra,
    }
    if role is not None:
        config["Role"] = role
    try:
        client.get_function_configuration(FunctionName=name)
    except client.exceptions.ResourceNotFoundException:
        try:
            return client.create_function(
                FunctionName=name, Code={"ZipFile": package}, Publish=publish,
                **{"Role": execution_role_arn(), **config},
            )
        except client.exceptions.ResourceConflictException:
            pass  # made meanwhile (by another cell, or a retried request): update it
    client.update_function_code(FunctionName=name, ZipFile=package)
    result = client.update_function_configuration(FunctionName=name, **config)
    if publish:
        result = client.publish_version(FunctionName=name)
    return result
