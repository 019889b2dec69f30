"""Lambda Invocation Lab: the helpers the notebooks import.

    import helpers
    lab = helpers.start_lab()      # a local AWS cloud and Lambda service in this kernel
    ...plain boto3 calls...
    lab.stop()

Nothing happens on import: no client is created and no setting changes until
``start_lab()`` runs.
"""

from .api_playground import ApiPlaygroundError, ApiPlaygroundModel
from .deploy import deploy_function, zip_source
from .errors import DeployError, LabError, UnsafeEnvironmentError
from .lab import Lab, current_lab, start_lab
from .playground import PlaygroundError, PlaygroundModel
from .s3_demo import S3DemoError, S3DemoModel
from .sqs_playground import SqsPlaygroundError, SqsPlaygroundModel, mapping_batches


def api_playground(lab, name: str = "api-playground"):
    """The API Gateway playground widget (notebook 07); imports ipywidgets on use."""
    from .api_playground_view import api_playground as create

    return create(lab, name)


def invocation_playground(lab, function_name: str = "playground-demo"):
    """The invocation playground widget (notebooks 01-03); imports ipywidgets on use."""
    from .playground_view import invocation_playground as create

    return create(lab, function_name)


def s3_notifications_demo(lab, bucket: str = "s3-demo-inbox",
                          function_name: str = "s3-demo-processor"):
    """The S3 notifications widget (notebook 04); imports ipywidgets on use."""
    from .s3_demo_view import s3_notifications_demo as create

    return create(lab, bucket, function_name)


def sqs_playground(lab, name: str = "orders-demo"):
    """The SQS event source mapping playground widget (notebook 06); imports ipywidgets on use."""
    from .sqs_playground_view import sqs_playground as create

    return create(lab, name)


__all__ = [
    "ApiPlaygroundError",
    "ApiPlaygroundModel",
    "DeployError",
    "Lab",
    "LabError",
    "PlaygroundError",
    "PlaygroundModel",
    "S3DemoError",
    "S3DemoModel",
    "SqsPlaygroundError",
    "SqsPlaygroundModel",
    "UnsafeEnvironmentError",
    "api_playground",
    "current_lab",
    "deploy_function",
    "invocation_playground",
    "mapping_batches",
    "s3_notifications_demo",
    "sqs_playground",
    "start_lab",
    "zip_source",
]
