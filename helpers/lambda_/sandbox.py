"""The sandbox an execution environment runs in on Linux: bubblewrap (``bwrap``).

bubblewrap (https://github.com/containers/bubblewrap), from the distribution's
packages, builds the sandbox from Linux namespaces, without privileges. Inside it a
function sees:

- its code at ``/var/task`` and the runtime at ``/var/runtime``, both read-only;
- its own empty ``/tmp``, of the function's ``EphemeralStorage`` size (memory-backed,
  so writing past it fails with "No space left on device", as in Lambda);
- the system's programs and libraries and this Python installation, read-only, and
  nothing else of the file system: not the learner's home, not the kernel's files,
  not another function's code;
- its own process tree (the runtime and what it starts; nothing of the machine's);
- its own network, with exactly two endpoints on loopback: its Runtime API
  (``127.0.0.1:9001``, as in Lambda) and the lab's AWS endpoint. No other function's
  Runtime API, no front door, nothing beyond the machine.

It ends with its parent. ``probe()`` says whether sandboxes can start here (bubblewrap
installed, user namespaces allowed) and, if not, why. Introduced in notebook 01.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
RUNTIME_API = "127.0.0.1:9001"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")

__all__ = ["RUNTIME_API", "RUNTIME_DIR", "TASK_ROOT", "Probe", "command", "probe"]


class Probe:
    """Whether sandboxes start on this machine; ``reason`` says why not."""

    def __init__(self, available: bool, reason: str = "", sized_tmp: bool = False):
        self.available = available
        self.reason = reason
        self.sized_tmp = sized_tmp  # bwrap can give /tmp a size (0.5 and later)

    def __repr__(self) -> str:
        return f"<sandbox {'available' if self.available else 'unavailable: ' + self.reason}>"


def _python_dirs() -> list[str]:
    """The directories this interpreter runs from: prefixes and every sys.path entry
    inside them (site-packages), bound read-only at the same place."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                               os.path.dirname(os.path.realpath(
                                                   sys.executable)))}
    dirs = set()
    for prefix in prefixes:
        if not any(prefix == system or prefix.startswith(system + "/")
                   for system in SYSTEM_DIRS):
            dirs.add(prefix)
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if real and os.path.isdir(real) and ("site-packages" in real
                                             or "dist-packages" in real):
            if not any(real == d or real.startswith(d + "/") for d in dirs | set(SYSTEM_DIRS)):
                dirs.add(real)
    executable = os.path.abspath(sys.executable)
    if not any(executable.startswith(d + "/") for d in dirs | set(SYSTEM_DIRS)):
        dirs.add(os.path.dirname(executable))  # a venv's bin/ outside its prefix
    return sorted(dirs)


def command(bwrap: str, code_dir: Path, runtime_dir: Path, tmp_mb: int | None,
            program: list[str]) -> list[str]:
    """The bwrap command that runs ``program`` in a new sandbox."""
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session",
            "--hostname", "lambda"]
    for system in SYSTEM_DIRS:
        if os.path.islink(system):
            args += ["--symlink", os.readlink(system), system]
        elif os.path.isdir(system):
            args += ["--ro-bind", system, system]
    if tmp_mb:
        args += ["--size", str(tmp_mb * 1024 * 1024)]
    args += ["--tmpfs", "/tmp"]  # first: Python installed under /tmp is bound over it
    for directory in _python_dirs():
        args += ["--ro-bind", directory, directory]
    args += ["--ro-bind", str(code_dir), TASK_ROOT, "--ro-bind", str(runtime_dir), RUNTIME_DIR,
             "--proc", "/proc", "--dev", "/dev", "--chdir", TASK_ROOT, "--", *program]
    return args


@functools.lru_cache(maxsize=1)
def probe() -> Probe:
    """Try a sandbox once (in this process): bubblewrap present, user namespaces allowed."""
    if not sys.platform.startswith("linux"):
        return Probe(False, f"sandboxes need Linux; this is {sys.platform}")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Probe(False, "bubblewrap (bwrap) is not installed "
                            "(Debian/Ubuntu: apt-get install bubblewrap)")
    try:
        usage = subprocess.run([bwrap, "--help"], capture_output=True, text=True,
                               timeout=10).stdout
        here = Path(__file__).parent
        result = subprocess.run(
            command(bwrap, here, here, None, [sys.executable, "-S", "-c", "pass"]),
            capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as error:
        return Probe(False, f"bwrap could not run: {error}")
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return Probe(False, f"bwrap cannot make a sandbox here ({detail}); user namespaces "
                            "may be disabled")
    return Probe(True, sized_tmp="--size" in usage)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")
