"""Reserved concurrency, the account limit and throttling of synchronous callers (spec §4)."""

import threading
import uuid

import boto3
import pytest
from async_support import function_arn
from botocore.config import Config
from botocore.exceptions import ClientError

import helpers
from helpers.errors import LabError

SLEEP_1S = "import time\ndef lambda_handler(event, context):\n    time.sleep(1)\n"
QUICK = "def lambda_handler(event, context):\n    return 'done'\n"

# botocore's retries "max_attempts" counts retries, "total_max_attempts" counts attempts:
# total_max_attempts=1 (= max_attempts 0) is the client that never retries a 429.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture
def lambda_client(lab):
    return boto3.client("lambda", config=NO_RETRY)


def throttle_error(call):
    with pytest.raises(ClientError) as throttled:
        call()
    return throttled.value.response


def test_reserved_concurrency_caps_simultaneous_callers(lab, lambda_client, deploy):
    name = deploy(SLEEP_1S, timeout=5)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    assert lambda_client.get_function_concurrency(FunctionName=name)[
        "ReservedConcurrentExecutions"] == 2
    barrier = threading.Barrier(4)
    results = []

    def call():
        barrier.wait()
        try:
            results.append(lambda_client.invoke(FunctionName=name)["StatusCode"])
        except ClientError as error:
            results.append(error.response)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r for r in results if r == 200) == [200, 200]
    errors = [r for r in results if r != 200]
    assert len(errors) == 2
    for error in errors:
        assert error["Error"]["Code"] == "TooManyRequestsException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert error["ResponseMetadata"]["RetryAttempts"] == 0
    throttles = lab.trace.events("throttle", function=function_arn(name))
    assert [(t["reason"], t["source"]) for t in throttles] == [
        ("ReservedFunctionConcurrentInvocationLimitExceeded", "api")] * 2
    assert len(lab.environments(name)) == 2


def test_reserved_concurrency_zero_throttles_every_invoke_until_deleted(lab, lambda_client,
                                                                        deploy):
    name = deploy(QUICK)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert lambda_client.get_function_concurrency(FunctionName=name)[
        "ReservedConcurrentExecutions"] == 0
    for _ in range(2):
        error = throttle_error(lambda: lambda_client.invoke(FunctionName=name))
        assert error["Error"]["Code"] == "TooManyRequestsException"
        assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert lab.trace.events("attempt.start", function=function_arn(name)) == []
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(
        FunctionName=name)
    assert lambda_client.invoke(FunctionName=name)["StatusCode"] == 200


def test_the_unreserved_pool_throttles_with_its_own_reason(lab, lambda_client, deploy):
    """A full account pool: ConcurrentInvocationLimitExceeded; reservations still run.

    Filling 1,000 environments for real would start 1,000 processes, so the busy ones
    are recorded in the service's books (a grey-box step); the invokes are real.
    """
    pooled = deploy(QUICK)
    reserved = deploy(QUICK)
    lambda_client.put_function_concurrency(FunctionName=reserved, ReservedConcurrentExecutions=1)
    phantom = function_arn(f"phantom-{uuid.uuid4().hex[:6]}")
    with lab.service._lock:
        lab.service._active[phantom] = lab.service.account_concurrency
    try:
        error = throttle_error(lambda: lambda_client.invoke(FunctionName=pooled))
        assert error["Error"]["Code"] == "TooManyRequestsException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error["Reason"] == "ConcurrentInvocationLimitExceeded"
        assert lambda_client.invoke(FunctionName=reserved)["StatusCode"] == 200
    finally:
        with lab.service._lock:
            del lab.service._active[phantom]
    assert lambda_client.invoke(FunctionName=pooled)["StatusCode"] == 200
    [throttle] = lab.trace.events("throttle", function=function_arn(pooled))
    assert throttle["reason"] == "ConcurrentInvocationLimitExceeded"


# -- the account limit ---------------------------------------------------------------------


@pytest.fixture
def restart():
    """Start a lab with other settings (stopping the running one); stopped afterwards."""
    started = []

    def _restart(**settings):
        helpers.start_lab().stop()
        started.append(helpers.start_lab(**settings))
        return started[-1]

    yield _restart
    for lab in started:
        lab.stop()


def reserve(client, name, count):
    return client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=count)


def test_account_concurrency_below_100_is_refused(restart):
    with pytest.raises(LabError, match="at least 100"):
        restart(account_concurrency=99)
    lab = restart(account_concurrency=100)
    lab.deploy("only-function", QUICK)
    client = boto3.client("lambda", config=NO_RETRY)
    error = throttle_error(lambda: reserve(client, "only-function", 1))
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].")
    assert client.invoke(FunctionName="only-function")["StatusCode"] == 200


def test_reservations_must_leave_100_unreserved(restart):
    lab = restart(account_concurrency=1000)  # a fresh cloud, AWS's default account limit
    for name in ("big", "small"):
        lab.deploy(name, QUICK)
    client = boto3.client("lambda", config=NO_RETRY)
    reserve(client, "big", 900)  # leaves exactly 100
    error = throttle_error(lambda: reserve(client, "small", 1))
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "below its minimum value of [100]" in error["Error"]["Message"]
    reserve(client, "big", 899)
    reserve(client, "small", 1)
    assert client.get_function_concurrency(FunctionName="small")[
        "ReservedConcurrentExecutions"] == 1


def test_the_lab_s_default_account_concurrency_leaves_20_to_reserve(restart):
    # "You can reserve up to the Unreserved account concurrency value minus 100":
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
    lab = restart()
    assert lab.service.account_concurrency == 120  # the lab's default (notebook 01 says why)
    lab.deploy("reserves", QUICK)
    client = boto3.client("lambda", config=NO_RETRY)
    error = throttle_error(lambda: reserve(client, "reserves", 21))
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert "below its minimum value of [100]" in error["Error"]["Message"]
    reserve(client, "reserves", 20)
    assert client.get_function_concurrency(FunctionName="reserves")[
        "ReservedConcurrentExecutions"] == 20
