"""Every notebook follows the course template, is committed clean and executed, runs twice
in one kernel, and is listed in the README. (nbval checks the outputs themselves: pytest
runs it over notebooks/ with tests/nbval-sanitize.cfg.)

To bring a notebook back in line: python tests/notebook_tools.py notebooks/NN-topic.ipynb
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from notebook_tools import (
    CELL_TIMEOUT_S,
    NOTEBOOKS,
    README,
    ROOT,
    cleaned,
    notebook_paths,
    readme_block,
    readme_contents,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest itself depends on tomli there.
    import tomli as tomllib

PATHS = notebook_paths()
IDS = [path.stem for path in PATHS]
# The template's level-2 headings; the notebook's own topic sections go between them.
FIRST = ["Overview", "Prerequisites"]
LAST = ["Exercises", "How this differs from AWS", "Summary", "What's next", "Clean-up"]
BOTO3_USE = re.compile(r"boto3\.(client|resource|Session|session\.Session)\(")


def test_the_notebooks_are_found():
    assert PATHS, f"no notebooks matching NN-*.ipynb in {NOTEBOOKS}"
    assert "00-welcome.ipynb" in [path.name for path in PATHS]
    stray = [path.name for path in NOTEBOOKS.glob("*.ipynb")
             if not re.fullmatch(r"\d\d-[a-z0-9-]+\.ipynb", path.name)]
    assert not stray, f"notebooks/ holds notebooks outside the course (NN-topic.ipynb): {stray}"
    untitled = [path for folder in (ROOT, NOTEBOOKS) for path in folder.glob("Untitled*.ipynb")]
    assert not untitled, untitled


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def heading_index(all_cells: list[dict], heading: str) -> int:
    """The index of the markdown cell holding ``## heading``."""
    pattern = re.compile(rf"^## {re.escape(heading)}\s*$", re.M)
    found = [i for i, cell in enumerate(all_cells)
             if cell["cell_type"] == "markdown" and pattern.search(source(cell))]
    assert len(found) == 1, f"expected one '## {heading}' heading, found {len(found)}"
    return found[0]


def section(all_cells: list[dict], heading: str) -> str:
    """The markdown text of a `##` section, up to the next heading."""
    text = "\n".join(source(c) for c in all_cells if c["cell_type"] == "markdown")
    return re.split(r"^#{1,2} ", text.split(f"## {heading}\n", 1)[1], flags=re.M)[0]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_headings_follow_the_template(path):
    all_cells = cells(path)
    assert all_cells[0]["cell_type"] == "markdown" and source(all_cells[0]).startswith("# "), \
        "the first cell is the '# ' title"
    headings = [h for c in all_cells if c["cell_type"] == "markdown"
                for h in re.findall(r"^(#{1,2}) (.+?)\s*$", source(c), re.M)]
    assert [level for level, _ in headings].count("#") == 1, "one '# ' title, no other"
    # the reworked template adds "Resources" between Summary and What's next
    second = [text for level, text in headings if level == "##" and text != "Resources"]
    assert second[:len(FIRST)] == FIRST, second
    assert second[-len(LAST):] == LAST, second
    topics = second[len(FIRST):-len(LAST)]
    assert topics, "no topic sections between Prerequisites and Exercises"

    objectives = re.findall(r"^\d+\. ", section(all_cells, "Overview"), re.M)
    assert len(objectives) == len(topics), (
        f"the Overview's {len(objectives)} numbered objectives should map to the "
        f"{len(topics)} topic sections: {topics}")

    prerequisites = section(all_cells, "Prerequisites")
    assert re.search(r"^\| Concept \| Importance \| Notes \|$", prerequisites, re.M)
    assert re.search(r"^\*\*Time to learn\*\*: \d+ minutes", prerequisites, re.M)

    summary = heading_index(all_cells, "Summary")
    before = source(all_cells[summary]).split("## Summary", 1)[0].strip()
    if not before:
        before = source(all_cells[summary - 1]).strip()
    assert before.splitlines()[-1] == "---", "a '---' rule comes right before Summary"

    cleanup = heading_index(all_cells, "Clean-up")
    assert any(c["cell_type"] == "code" for c in all_cells[cleanup + 1:]), \
        "Clean-up ends the notebook with code that runs"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_the_lab_starts_before_boto3_is_used(path):
    all_cells = cells(path)
    code = [(i, source(c)) for i, c in enumerate(all_cells) if c["cell_type"] == "code"]
    starts = [i for i, text in code if "helpers.start_lab(" in text]
    assert starts, "a setup cell calls helpers.start_lab("
    first_topic = next(i for i in range(heading_index(all_cells, FIRST[-1]) + 1, len(all_cells))
                       if re.search(r"^## ", source(all_cells[i]), re.M))
    assert starts[0] < first_topic, "the lab starts in the setup cells, before the first topic"
    for i, text in code:
        if i > starts[0]:
            break
        if i == starts[0]:
            text = text.split("helpers.start_lab(", 1)[0]
        assert not BOTO3_USE.search(text), f"cell {i} uses boto3 before the lab starts"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_every_exercise_has_a_self_check_and_a_solution(path):
    all_cells = cells(path)
    start = heading_index(all_cells, "Exercises")
    end = heading_index(all_cells, "How this differs from AWS")
    exercises = [i for i in range(start, end)
                 if re.search(r"\*\*Exercise \d+\.\*\*", source(all_cells[i]))]
    assert len(exercises) >= 2, "two or more exercises"
    for first, last in zip(exercises, [*exercises[1:], end], strict=True):
        block = all_cells[first + 1:last]
        checks = [i for i, c in enumerate(block) if source(c).startswith("# Self-check")]
        solutions = [i for i, c in enumerate(block) if "solution" in tags(c)]
        name = source(all_cells[first]).split("**")[1]
        assert len(checks) == 1 and len(solutions) == 1, f"{name} needs one self-check and " \
            "one solution cell (tagged `solution`)"
        assert checks[0] < solutions[0], f"{name}: the self-check comes before the solution"
        check, solution = block[checks[0]], block[solutions[0]]
        assert check["cell_type"] == solution["cell_type"] == "code"
        assert "raises-exception" not in tags(check), "a self-check prints, never raises"
        # CI runs the solutions: each must pass its own self-check.
        printed = "".join("".join(o["text"]) for o in solution["outputs"]
                          if o["output_type"] == "stream")
        passed = "✅" in printed or printed.lstrip().startswith("Right")
        assert passed and "❌" not in printed and "Not yet" not in printed, \
            f"{name}: the solution's self-check said: {printed!r}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_committed_clean_and_executed(path):
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["metadata"].get("kernelspec", {}).get("name") == "python3"
    assert cleaned(document) == document, \
        f"stray metadata: run python tests/notebook_tools.py --no-execute {path.relative_to(ROOT)}"
    code = [c for c in document["cells"] if c["cell_type"] == "code"]
    for number, cell in enumerate(document["cells"]):
        assert source(cell).strip(), f"cell {number} is empty"
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), \
        f"every code cell executed, in order, in one run from the top: {counts}"
    assert any(c["outputs"] for c in code), "outputs are stored"
    for cell in code:
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        assert not errors or "raises-exception" in tags(cell), \
            f"an error is stored in a cell not tagged raises-exception: {source(cell)[:80]!r}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_runs_twice_in_one_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for _ in range(2):
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)  # raises CellExecutionError on any error


def test_readme_lists_every_notebook():
    block = readme_block(README.read_text(encoding="utf-8"))
    assert block == readme_contents(), "run: python tests/notebook_tools.py --readme"


def test_the_welcome_setup_cell_checks_the_tested_versions():
    """00-welcome's setup cell states the ranges pyproject.toml pins; they must agree."""
    setup = next(source(c) for c in cells(NOTEBOOKS / "00-welcome.ipynb")
                 if c["cell_type"] == "code" and "TESTED = {" in source(c))
    pins = {}
    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        match = re.fullmatch(r"([a-z0-9]+)(\[.*\])?>=([\d.]+),<([\d.]+)", line.replace(" ", ""))
        if match:
            pins[match[1]] = (match[3], match[4])
    for name in ("boto3", "moto", "ipywidgets"):
        assert name in pins, f"pyproject.toml has no '>=low,<high' range for {name}"
        low, high = pins[name]
        assert f'"{name}": ("{low}", "{high}")' in setup, f"{name}: pyproject says >={low},<{high}"
