"""Time to execute each notebook and the whole collection, and the kernel's peak memory.

Each notebook runs top to bottom in a fresh kernel (as nbval runs it); the kernel's
peak resident memory (VmHWM, Linux) is read just before the kernel shuts down, so it
includes the running lab. Prints a table; ``BENCH`` lines feed ``tasks.py bench``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 20.0  # each notebook runs top to bottom in under 20 s


def peak_memory_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(path: Path) -> tuple[float, float | None]:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        pid = client.km.provisioner.process.pid
        memory = peak_memory_mb(pid)
    return time.perf_counter() - started, memory


def main() -> int:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    if not notebooks:
        print("No notebooks found.")
        return 1
    print(f"{'notebook':40} {'seconds':>8} {'kernel peak MB':>15}  target")
    total, peaks = 0.0, []
    for path in notebooks:
        seconds, memory = run(path)
        total += seconds
        if memory is not None:
            peaks.append(memory)
        status = "PASS" if seconds < TARGET_S else "MISS"
        shown = f"{memory:.0f}" if memory is not None else "n/a"
        print(f"{path.name:40} {seconds:8.2f} {shown:>15}  < {TARGET_S:.0f} s {status}")
        print(f"BENCH\t{path.stem} run time\t{seconds:.2f} s\t< {TARGET_S:.0f} s\t{status}")
        print(f"BENCH\t{path.stem} kernel peak memory\t{shown} MB\t-\t-")
    print(f"{'all notebooks':40} {total:8.2f} {max(peaks, default=0):15.0f}")
    print(f"BENCH\tall {len(notebooks)} notebooks run time\t{total:.2f} s\t-\t-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
