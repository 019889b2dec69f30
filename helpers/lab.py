"""Starting and stopping the lab: a local AWS cloud and a Lambda service in the kernel.

``helpers.start_lab()`` starts the local cloud (moto behind the lab's front, on
127.0.0.1) and points this kernel at it: ``AWS_ENDPOINT_URL``, the lab's credentials
and region ``us-east-1``. While the lab runs, the learner's own AWS profile,
credentials and config files are never read, so plain ``boto3.client(...)`` calls
anywhere in the kernel reach the lab and never AWS. Then it starts the Lambda service
and connects the integrations to the front: the Lambda API (``helpers.lambda_.api``),
event source mappings (``helpers.pollers``), S3 notifications (``helpers.push``) and,
on first use, the front doors (``helpers.front_doors``: API Gateway, Application Load
Balancers, function URLs, SES's SMTP endpoint). ``lab.stop()`` stops everything and puts
the previous environment back. Introduced in 00-welcome.

moto is imported only here, when a lab starts (``import helpers`` loads none of it).
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from .aws import ACCOUNT_ID, REGION
from .errors import LabError, UnsafeEnvironmentError
from .trace import Trace
from .workdirs import OWNER_FILE, WORKDIR_PREFIX, owner_of_this_process, remove_abandoned_workdirs

SHIELDED = ("AWS_", "BOTO_", "MOTO_LAMBDA_CONCURRENCY_QUOTA")  # saved at start, restored
# The lab's account concurrency (AWS's default is 1,000): 120 environments fit a laptop,
# and 100 of them stay unreserved as AWS requires. README, "Running a workshop".
ACCOUNT_CONCURRENCY = 120

__all__ = ["Lab", "current_lab", "start_lab"]

_lock = threading.RLock()
_current: Lab | None = None


def start_lab(*, speedup: float = 1.0, account_concurrency: int = ACCOUNT_CONCURRENCY,
              enforce_iam: bool = False, idle_timeout: float = 300.0,
              runtime_client: str = "builtin", environments: str = "auto") -> Lab:
    """Start the lab, or return the one already running in this kernel.

    Re-running a notebook's setup cell is safe: the running lab is returned (with the
    new ``speedup``, if it changed).

    - ``speedup``: how many times faster the delays AWS does not let you configure run
      (asynchronous retries after ~1 and ~2 minutes, throttle back-off). 1 = AWS timing.
    - ``account_concurrency``: the account's concurrency limit, and so the most execution
      environments that run at once. AWS's default is 1,000; the lab's is 120, what a
      laptop holds (an environment takes about 4 to 50 MB, see README), and AWS's rule
      that 100 stay unreserved leaves 20 to reserve. Raise it for more.
    - ``enforce_iam``: check every request against IAM policies, as AWS does. The
      kernel then calls as an IAM user allowed everything; make other users with
      ``iam.create_user`` and ``create_access_key`` (notebook 03).
    - ``idle_timeout``: seconds an idle execution environment is kept.
    - ``runtime_client``: ``"builtin"`` (the lab's own, every platform) or
      ``"awslambdaric"`` (AWS's, Linux only).
    - ``environments``: how execution environments run. ``"auto"`` (a sandbox where
      one can start, else plain processes, and the lab says so once), ``"sandbox"``
      (a sandbox or an error), ``"fork"`` (plain processes from a fork server, Linux)
      or ``"spawn"`` (a new interpreter each). See README, "What a function can reach".
    """
    global _current
    with _lock:
        if _current is not None and _current.running:
            if _current.enforce_iam != enforce_iam:
                raise LabError("The running lab was started with enforce_iam="
                               f"{_current.enforce_iam}: run lab.stop() first to change it.")
            running_mode = _current.service.launcher.mode
            if environments not in ("auto", running_mode):
                raise LabError(f"The running lab's environments are {running_mode!r}: run "
                               "lab.stop() first to change it.")
            _current.speedup = speedup
            return _current
        _current = Lab(speedup=speedup, account_concurrency=account_concurrency,
                       enforce_iam=enforce_iam, idle_timeout=idle_timeout,
                       runtime_client=runtime_client, environments=environments)
        _say_once_how_functions_run(_current)
        return _current


_said = False


def _say_once_how_functions_run(lab: Lab) -> None:
    """Where functions cannot be sandboxed, say so once per kernel (README explains)."""
    global _said
    probe = lab.service.launcher.probe
    if _said or lab.service.launcher.sandboxed or probe is None:
        return
    _said = True
    print(f"Note: functions run as plain processes, not in a sandbox ({probe.reason}). "
          "They can read this machine's files; see README, 'What a function can reach'.")


def current_lab() -> Lab:
    """The running lab; a clear error if none runs."""
    if _current is None or not _current.running:
        raise LabError("The lab is not running: run `lab = helpers.start_lab()` first.")
    return _current


def _new_credentials() -> tuple[str, str]:
    """Random credentials of this lab's own (the front accepts requests signed with them)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    access_key = "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    return access_key, secrets.token_urlsafe(30)[:40]


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Lab:
    """A running lab. Use ``start_lab()`` rather than creating one directly."""

    def __init__(self, *, speedup: float = 1.0, account_concurrency: int = ACCOUNT_CONCURRENCY,
                 enforce_iam: bool = False, idle_timeout: float = 300.0,
                 runtime_client: str = "builtin", environments: str = "auto"):
        started = time.perf_counter()
        if account_concurrency < 100:
            raise LabError("account_concurrency must be at least 100, as in AWS.")
        self._check_environment()
        self.region = REGION
        self.enforce_iam = enforce_iam
        self._credentials = _new_credentials()
        self._session_token = secrets.token_urlsafe(48)
        remove_abandoned_workdirs()
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        (self.workdir / OWNER_FILE).write_text(owner_of_this_process())
        self._saved_env = {k: v for k, v in os.environ.items() if k.startswith(SHIELDED)}
        self.running = False
        self.trace = Trace()
        self.cloud = self.service = self.event_source_mappings = self.metrics = None
        self.edge_cache = None  # CloudFront's edge cache (notebook 10)
        self._stoppable = []  # integrations with threads of their own (front doors, pollers)
        self._doors = {}  # front doors started so far, by name
        try:
            self._start(speedup, account_concurrency, idle_timeout, runtime_client,
                        environments)
            self.running = True
            self._verify_isolation()
        except BaseException:
            self._teardown()
            raise
        atexit.register(self.stop)
        self.start_seconds = time.perf_counter() - started

    def _start(self, speedup, account_concurrency, idle_timeout, runtime_client,
               environments) -> None:
        from .clients import LabClients
        from .cloud.local import LocalCloud
        from .cloud.logs import write_log_events
        from .lambda_.service import LambdaService
        from .send import Sender

        self.cloud = cloud = LocalCloud(self.trace, self._credentials)
        if self.enforce_iam:
            self._credentials = cloud.credentials = cloud.iam.create_admin()
        self.endpoint_url = cloud.url
        host = cloud.front.server.host
        if not ipaddress.ip_address(host).is_loopback:
            raise UnsafeEnvironmentError(f"The local cloud is not on loopback ({host}).")
        self._point_kernel_at_lab()
        # moto checks PutFunctionConcurrency against this quota (AWS keeps 100 unreserved)
        os.environ["MOTO_LAMBDA_CONCURRENCY_QUOTA"] = str(account_concurrency)
        access_key, secret_key = self._credentials
        self.clients = LabClients(self.endpoint_url, access_key, secret_key,
                                  None if self.enforce_iam else self._session_token, REGION)
        self.sender = Sender(self.clients)
        self.service = LambdaService(
            self.workdir, self._function_env(), cloud.functions, cloud.settings, self.sender,
            write_log_events, trace=self.trace, idle_timeout=idle_timeout,
            runtime_client=runtime_client, speedup=speedup,
            account_concurrency=account_concurrency, environments=environments,
            serve_front=cloud.front.serve_on)
        cloud.seams.service = self.service
        self._connect_integrations()
        if self.enforce_iam:
            cloud.iam.enforce()

    def _connect_integrations(self) -> None:
        """Each integration registers its answers and hooks at the front; those with
        threads of their own are stopped, newest first, before the Lambda service."""
        from .cloud.cloudwatch import write_metric_data
        from .cloud.events_state import EventsState
        from .cloud.sns_state import SnsState
        from .cloud.stream_fixes import register_stream_fixes
        from .front_doors.alb_control import register_alb_control_plane
        from .front_doors.api_gateway_control import register_control_plane
        from .front_doors.cloudfront_cache import EdgeCache
        from .front_doors.cloudfront_control import register_cloudfront_control_plane
        from .front_doors.firehose import FirehoseDelivery
        from .front_doors.function_url_control import register_function_url_control_plane
        from .front_doors.ses import SesReceiving
        from .lambda_.api import LambdaApi
        from .lambda_.control import ControlPlane
        from .lambda_.metrics import LambdaMetrics
        from .pollers.mappings import EventSourceMappings
        from .push.alarms import AlarmEvaluator
        from .push.eventbridge import EventBridgeRouting
        from .push.s3 import S3Notifications
        from .push.sns import SnsDeliveries

        cloud, service, front = self.cloud, self.service, self.cloud.front
        LambdaApi(service, cloud.functions, cloud.settings,
                  authorize=cloud.iam.authorize if self.enforce_iam else None).register(front)
        ControlPlane(service, cloud.settings, cloud.s3.object_bytes).register(front)
        front.before("logs", "*", lambda request: service.flush_logs())
        self.event_source_mappings = EventSourceMappings(service, self.clients)
        self.event_source_mappings.register(front)
        self._stoppable.append(self.event_source_mappings)
        self.metrics = LambdaMetrics(
            self.trace, lambda namespace, data: write_metric_data(namespace, data, self.region),
            event_counts=self.event_source_mappings.event_counts)
        front.before("cloudwatch", "*", lambda request: self.metrics.flush())
        self._stoppable.append(AlarmEvaluator(service, cloud.functions, self.sender,
                                              self.metrics.flush, self.region,
                                              ACCOUNT_ID).register(front))
        S3Notifications(service, cloud.functions, self.sender, cloud.s3).register(front)
        SnsDeliveries(service, cloud.functions, self.sender, SnsState()).register(front)
        self._stoppable.append(EventBridgeRouting(service, cloud.functions, self.sender,
                                                  EventsState()).register(front))
        register_control_plane(front, cloud.apigateway)
        register_stream_fixes(front)
        self._ses = SesReceiving(service, cloud.functions, self.sender,
                                 self.region).register(front)
        self._stoppable.append(FirehoseDelivery(service, cloud.functions, self.sender,
                                                self.clients).register(front))
        register_alb_control_plane(front, cloud.elbv2, cloud.functions)
        register_function_url_control_plane(
            front, cloud.function_urls, cloud.functions,
            authorize=cloud.iam.authorize if self.enforce_iam else None)
        self.edge_cache = EdgeCache()
        register_cloudfront_control_plane(front, self.edge_cache)

    def _front_door(self, name: str, create):
        """The front door ``name``, started on first use with ``create()``."""
        with _lock:
            if not self.running:
                raise LabError("The lab is not running: run `lab = helpers.start_lab()` first.")
            if name not in self._doors:
                self._doors[name] = create()
                self._stoppable.append(self._doors[name])
            return self._doors[name]

    # -- isolation ------------------------------------------------------------------------

    @staticmethod
    def _check_environment():
        for name, value in os.environ.items():
            if name.startswith("AWS_ENDPOINT_URL") and value and not _is_loopback(value):
                raise UnsafeEnvironmentError(
                    f"{name} is set to {value!r}, which is not this machine. The lab "
                    "refuses to start while requests could be sent there; unset it and "
                    "start the lab again."
                )

    def _shield_files(self) -> dict:
        empty = self.workdir / "aws"
        empty.mkdir(exist_ok=True)
        (empty / "config").write_text("")
        (empty / "credentials").write_text("")
        return {
            "AWS_CONFIG_FILE": str(empty / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def _lab_variables(self) -> dict:
        access_key, secret_key = self._credentials
        variables = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": REGION,
            **self._shield_files(),
        }
        if not self.enforce_iam:  # temporary credentials, as a role's are
            variables["AWS_SESSION_TOKEN"] = self._session_token
        return variables

    def _point_kernel_at_lab(self):
        for name in self._saved_env:
            del os.environ[name]
        os.environ.update(self._lab_variables())
        self._reset_boto3_default_session()

    def _function_env(self) -> dict:
        """What a function process gets from the lab, besides Lambda's own variables."""
        from .lambda_.processes import Launcher

        return {**Launcher.python_env(), **self._lab_variables()}

    @staticmethod
    def _reset_boto3_default_session():
        import boto3

        boto3.DEFAULT_SESSION = None

    def _verify_isolation(self):
        """Refuse to run if boto3 in this kernel would not talk to the lab."""
        import boto3

        session = boto3.session.Session()
        client = session.client("lambda")
        credentials = session.get_credentials()
        if (client.meta.endpoint_url != self.endpoint_url
                or credentials.access_key != self._credentials[0]):
            raise UnsafeEnvironmentError(
                "boto3 in this kernel does not use the lab's endpoint and credentials "
                f"(endpoint {client.meta.endpoint_url}); botocore may be too old to read "
                "AWS_ENDPOINT_URL. The lab will not start."
            )

    # -- lifecycle ------------------------------------------------------------------------

    def stop(self) -> list:
        """Stop every environment and the local cloud; restore the kernel's environment.

        Returns the asynchronous events that had not finished (each is also recorded in
        the trace as dropped, with the reason), and says so when there are any.
        """
        global _current
        with _lock:
            if not self.running:
                return []
            self.running = False
            pending = self._teardown()
            if _current is self:
                _current = None
        atexit.unregister(self.stop)
        if pending:
            print(f"Lab stopped with {len(pending)} asynchronous event(s) still pending: "
                  "recorded in lab.trace as dropped.")
        return pending

    def _teardown(self):
        pending = []
        while self._stoppable:  # first: they invoke through the service
            self._stoppable.pop().stop()
        self._doors.clear()
        if self.service is not None:
            pending = self.service.stop()
        if self.metrics is not None:
            self.metrics.stop()
        if self.cloud is not None:
            self.cloud.stop()
        for name in list(os.environ):
            if name.startswith(SHIELDED):
                del os.environ[name]
        os.environ.update(self._saved_env)
        self._reset_boto3_default_session()
        from .lambda_.packages import remove_tree

        remove_tree(self.workdir)
        return pending

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Lab {state} at {getattr(self, 'endpoint_url', '?')}>"

    # -- what learners and widgets watch ---------------------------------------------------

    @property
    def speedup(self) -> float:
        return self.service.clock.speedup

    @speedup.setter
    def speedup(self, value: float) -> None:
        if not value or value <= 0:
            raise LabError("speedup must be a positive number (1 = AWS timing).")
        self.service.clock.speedup = float(value)

    def wait_for_events(self, timeout: float = 30.0) -> bool:
        """Wait until the asynchronous queue is empty; True if it emptied in time."""
        return self.service.events.wait_idle(timeout)

    # -- conveniences ----------------------------------------------------------------------

    def deploy(self, name: str, code, **options) -> dict:
        """Create or update a function in one line; see ``helpers.deploy.deploy_function``."""
        from .deploy import deploy_function

        return deploy_function(name, code, **options)

    def environments(self, function_name: str | None = None) -> list:
        """The live execution environments (optionally of one function)."""
        envs = self.service.environments()
        if function_name is not None:
            envs = [env for env in envs if env.spec.name == function_name]
        return envs

    # -- API Gateway (notebook 07) ---------------------------------------------------------

    @property
    def api_gateway(self):
        """The lab's API Gateway endpoint (``helpers.front_doors.api_gateway``)."""
        from .front_doors.api_gateway import ApiGateway

        return self._front_door("apigateway", lambda: ApiGateway(
            self.service, self.cloud.functions, self.cloud.apigateway, self.region))

    def api_url(self, api_id: str, stage: str) -> str:
        """The base URL of a REST API's deployed stage or an HTTP API's stage, on loopback.

        Call it with ``requests``, ``urllib`` or ``curl``: ``lab.api_url(api_id, "prod") +
        "/items"``. For an HTTP API's ``$default`` stage the URL has no stage in it, as
        in AWS.
        """
        return self.api_gateway.url_for(api_id, stage)

    def smtp_address(self) -> tuple[str, int]:
        """``("127.0.0.1", port)`` of the lab's SES inbound SMTP endpoint (notebook 09):
        ``smtplib.SMTP(*lab.smtp_address()).send_message(message)`` delivers mail to the
        active receipt rule set (``helpers.front_doors.ses``)."""
        return self._front_door("ses", self._ses.start).address

    # -- Application Load Balancers (notebook 08) ------------------------------------------

    def alb_url(self, load_balancer_arn: str, port: int = 80) -> str:
        """The base URL of a load balancer's listener on ``port``, on loopback.

        Each listener gets a port of its own on 127.0.0.1; requests to it are routed by the
        listener's rules, as an Application Load Balancer routes them.
        """
        from .front_doors.alb import LoadBalancers

        door = self._front_door("alb", lambda: LoadBalancers(
            self.service, self.cloud.functions, self.cloud.elbv2, self.region))
        return door.url_for(load_balancer_arn, port)

    # -- function URLs (notebook 14) -------------------------------------------------------

    def function_url(self, function_name: str, qualifier: str | None = None) -> str:
        """The base URL of a function's (or an alias's) function URL, on loopback.

        Each function URL gets a port of its own on 127.0.0.1, where AWS gives it a host
        name (the ``FunctionUrl`` that ``create_function_url_config`` returns). The URL has
        no trailing slash: ``lab.function_url("my-function") + "/items?page=2"``.
        """
        from .front_doors.function_url_access import UrlAccess
        from .front_doors.function_urls import FunctionUrls

        cloud = self.cloud

        def create():
            access = UrlAccess(cloud.functions, cloud.front.signatures, cloud.credentials[0],
                               cloud.iam, self.region)
            return FunctionUrls(self.service, cloud.functions, cloud.function_urls, access,
                                self.region)

        return self._front_door("function_url", create).url_for(function_name, qualifier)

    # -- CloudFront and Lambda@Edge (notebook 10) ------------------------------------------

    def cloudfront_url(self, distribution_id: str) -> str:
        """The base URL of a distribution, on loopback (no trailing slash).

        Each distribution gets a port of its own on 127.0.0.1, the lab's one edge
        location, where AWS gives it a host name (the ``DomainName`` that
        ``create_distribution`` returns): ``lab.cloudfront_url(dist_id) + "/index.html"``.
        """
        from .cloud.cloudfront_state import CloudFrontState
        from .front_doors.cloudfront import Distributions

        door = self._front_door("cloudfront", lambda: Distributions(
            self.service, self.cloud.functions, CloudFrontState(), self.edge_cache,
            self.clients.client("s3"), self.region))
        return door.url_for(distribution_id)
