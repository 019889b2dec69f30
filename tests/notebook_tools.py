"""Notebook housekeeping: execute and clean notebooks, and write README's contents.

    python tests/notebook_tools.py notebooks/02-*.ipynb   # execute, then clean metadata
    python tests/notebook_tools.py --readme               # regenerate README's contents

Tests use the same functions to check that the committed files are already so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
START, END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
NOTEBOOK_METADATA = {"kernelspec", "language_info"}


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def title(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = "".join(cells[0]["source"]).splitlines()[0]
    return first.lstrip("#").strip()


def readme_contents() -> str:
    """The README's table of contents, made from the notebook files."""
    lines = [f"- **{path.stem[:2]}** [{title(path)}](notebooks/{path.name})"
             for path in notebook_paths()]
    return "\n".join([START, *lines, END])


def write_readme() -> None:
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(before + readme_contents() + after, encoding="utf-8")


def clean(notebook: dict) -> dict:
    """Only kernelspec and language_info at the top; only non-empty tags on cells."""
    notebook["metadata"] = {key: value for key, value in notebook["metadata"].items()
                            if key in NOTEBOOK_METADATA}
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags")
        cell["metadata"] = {"tags": tags} if tags else {}
    return notebook


def execute_and_clean(path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    document = clean(json.loads(nbformat.writes(notebook)))
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments == ["--readme"]:
        write_readme()
    elif arguments:
        for argument in arguments:
            execute_and_clean(Path(argument))
        write_readme()
    else:
        sys.exit(__doc__)
