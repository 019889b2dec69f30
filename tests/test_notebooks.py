"""Every notebook follows the course template, is committed clean and executed, and is
listed in the README. (nbval checks the outputs themselves: pytest runs it over notebooks/
with tests/nbval-sanitize.cfg; tests/test_notebook_runs.py runs each notebook twice in one
kernel with wrong answers to its exercises.)

To bring a notebook back in line: python tests/notebook_tools.py notebooks/NN-topic.ipynb
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from notebook_tools import (
    NOTEBOOKS,
    README,
    ROOT,
    SOLUTION_HIDDEN,
    cleaned,
    course_minutes,
    duration,
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
LAST = ["Exercises", "How this differs from AWS", "Summary", "Resources", "What's next",
        "Clean-up"]
DEEP_DIVE = "Deep dive: "
# Emoji need a font of their own; the course's marks are words
EMOJI = re.compile("[\u2600-\u27bf\U0001f000-\U0001faff]")
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
    second = [text for level, text in headings if level == "##"]
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
    time_line = re.search(r"^\*\*Time to learn\*\*: (\d+) minutes(.*)$", prerequisites, re.M)
    assert time_line, "a '**Time to learn**: N minutes' line"
    deep = [i for i, topic in enumerate(topics) if topic.startswith(DEEP_DIVE)]
    if deep:  # the core first, then the deep dives; the time says how long each takes
        assert deep == list(range(deep[0], len(topics))), f"deep dives come last: {topics}"
        split = re.search(r"core (\d+), deep dives? (\d+)", time_line[2])
        assert split and int(split[1]) + int(split[2]) == int(time_line[1]), time_line[0]

    resources = section(all_cells, "Resources")
    assert len(re.findall(r"\]\(https://", resources)) >= 3, "Resources lists its pages"

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
        assert len(checks) == 1 and solutions, f"{name} needs one self-check and a " \
            "solution (cells tagged `solution`)"
        assert solutions == list(range(checks[0] + 1, checks[0] + 1 + len(solutions))), \
            f"{name}: the solution's cells follow the self-check"
        check, solution = block[checks[0]], block[solutions[-1]]
        assert check["cell_type"] == solution["cell_type"] == "code"
        assert "raises-exception" not in tags(check), "a self-check prints, never raises"
        for index in solutions:  # collapsed in JupyterLab until a learner opens them
            assert block[index]["metadata"].get("jupyter") == SOLUTION_HIDDEN, name
        # CI runs the solutions: each must pass its own self-check.
        printed = "".join("".join(o["text"]) for o in solution["outputs"]
                          if o["output_type"] == "stream")
        assert printed.lstrip().startswith("Right") and "Not yet" not in printed, \
            f"{name}: the solution's self-check said: {printed!r}"
        unanswered = "".join("".join(o["text"]) for o in check["outputs"]
                             if o["output_type"] == "stream")
        assert unanswered.lstrip().startswith("Not yet"), f"{name}: {unanswered!r}"


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
def test_a_diagram_and_handlers_in_files(path):
    all_cells = cells(path)
    markdown = "\n".join(source(c) for c in all_cells if c["cell_type"] == "markdown")
    assert "```mermaid" in markdown, "a Mermaid diagram"
    code = [source(c) for c in all_cells if c["cell_type"] == "code"]
    assert any(text.startswith("%%writefile ") for text in code), "handlers are written to files"
    for text in code:  # a handler is a file of its own, not a string in a cell
        assert not re.search(r'^[A-Z_]+ = """\s*\n(import|from|def) ', text, re.M), text[:80]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_marks_read_without_an_emoji_font(path):
    document = path.read_text(encoding="utf-8")
    found = sorted(set(EMOJI.findall(document)))
    assert not found, f"characters that need an emoji font: {found}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_no_module_of_the_test_tools_is_imported(path):
    code = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "code")
    for module in ("aws_lambda_powertools", "pytest", "nbval", "playwright", "hypothesis"):
        assert not re.search(rf"^\s*(import|from) {module}\b", code, re.M), module


def test_readme_states_the_course_s_total_time():
    """README's totals are the sums of the notebooks' own times to learn."""
    text = README.read_text(encoding="utf-8")
    whole, core = course_minutes()
    assert f"The whole course takes about {duration(whole)}" in text, duration(whole)
    assert f"the core of every notebook alone takes\nabout {duration(core)}" in text or \
        f"the core of every notebook alone takes about {duration(core)}" in text, duration(core)


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
    for name in ("boto3", "moto", "ipywidgets", "plotly"):
        assert name in pins, f"pyproject.toml has no '>=low,<high' range for {name}"
        low, high = pins[name]
        assert f'"{name}": ("{low}", "{high}")' in setup, f"{name}: pyproject says >={low},<{high}"
