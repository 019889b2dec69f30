"""Notebook housekeeping: execute and clean notebooks, and write the README's contents.

    python tests/notebook_tools.py notebooks/00-welcome.ipynb   # execute, then clean
    python tests/notebook_tools.py --no-execute notebooks/*.ipynb  # clean only
    python tests/notebook_tools.py --readme                      # rewrite README's contents

After adding or renaming a notebook, refresh what is made from the list of notebooks (the
README's contents and the course map stored in 00-welcome):

    python tests/notebook_tools.py --readme notebooks/00-welcome.ipynb

tests/test_notebooks.py uses the same functions to check that the committed files are
already in this state.
"""

from __future__ import annotations

import argparse
import copy
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
START, END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
NOTEBOOK_METADATA = ("kernelspec", "language_info")
CELL_TIMEOUT_S = 60
SOLUTION_HIDDEN = {"source_hidden": True, "outputs_hidden": True}


def notebook_paths() -> list[Path]:
    """The course, in order: notebooks/NN-topic.ipynb."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def title(path: Path) -> str:
    """The notebook's title: its first cell's `# ` heading."""
    cells = nbformat.read(path, as_version=4).cells
    first_line = cells[0].source.splitlines()[0] if cells and cells[0].source else ""
    if not first_line.startswith("# "):
        raise ValueError(f"{path.name}: the first cell must start with a '# ' title")
    return first_line[2:].strip()


def time_to_learn(path: Path) -> str:
    """What the notebook's Prerequisites say it takes: "35 minutes (core 25, ...)"."""
    text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells
                     if cell.cell_type == "markdown")
    found = re.search(r"^\*\*Time to learn\*\*: (.+?)\s*$", text, re.M)
    if not found:
        raise ValueError(f"{path.name}: no '**Time to learn**:' line")
    return found[1]


def course_minutes() -> tuple[int, int]:
    """(the whole course, its cores) in minutes, from each notebook's time to learn."""
    whole = core = 0
    for path in notebook_paths():
        stated = time_to_learn(path)
        minutes = int(re.match(r"(\d+) minutes", stated)[1])
        cored = re.search(r"core (\d+)", stated)
        whole += minutes
        core += int(cored[1]) if cored else minutes
    return whole, core


def duration(minutes: int) -> str:
    """7 hours 10 minutes"""
    hours, rest = divmod(minutes, 60)
    return f"{hours} hours {rest} minutes" if rest else f"{hours} hours"


def readme_contents() -> str:
    """The README's list of notebooks (number, linked file name, title, time to learn),
    from the files."""
    return "\n".join(f"- **{path.name[:2]}** [{path.name}](notebooks/{path.name}): {title(path)}"
                     f"; {time_to_learn(path)}" for path in notebook_paths())


def readme_block(text: str) -> str:
    """What README.md holds between the two markers."""
    if START not in text or END not in text:
        raise ValueError(f"README.md needs the markers {START} and {END}")
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def write_readme() -> None:
    text = README.read_text(encoding="utf-8")
    readme_block(text)  # both markers are there
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n{readme_contents()}\n{END}{after}", encoding="utf-8")


def cleaned(notebook: dict) -> dict:
    """A copy with only kernelspec and language_info at the top, and on cells only
    non-empty tags, and for solution cells JupyterLab's collapsed state (no execution
    timings, `collapsed`, `scrolled`, widget state...)."""
    notebook = copy.deepcopy(notebook)
    metadata = notebook.get("metadata", {})
    notebook["metadata"] = {key: metadata[key] for key in NOTEBOOK_METADATA if key in metadata}
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags")
        cell["metadata"] = {"tags": list(tags)} if tags else {}
        if tags and "solution" in tags:  # solutions are collapsed until a learner opens them
            cell["metadata"]["jupyter"] = dict(SOLUTION_HIDDEN)
    return notebook


def clean_notebook(path: Path) -> None:
    """Strip stray metadata from the notebook at ``path``, in place."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.write(nbformat.from_dict(cleaned(notebook)), path)


def execute_notebook(path: Path) -> None:
    """Run every cell in a fresh kernel (in the notebook's folder) and store the outputs."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(notebook, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to execute and clean")
    parser.add_argument("--no-execute", action="store_true", help="clean only")
    parser.add_argument("--readme", action="store_true", help="rewrite README's contents")
    options = parser.parse_args(argv)
    if not options.notebooks and not options.readme:
        parser.error("give notebooks to execute and clean, or --readme")
    for path in options.notebooks:
        if not re.fullmatch(r"\d\d-[a-z0-9-]+\.ipynb", path.name):
            parser.error(f"{path} is not named like notebooks/NN-topic.ipynb")
        if not options.no_execute:
            print(f"Executing {path} ...", flush=True)
            execute_notebook(path)
        clean_notebook(path)
    if options.readme:
        write_readme()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
