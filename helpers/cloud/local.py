"""The local cloud: moto, the few changes the lab makes in it, and the front before it.

``LocalCloud`` is what ``start_lab()`` starts first. It checks the installed moto,
empties any state an earlier lab left in this process, and opens the front on
127.0.0.1. The readers of moto's state (functions, buckets, APIs) are its attributes;
the Lambda service and the integrations register their answers and hooks at
``cloud.front``. ``stop()`` closes the front and puts moto back as it was.
"""

from __future__ import annotations

import sys

from ..lambda_.functions import Settings
from .apigateway_state import ApiGatewayState
from .elbv2_state import Elbv2State
from .front import Front
from .function_url_state import FunctionUrlState
from .iam import Iam
from .lambda_state import LambdaState
from .moto_app import MotoApp, check_version, reset_state
from .patches import Patches
from .s3_state import S3State
from .signatures import SignatureChecker

__all__ = ["LocalCloud"]


class Seams:
    """What moto's patched code calls back into (set once the Lambda service exists)."""

    def __init__(self):
        self.service = None

    def invoke_from_moto(self, fn, body, request_headers, response_headers):
        if self.service is None:
            raise RuntimeError("The lab's Lambda service is not running.")
        return self.service.invoke_from_moto(fn, body, request_headers, response_headers)


class LocalCloud:
    """``credentials``: the lab's own (access key, secret key)."""

    def __init__(self, trace, credentials: tuple[str, str]):
        check_version()
        if any(name.startswith("moto.") and name.endswith(".models") for name in sys.modules):
            reset_state()  # moto holds resources from before: a new lab starts empty
        self.settings = Settings()  # what the lab keeps about functions itself
        self.functions = LambdaState(self.settings)
        self.s3 = S3State()
        self.apigateway = ApiGatewayState()
        self.elbv2 = Elbv2State()
        self.function_urls = FunctionUrlState()
        self.iam = Iam()
        self.seams = Seams()
        self.patches = Patches(self.seams)
        self.credentials = credentials
        self.front = Front(MotoApp(), SignatureChecker(self.secret_for),
                           before_moto=self.patches.install, trace=trace)

    def secret_for(self, access_key: str) -> str | None:
        """The secret key of the lab's own credentials or of an IAM user's access key."""
        if access_key == self.credentials[0]:
            return self.credentials[1]
        return self.iam.secret_for(access_key)

    @property
    def url(self) -> str:
        return self.front.url

    def stop(self) -> None:
        self.front.close()
        self.patches.uninstall()
        self.iam.restore()
        self.seams.service = None
