"""Time to execute each notebook, the kernel's peak memory, and the time a learner needs.

Each notebook runs top to bottom in a fresh kernel (as nbval runs it); the kernel's
peak resident memory (VmHWM, Linux) is read just before the kernel shuts down, so it
includes the running lab.

The learner's time is a model applied to each cell, with the cells' measured run times:
reading prose at 180 words a minute; reading a code cell, running it and looking at its
output (15 s, plus 3 s a line of code and 1.5 s a line of output, at most a minute of
output); 45 s for each diagram and table; 6 minutes for each exercise (trying,
checking, reading the solution) and 6 for each playground (trying the things its text
suggests). The figures are split at the first "## Deep dive:" heading. Prints a table;
``BENCH`` lines feed ``tasks.py bench``.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0  # each notebook runs top to bottom in under 30 s
WORDS_PER_MINUTE = 180
CODE_CELL_S, CODE_LINE_S, OUTPUT_LINE_S, OUTPUT_MAX_S = 15, 3, 1.5, 60
FIGURE_S = 45  # a diagram or a table to study
EXERCISE_S = 6 * 60
PLAYGROUND_S = 6 * 60
PLAYGROUND = re.compile(r"helpers\.[a-z0-9_]+_(playground|view|demo)\(")  # a widget to use


def peak_memory_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(path: Path):
    """(seconds, peak MB, the executed notebook, each code cell's run time)"""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    durations = {}
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            begun = time.perf_counter()
            client.execute_cell(cell, index)
            durations[index] = time.perf_counter() - begun
        pid = client.km.provisioner.process.pid
        memory = peak_memory_mb(pid)
    return time.perf_counter() - started, memory, notebook, durations


def output_lines(cell) -> int:
    lines = 0
    for output in cell.get("outputs", []):
        text = output.get("text") or output.get("data", {}).get("text/plain", "")
        lines += len("".join(text).splitlines())
        if "data" in output and any(k.startswith("application/") for k in output["data"]):
            lines += 10  # a chart or a widget to look at
    return lines


def learner_seconds(cell, run_s: float) -> float:
    text = cell.source
    if cell.cell_type == "markdown":
        prose = re.sub(r"```.*?```", " ", text, flags=re.S)
        seconds = len(re.findall(r"[A-Za-z0-9']+", prose)) / WORDS_PER_MINUTE * 60
        seconds += FIGURE_S * (text.count("```mermaid") + len(re.findall(r"^\| --- ", text,
                                                                           re.M)))
        seconds += EXERCISE_S * len(re.findall(r"\*\*Exercise \d+\.\*\*", text))
        return seconds
    if "solution" in cell.metadata.get("tags", []):
        return 0.0  # in the exercise's time
    seconds = CODE_CELL_S + CODE_LINE_S * len(text.splitlines()) + run_s
    seconds += min(OUTPUT_LINE_S * output_lines(cell), OUTPUT_MAX_S)
    if PLAYGROUND.search(text):
        seconds += PLAYGROUND_S
    return seconds


def learner_minutes(notebook, durations) -> tuple[float, float]:
    """(core, deep dive) minutes: the deep dive is from the first "## Deep dive:" heading
    to the Exercises."""
    core = deep = 0.0
    part = "core"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            if re.search(r"^## Deep dive:", cell.source, re.M):
                part = "deep"
            elif re.search(r"^## Exercises", cell.source, re.M):
                part = "core"
        seconds = learner_seconds(cell, durations.get(index, 0.0))
        if part == "deep":
            deep += seconds
        else:
            core += seconds
    return core / 60, deep / 60


def main() -> int:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    if not notebooks:
        print("No notebooks found.")
        return 1
    print(f"{'notebook':36} {'run s':>7} {'peak MB':>8} {'learner min':>12} "
          f"{'core':>5} {'deep':>5}")
    total, peaks, course, course_core = 0.0, [], 0.0, 0.0
    for path in notebooks:
        seconds, memory, notebook, durations = run(path)
        core, deep = learner_minutes(notebook, durations)
        total += seconds
        course += core + deep
        course_core += core
        if memory is not None:
            peaks.append(memory)
        status = "PASS" if seconds < TARGET_S else "MISS"
        shown = f"{memory:.0f}" if memory is not None else "n/a"
        print(f"{path.name:36} {seconds:7.1f} {shown:>8} {core + deep:12.0f} {core:5.0f} "
              f"{deep:5.0f}")
        print(f"BENCH\t{path.stem} run time\t{seconds:.2f} s\t< {TARGET_S:.0f} s\t{status}")
        print(f"BENCH\t{path.stem} kernel peak memory\t{shown} MB\t-\t-")
        print(f"BENCH\t{path.stem} learner time (model)\t{core + deep:.0f} min "
              f"(core {core:.0f}, deep dive {deep:.0f})\t-\t-")
    print(f"{'all notebooks':36} {total:7.1f} {max(peaks, default=0):8.0f} {course:12.0f} "
          f"{course_core:5.0f} {course - course_core:5.0f}")
    print(f"BENCH\tall {len(notebooks)} notebooks run time\t{total:.2f} s\t-\t-")
    print(f"BENCH\tthe course at a learner's pace (model)\t{course / 60:.1f} h "
          f"(core {course_core / 60:.1f} h)\t-\t-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
