"""Each notebook run as a learner runs it, in one kernel: top to bottom trying wrong answers
to every exercise first (each self-check must refuse them, and the solution must pass),
then Run All once more, then the playground used again after Run All: its driving cell
re-run on the widget already shown, then the playground cell and its driving cell re-run.

The wrong answers are in tests/exercise_answers.py.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from exercise_answers import RESET, WRONG
from nbclient import NotebookClient
from notebook_tools import CELL_TIMEOUT_S, notebook_paths

PATHS = notebook_paths()
PLAYGROUNDS = re.compile(r"helpers\.[a-z0-9_]+_(playground|view|demo)\(")  # widgets shown


def test_every_notebook_has_wrong_answers_for_every_exercise():
    assert PATHS
    for path in PATHS:
        notebook = nbformat.read(path, as_version=4)
        numbers = {int(n) for cell in notebook.cells if cell.cell_type == "markdown"
                   for n in re.findall(r"\*\*Exercise (\d+)", cell.source)}
        assert numbers, f"{path.name} has no exercises"
        wrong = WRONG.get(path.stem, {})
        assert set(wrong) == numbers, f"{path.name}: exercises {sorted(numbers)}, wrong answers " \
                                      f"for {sorted(wrong)}"
        for number, answers in wrong.items():
            assert len(answers) >= 2, f"{path.name} exercise {number}: two wrong answers or more"


def printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs
                   if output.output_type == "stream")


class Kernel:
    """One kernel running one notebook's cells, and code of our own in between."""

    def __init__(self, client: NotebookClient):
        self.client = client

    def run(self, cell, index: int | None = None):
        """Run a cell of the notebook (its index), or a new one (appended to the notebook)."""
        if index is None:
            self.client.nb.cells.append(cell)
            index = len(self.client.nb.cells) - 1
        self.client.execute_cell(cell, index)  # CellExecutionError on any error
        return cell

    def code(self, source: str):
        return self.run(nbformat.v4.new_code_cell(source))


def exercise_of(notebook) -> dict[int, int]:
    """cell index of each self-check -> its exercise number"""
    checks, number = {}, None
    for index, cell in enumerate(notebook.cells):
        found = re.search(r"\*\*Exercise (\d+)", cell.source)
        if cell.cell_type == "markdown" and found:
            number = int(found[1])
        elif cell.source.startswith("# Self-check") and number is not None:
            checks[index] = number
    return checks


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", PATHS, ids=[path.stem for path in PATHS])
def test_wrong_answers_are_refused_and_run_all_twice_then_the_playground_again(path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    checks = exercise_of(notebook)
    assert checks, "no self-checks found"
    wrong, reset = WRONG[path.stem], RESET.get(path.stem, {})
    with client.setup_kernel():
        kernel = Kernel(client)
        # 1. top to bottom, trying the wrong answers at each exercise first
        cells = list(notebook.cells)
        for index, cell in enumerate(cells):
            if cell.cell_type != "code":
                continue
            kernel.run(cell, index)
            if index in checks:
                number = checks[index]
                assert "Not yet" in printed(cell), f"exercise {number} passed unanswered"
                for what, code in wrong[number]:
                    if number in reset:
                        kernel.code(reset[number])
                    kernel.code(code)
                    said = printed(kernel.run(nbformat.v4.new_code_cell(cell.source)))
                    assert "Not yet" in said and "Right" not in said, \
                        f"exercise {number} accepted a wrong answer ({what}): {said!r}"
                if number in reset:
                    kernel.code(reset[number])
            if "solution" in cell.metadata.get("tags", []) and "check_exercise" in cell.source:
                said = printed(cell)
                assert said.lstrip().startswith("Right") and "Not yet" not in said, said
        # 2. Run All again
        for index, cell in enumerate(cells):
            if cell.cell_type == "code":
                kernel.run(cell, index)
        # 3. after Run All: the playground shown still works, and so does a new one
        shown = [i for i, cell in enumerate(cells) if PLAYGROUNDS.search(cell.source)]
        for index in shown:
            driving = next(cell for cell in cells[index + 1:] if cell.cell_type == "code")
            assert ".click()" in driving.source and ".wait()" in driving.source
            kernel.run(nbformat.v4.new_code_cell(driving.source))
            kernel.run(nbformat.v4.new_code_cell(cells[index].source))
            again = kernel.run(nbformat.v4.new_code_cell(driving.source))
            assert not any(o.output_type == "error" for o in again.outputs)
        if path.stem != "00-welcome":
            assert shown, f"{path.name} has no playground"
