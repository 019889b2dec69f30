"""What every playground model shares: the lab, its own AWS resources, waits, a timeline.

A playground model is a plain class, no widgets: a view in ``helpers.widgets`` draws it,
notebooks and tests drive it directly. Each model creates its resources with plain
boto3 (``_setup``) and can tell whether they still exist (``_resources_exist``): a
notebook's clean-up deletes them, and the next action sets them up again
(``ensure_ready``), so a playground still works after Run All. Waits end at a time
limit with a message that says what did not happen. Introduced in notebook 01.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

from ..errors import LabError
from . import timeline as timelines

__all__ = ["PlaygroundBase", "PlaygroundInputError", "PlaygroundTimeoutError",
           "front_door_labels", "parse_header_lines", "send_http", "wait_until"]


class PlaygroundInputError(LabError):
    """Bad input in a playground, with a message for the learner."""


class PlaygroundTimeoutError(LabError, TimeoutError):
    """A playground waited longer than its time limit; the message says for what."""


def wait_until(check, timeout: float, what: str, interval: float = 0.05):
    """Call ``check()`` until it returns something true, and return that; after
    ``timeout`` seconds raise PlaygroundTimeoutError naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise PlaygroundTimeoutError(
                f"Gave up after {timeout:g} s waiting for {what}. Run the cell again to "
                "wait longer, or look at lab.trace to see what happened.")
        time.sleep(interval)


def parse_header_lines(text: str | None) -> list[tuple[str, str]]:
    """``Name: value`` lines (blank lines skipped) as pairs; PlaygroundInputError naming
    the first line that is not one."""
    headers = []
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise PlaygroundInputError(f"Header line {number} is not 'Name: value'.")
        headers.append((name.strip(), value.strip()))
    return headers


def send_http(result, method: str, url: str, headers: list, body: bytes, timeout: float = 60):
    """Send one HTTP request with urllib and fill ``result`` (its status, reason, headers,
    body, seconds, or error when no answer came); returns the answer's headers (None
    without an answer). A 4xx or 5xx is an answer like any other."""
    request = urllib.request.Request(url, data=body or None, method=method,
                                     headers=dict(headers))
    started = time.perf_counter()
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:  # 4xx and 5xx still carry an answer
        response = error
    except OSError as error:
        result.error = f"No answer: {error}"
        response = None
    if response is not None:
        with response:
            result.body = response.read().decode("utf-8", "replace")
        result.status, result.reason = response.status, response.reason
        result.headers = list(response.headers.items())
    result.seconds = time.perf_counter() - started
    return response.headers if response is not None else None


def front_door_labels(trace, door: str, function_arn: str) -> dict:
    """Timeline labels ("GET /path → 200") for the invokes a front door made of a function,
    by Lambda request id, from its ``<door>.request`` and ``<door>.response`` records."""
    requests = {r["request_id"]: r for r in trace.events(f"{door}.request")}
    labels = {}
    for answer in trace.events(f"{door}.response", function=function_arn):
        request = requests.get(answer["request_id"], {})
        if answer.get("lambda_request_id"):
            labels[answer["lambda_request_id"]] = (
                f"{request.get('method', '')} {request.get('path', '')} → {answer['status']}")
    return labels


class PlaygroundBase:
    """The lab, a lock, resources that set themselves up again, and a timeline."""

    def __init__(self, lab):
        self.lab = lab
        self._lock = threading.RLock()

    # -- resources -----------------------------------------------------------------------

    def _setup(self) -> None:
        """Create (or find) the playground's resources with boto3."""
        raise NotImplementedError

    def _resources_exist(self) -> bool:
        """True while every resource ``_setup`` made is still there."""
        raise NotImplementedError

    def resources_exist(self) -> bool:
        try:
            return self._resources_exist()
        except Exception:  # the lab stopped, or a resource half-deleted: set up again
            return False

    def ensure_ready(self) -> bool:
        """Set the resources up again if something deleted them; True if it had to."""
        with self._lock:
            if self.resources_exist():
                return False
            self._setup()
            return True

    # -- what happened ---------------------------------------------------------------------

    def function_arns(self) -> list[str]:
        """The functions whose environments the timeline shows."""
        raise NotImplementedError

    def timeline_labels(self) -> dict:
        """Short labels for the timeline's attempts, by Lambda request id."""
        return {}

    def timeline(self, limit: int = 60) -> timelines.Timeline:
        """The latest attempts of the playground's functions (see helpers.playgrounds.timeline)."""
        return timelines.from_trace(self.lab.trace, self.function_arns(),
                                    self.timeline_labels(), limit=limit)
