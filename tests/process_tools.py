"""Looking at processes from outside, as the host sees them (Linux /proc).

A sandboxed function sees its own small process ids (its own process tree), so tests
find an environment's processes from the host: the environment's process and its
descendants."""

from __future__ import annotations

import os
import time


def children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found.extend(int(child) for child in listing.read().split())
        except OSError:
            pass
    return found


def descendants(pid: int) -> list[int]:
    found, todo = [], children(pid)
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children(current))
    return found


def command_line(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return [part.decode() for part in cmdline.read().split(b"\0") if part]
    except OSError:
        return []


def processes_running(pid: int, program: str, at_least: int = 1,
                      within: float = 2.0) -> list[int]:
    """Descendants of ``pid`` whose command is ``program`` (``"sleep"``). A process just
    started may not be listed (or not yet exec'd) for a moment: this looks again, for up
    to ``within`` seconds, until it finds ``at_least`` of them."""
    deadline = time.monotonic() + within
    while True:
        found = [child for child in descendants(pid)
                 if os.path.basename((command_line(child) or [""])[0]) == program]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "State:\tZ" not in status.read()
    except OSError:
        return False


def wait_gone(pids, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False
