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
from .playground import PlaygroundError, PlaygroundModel


def invocation_playground(lab, function_name: str = "playground-demo"):
    """The invocation playground widget (notebooks 01-03); imports ipywidgets on use."""
    from .playground_view import invocation_playground as create

    return create(lab, function_name)


__all__ = [
    "DeployError",
    "Lab",
    "LabError",
    "PlaygroundError",
    "PlaygroundModel",
    "UnsafeEnvironmentError",
    "current_lab",
    "deploy_function",
    "invocation_playground",
    "start_lab",
    "zip_source",
]
