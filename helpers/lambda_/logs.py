"""Function logs: platform lines (START, END, REPORT), output capture, the 4 KB tail.

Lambda writes a function's output and its own platform lines to CloudWatch Logs, in
the log group ``/aws/lambda/<function name>``, one log stream per execution
environment. The lab does the same inside moto (notebook 01 reads them back).
"""

from __future__ import annotations

import base64
import math
import time
from datetime import datetime, timezone

TAIL_BYTES = 4 * 1024  # LogResult: "The last 4 KB of the execution log"
KEPT_OUTPUT_BYTES = 256 * 1024  # per invocation; see "How this differs from AWS" in 01

__all__ = ["OutputBuffer", "log_stream_name", "report_line", "tail_base64"]


class OutputBuffer:
    """A function's output for one invocation, bounded: the start and the last 4 KB."""

    def __init__(self, limit: int = KEPT_OUTPUT_BYTES):
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def write(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - len(self.head)
        if room > 0:
            self.head += data[:room]
        self.tail += data
        del self.tail[:-TAIL_BYTES]

    def extend(self, other: OutputBuffer) -> None:
        if other.total <= other.limit:
            self.write(bytes(other.head))
        else:
            self.write(bytes(other.head))
            self.write(bytes(other.tail))

    @property
    def dropped(self) -> int:
        return max(self.total - len(self.head) - len(self.tail), 0)

    def text(self) -> str:
        """Everything kept, with a visible marker where output was left out."""
        if self.total <= self.limit:
            return self.head.decode("utf-8", "replace")
        if self.dropped == 0:
            overlap = self.total - len(self.head)
            return (self.head + self.tail[-overlap:]).decode("utf-8", "replace")
        marker = f"\n[lab: {self.dropped} bytes of output not kept]\n"
        return (
            self.head.decode("utf-8", "replace") + marker + self.tail.decode("utf-8", "replace")
        )


def log_stream_name(version: str, environment_id: str, when: float | None = None) -> str:
    """``2026/11/28/[$LATEST]0123456789abcdef0123456789abcdef``, as Lambda names them."""
    day = datetime.fromtimestamp(when or time.time(), timezone.utc)
    return f"{day:%Y/%m/%d}/[{version}]{environment_id}"


def report_line(
    request_id: str,
    duration_ms: float,
    memory_size: int,
    max_memory_used: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """The REPORT line. Billed Duration is rounded up to the ms and includes Init."""
    billed = math.ceil(duration_ms + (init_duration_ms or 0.0))
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed} ms",
        f"Memory Size: {memory_size} MB",
        f"Max Memory Used: {max_memory_used} MB",
    ]
    if init_duration_ms is not None:
        parts.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status:
        parts.append(f"Status: {status}")
    if error_type:
        parts.append(f"Error Type: {error_type}")
    return "\t".join(parts) + "\t"


def tail_base64(text: str) -> str:
    """``X-Amz-Log-Result``: the last 4 KB of the execution log, base64-encoded."""
    return base64.b64encode(text.encode("utf-8")[-TAIL_BYTES:]).decode("ascii")


def iso_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
