"""Starting labs whose environments run one particular way, for the tests that compare.

Sandbox tests need bubblewrap and user namespaces. Where bubblewrap is missing they fail
in CI (``CI`` set: CI installs it, see tasks.py) and are skipped elsewhere; where user
namespaces are not allowed they are skipped, with the reason, wherever they run.
"""

from __future__ import annotations

import os
import shutil

import pytest

import helpers
from helpers.lambda_ import sandbox

MODES = ("sandbox", "fork", "spawn")


def require_sandbox() -> None:
    probe = sandbox.probe()
    if probe.available:
        return
    if shutil.which("bwrap") is None and os.environ.get("CI"):
        pytest.fail(f"CI must run the sandbox tests, but: {probe.reason}")
    pytest.skip(f"SANDBOX TESTS SKIPPED: sandboxes cannot start here: {probe.reason}")


def start_lab_in(mode: str, **settings):
    """A new lab whose environments run in ``mode`` (the running lab is stopped)."""
    if mode == "sandbox":
        require_sandbox()
    running = helpers.lab._current
    if running is not None:
        running.stop()
    return helpers.start_lab(environments=mode, **settings)
