"""Shared fixtures: one lab per test session (restarted if a test stops it)."""

import base64
import json
import uuid

import boto3
import pytest

import helpers


@pytest.fixture
def lab():
    """The running lab (started on first use; a test that stops it gets a new one next)."""
    return helpers.start_lab()


@pytest.fixture
def lambda_client(lab):
    return boto3.client("lambda")


@pytest.fixture
def unique_name():
    return f"fn-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def deploy(lab, unique_name):
    """Deploy handler source under a fresh name; returns the name."""

    def _deploy(source, **options):
        name = options.pop("name", None) or f"{unique_name}-{uuid.uuid4().hex[:4]}"
        lab.deploy(name, source, **options)
        return name

    return _deploy


def invoke(client, name, payload=None, **kwargs):
    """Invoke and return (response, decoded payload bytes, decoded log tail or None)."""
    if payload is not None and not isinstance(payload, (bytes, str)):
        payload = json.dumps(payload)
    if payload is not None:
        kwargs["Payload"] = payload
    response = client.invoke(FunctionName=name, **kwargs)
    body = response["Payload"].read()
    tail = response.get("LogResult")
    return response, body, (base64.b64decode(tail).decode() if tail else None)


def pytest_sessionfinish(session, exitstatus):
    lab = helpers.lab._current
    if lab is not None:
        lab.stop()
