"""Every notebook follows the course template, is committed clean and executed, runs
twice in one kernel, and is listed in the README. (nbval checks the outputs themselves:
pytest runs it over notebooks/ with tests/nbval-sanitize.cfg.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from notebook_tools import NOTEBOOK_METADATA, ROOT, notebook_paths, readme_contents

NOTEBOOKS = notebook_paths()
IDS = [path.stem for path in NOTEBOOKS]
# The template: these level-2 headings, in this order (topic sections go between).
FIRST = ["Overview", "Prerequisites"]
LAST = ["Exercises", "How this differs from AWS", "Summary", "What's next", "Clean-up"]


def test_notebooks_are_found():
    names = [path.name for path in NOTEBOOKS]
    assert "00-welcome.ipynb" in names and len(names) >= 4, names
    assert not list((ROOT / "notebooks").glob("Untitled*.ipynb"))
    assert not list((ROOT / "notebooks").rglob("*-checkpoint.ipynb"))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def headings(path: Path) -> list[str]:
    found = []
    for cell in cells(path):
        if cell["cell_type"] == "markdown":
            found += re.findall(r"^## (.+)$", "".join(cell["source"]), re.M)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_template_headings_in_order(path):
    all_cells = cells(path)
    assert "".join(all_cells[0]["source"]).startswith("# "), "the first cell is the title"
    found = headings(path)
    assert found[:2] == FIRST, found
    assert found[-5:] == LAST, found
    assert len(found) > len(FIRST) + len(LAST), "no topic sections"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_template_contents(path):
    all_cells = cells(path)
    text = {c["cell_type"]: [] for c in all_cells}
    for cell in all_cells:
        text[cell["cell_type"]].append("".join(cell["source"]))
    markdown = "\n".join(text["markdown"])
    overview = markdown.split("## Overview", 1)[1].split("## ", 1)[0]
    objectives = re.findall(r"^\d+\. ", overview, re.M)
    assert len(objectives) >= 3, "Overview lists numbered objectives"
    prerequisites = markdown.split("## Prerequisites", 1)[1].split("## ", 1)[0]
    assert "| Concept |" in prerequisites and re.search(r"\*\*Time to learn\*\*: \d+", markdown)
    first_code = text["code"][0]
    assert "helpers.start_lab(" in first_code, "the setup cell starts the lab first"
    summary_cell = next(i for i, c in enumerate(all_cells) if "## Summary" in "".join(c["source"]))
    assert "".join(all_cells[summary_cell]["source"]).lstrip().startswith("---")
    cleanup = next(i for i, c in enumerate(all_cells) if "## Clean-up" in "".join(c["source"]))
    assert any(c["cell_type"] == "code" for c in all_cells[cleanup:]), "Clean-up runs code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_exercise_has_a_self_check_and_a_solution(path):
    all_cells = cells(path)
    start = next(i for i, c in enumerate(all_cells) if "## Exercises" in "".join(c["source"]))
    end = next(i for i, c in enumerate(all_cells) if "## How this differs" in "".join(c["source"]))
    section = all_cells[start:end]
    exercises = [c for c in section if re.search(r"\*\*Exercise \d+\.\*\*", "".join(c["source"]))]
    checks = [c for c in section if "".join(c["source"]).startswith("# Self-check")]
    solutions = [c for c in section if "solution" in c.get("metadata", {}).get("tags", [])]
    assert len(exercises) >= 2
    assert len(checks) == len(solutions) == len(exercises)
    for solution in solutions:  # CI runs the solutions: each must pass its own self-check
        output = "".join("".join(o.get("text", "")) for o in solution.get("outputs", []))
        assert "✅" in output and "❌" not in output, "".join(solution["source"])[:200]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_clean_and_executed(path):
    document = json.loads(path.read_text(encoding="utf-8"))
    assert set(document["metadata"]) <= NOTEBOOK_METADATA
    for cell in document["cells"]:
        assert "".join(cell["source"]).strip(), "empty cell"
        assert set(cell.get("metadata", {})) <= {"tags"}, cell.get("metadata")
        if cell["cell_type"] == "code":
            assert cell["execution_count"] is not None, "unexecuted cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_twice_in_one_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for _ in range(2):
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)  # raises CellExecutionError on any error


def test_readme_lists_every_notebook():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_contents() in text, "run: python tests/notebook_tools.py --readme"
