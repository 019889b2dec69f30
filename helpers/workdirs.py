"""The lab's temporary directory: named ``lambda-lab-*``, marked with its owner (the
process and when it started), and removed by a later lab if its owner is gone (a kernel
killed before it could clean up). Introduced in 00-welcome.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

WORKDIR_PREFIX = "lambda-lab-"
OWNER_FILE = "owner"  # "<pid> <start time>" of the process whose lab it is


def process_started(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot, Linux), so that a new process that
    reuses an old pid is not taken for it; None if it is gone; "" where the lab cannot
    tell (no /proc: the process may be alive, so it is left alone)."""
    if not os.path.isdir("/proc/self"):
        if os.name != "posix":
            return ""  # Windows: os.kill would end the process it asks about
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError:
            pass
        return ""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except FileNotFoundError:
        return None
    except (OSError, IndexError):
        return ""


def owner_of_this_process() -> str:
    return f"{os.getpid()} {process_started(os.getpid()) or ''}"


def remove_abandoned_workdirs() -> list[Path]:
    """Delete the temporary directories of labs whose process is gone (a machine that
    crashed, a kernel killed before it could clean up). Only this user's are touched."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*"):
        try:
            if not path.is_dir() or (hasattr(os, "getuid")
                                     and path.stat().st_uid != os.getuid()):
                continue
            pid, _, started = (path / OWNER_FILE).read_text().partition(" ")
            now = process_started(int(pid))
        except (OSError, ValueError):
            continue  # not a lab's, or being made right now
        if now is None or (started.strip() and now and now != started.strip()):
            from .lambda_.packages import remove_tree

            remove_tree(path)
            removed.append(path)
    return removed
