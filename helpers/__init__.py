"""Lambda Invocation Lab: the helpers the notebooks import.

    import helpers
    lab = helpers.start_lab()      # a local AWS cloud and Lambda service in this kernel
    ...plain boto3 calls...
    lab.stop()

Nothing happens on import: no client is created and no setting changes until
``start_lab()`` runs.
"""

from .deploy import deploy_function, zip_source
from .errors import DeployError, LabError, UnsafeEnvironmentError
from .lab import Lab, current_lab, start_lab
from .playgrounds.api_gateway import ApiPlaygroundError, ApiPlaygroundModel
from .playgrounds.base import PlaygroundInputError, PlaygroundTimeoutError
from .playgrounds.edge import EdgeError, EdgeModel
from .playgrounds.firehose import (
    FirehoseBufferError,
    FirehoseBufferModel,
    firehose_invocations,
    firehose_record_ends,
)
from .playgrounds.http import HttpPlaygroundError, HttpPlaygroundModel
from .playgrounds.invocation import PlaygroundError, PlaygroundModel
from .playgrounds.mailbox import MailboxError, MailboxModel
from .playgrounds.metrics import MetricsViewError, MetricsViewModel
from .playgrounds.routing import RoutingError, RoutingModel
from .playgrounds.s3 import S3DemoError, S3DemoModel
from .playgrounds.sqs import SqsPlaygroundError, SqsPlaygroundModel, mapping_batches
from .playgrounds.streams import (
    ShardViewError,
    ShardViewModel,
    TableStreamViewModel,
    record_ends,
    stream_batches,
)


def alb_playground(lab, name: str = "alb-playground"):
    """The Application Load Balancer playground widget (notebook 08); imports ipywidgets on use."""
    from .widgets.http import alb_playground as create

    return create(lab, name)


def api_playground(lab, name: str = "api-playground"):
    """The API Gateway playground widget (notebook 07); imports ipywidgets on use."""
    from .widgets.api_gateway import api_playground as create

    return create(lab, name)


def edge_view(lab, name: str = "edge-demo"):
    """The Lambda@Edge view widget (notebook 10); imports ipywidgets on use."""
    from .widgets.edge import edge_view as create

    return create(lab, name)


def firehose_view(lab, name: str = "clicks-demo"):
    """The Firehose buffer view widget (notebook 11); imports ipywidgets on use."""
    from .widgets.firehose import firehose_view as create

    return create(lab, name)


def function_url_playground(lab, name: str = "url-playground"):
    """The function URL playground widget (notebook 14); imports ipywidgets on use."""
    from .widgets.http import function_url_playground as create

    return create(lab, name)


def invocation_playground(lab, function_name: str = "playground-demo"):
    """The invocation playground widget (notebooks 01-03); imports ipywidgets on use."""
    from .widgets.invocation import invocation_playground as create

    return create(lab, function_name)


def routing_playground(lab, prefix: str = "routing-demo"):
    """The SNS and EventBridge routing playground widget (notebook 12); imports ipywidgets
    on use."""
    from .widgets.routing import routing_playground as create

    return create(lab, prefix)
def mailbox_view(lab, name: str = "mailbox-demo"):
    """The SES mailbox playground widget (notebook 09); imports ipywidgets on use."""
    from .widgets.mailbox import mailbox_view as create

    return create(lab, name)


def metrics_view(lab, name: str = "metrics-demo"):
    """The metrics view widget: Lambda's metrics per minute from CloudWatch (notebook 15);
    imports ipywidgets (and plotly to draw) on use."""
    from .widgets.metrics import metrics_view as create

    return create(lab, name)


def s3_notifications_demo(lab, bucket: str = "s3-demo-inbox",
                          function_name: str = "s3-demo-processor"):
    """The S3 notifications widget (notebook 04); imports ipywidgets on use."""
    from .widgets.s3 import s3_notifications_demo as create

    return create(lab, bucket, function_name)


def shard_view(lab, name: str = "shard-demo"):
    """The shard view widget (notebook 13); imports ipywidgets (and plotly to draw) on use."""
    from .widgets.streams import shard_view as create

    return create(lab, name)


def table_stream_view(lab, name: str = "orders-view"):
    """The shard view over a DynamoDB table's stream (notebook 05); imports ipywidgets (and
    plotly to draw) on use."""
    from .widgets.streams import table_stream_view as create

    return create(lab, name)


def sqs_playground(lab, name: str = "orders-demo"):
    """The SQS event source mapping playground widget (notebook 06); imports ipywidgets on use."""
    from .widgets.sqs import sqs_playground as create

    return create(lab, name)


__all__ = [
    "ApiPlaygroundError",
    "ApiPlaygroundModel",
    "DeployError",
    "EdgeError",
    "EdgeModel",
    "FirehoseBufferError",
    "FirehoseBufferModel",
    "HttpPlaygroundError",
    "HttpPlaygroundModel",
    "Lab",
    "LabError",
    "MailboxError",
    "MailboxModel",
    "MetricsViewError",
    "MetricsViewModel",
    "PlaygroundError",
    "PlaygroundInputError",
    "PlaygroundModel",
    "PlaygroundTimeoutError",
    "RoutingError",
    "RoutingModel",
    "S3DemoError",
    "S3DemoModel",
    "ShardViewError",
    "ShardViewModel",
    "SqsPlaygroundError",
    "SqsPlaygroundModel",
    "TableStreamViewModel",
    "UnsafeEnvironmentError",
    "alb_playground",
    "api_playground",
    "current_lab",
    "deploy_function",
    "edge_view",
    "firehose_invocations",
    "firehose_record_ends",
    "firehose_view",
    "function_url_playground",
    "invocation_playground",
    "mailbox_view",
    "mapping_batches",
    "metrics_view",
    "record_ends",
    "routing_playground",
    "s3_notifications_demo",
    "shard_view",
    "sqs_playground",
    "start_lab",
    "stream_batches",
    "table_stream_view",
    "zip_source",
]
