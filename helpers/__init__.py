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

__all__ = [
    "DeployError",
    "Lab",
    "LabError",
    "UnsafeEnvironmentError",
    "current_lab",
    "deploy_function",
    "start_lab",
    "zip_source",
]
