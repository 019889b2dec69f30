"""Function logs into CloudWatch Logs, as Lambda writes them: straight into moto's state.

The Lambda service writes each invocation's lines in the background, in batches
(``helpers.lambda_.service``); a CloudWatch Logs request first waits for the lines
already written (the lab registers that at the front), so a read never misses one.
"""

from __future__ import annotations

import threading

from ..aws import ACCOUNT_ID

__all__ = ["write_log_events"]

_lock = threading.Lock()  # moto's logs backend is not thread-safe


def write_log_events(group: str, stream: str, events: list[tuple[int, str]], region: str,
                     account_id: str = ACCOUNT_ID) -> None:
    """Append ``(timestamp_ms, message)`` events to a log stream, creating it if needed."""
    from moto.logs.models import logs_backends  # on first use, as moto itself loads it

    backend = logs_backends[account_id][region]
    with _lock:
        if group not in backend.groups:
            backend.create_log_group(group, tags={})
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        backend.put_log_events(
            group, stream, [{"timestamp": ts, "message": message} for ts, message in events])
