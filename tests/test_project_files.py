"""The project files agree: pyproject.toml with environment.yml, and the README with the
commands that CI and the Makefile actually run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest itself depends on tomli there.
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# Conda packages with no counterpart in pyproject.toml, and why each is there.
CONDA_ONLY = {
    "python": "the interpreter itself; pyproject says requires-python",
    "pip": "installs the project (the pip: section)",
    "flask": "comes with moto[server] on PyPI; conda's moto does not pull it in",
    "flask-cors": "comes with moto[server] on PyPI; conda's moto does not pull it in",
    "pydantic": "comes with aws-lambda-powertools[parser] on PyPI",
}
# Test packages that may be missing from environment.yml, and why.
PYPROJECT_ONLY = {
    "awslambdaric": "Linux-only; installed by pip with a sys_platform marker",
}


def normalize(name: str) -> str:
    """Lowercase, `_` to `-`, extras such as `[server]` stripped."""
    return re.sub(r"\[.*\]", "", name).strip().lower().replace("_", "-")


def read(relative: str) -> str:
    path = ROOT / relative
    assert path.is_file(), f"{relative} not found"
    return path.read_text(encoding="utf-8")


def pyproject_requirements() -> dict[str, SpecifierSet]:
    project = tomllib.loads(read("pyproject.toml"))["project"]
    lines = project.get("dependencies", []) + project.get("optional-dependencies", {}).get(
        "test", []
    )
    assert lines, "pyproject.toml lists no dependencies"
    requirements = [Requirement(line) for line in lines]
    return {normalize(req.name): req.specifier for req in requirements}


def conda_spec(spec: str) -> SpecifierSet:
    # Conda's `=1.2` means 1.2.*; everything else used here is already PEP 440.
    spec = re.sub(r"(?<![=<>!])=(?!=)([\w.]+)", r"==\1.*", spec.replace(" ", ""))
    return SpecifierSet(spec)


def environment() -> dict:
    env = yaml.safe_load(read("environment.yml"))
    assert isinstance(env, dict) and env.get("dependencies"), "environment.yml is empty"
    return env


def conda_requirements() -> dict[str, SpecifierSet]:
    packages = {}
    for entry in environment()["dependencies"]:
        if isinstance(entry, str):
            match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)\s*(.*)", entry.strip())
            assert match, f"cannot read environment.yml entry {entry!r}"
            packages[normalize(match[1])] = conda_spec(match[2])
    assert packages, "environment.yml lists no conda packages"
    return packages


def pip_section() -> list[str]:
    for entry in environment()["dependencies"]:
        if isinstance(entry, dict) and "pip" in entry:
            return [str(line).strip() for line in entry["pip"]]
    return []


def ranges_intersect(a: SpecifierSet, b: SpecifierSet) -> bool:
    """True if some version satisfies both: every bound named, and a step above it, is tried."""
    named = {spec.version.rstrip(".*") for spec in (*a, *b)}
    candidates = {Version("0")} | {Version(v) for v in named} | {Version(v + ".1") for v in named}
    return any(
        a.contains(v, prereleases=True) and b.contains(v, prereleases=True) for v in candidates
    )


def test_environment_and_pyproject_name_the_same_packages():
    pip_names = set(pyproject_requirements())
    conda_names = set(conda_requirements()) - set(CONDA_ONLY)

    assert conda_names - pip_names == set(), "in environment.yml only"
    assert pip_names - conda_names <= set(PYPROJECT_ONLY), "in pyproject.toml only"


def test_environment_and_pyproject_versions_are_compatible():
    pip_reqs, conda_reqs = pyproject_requirements(), conda_requirements()
    shared = sorted(set(pip_reqs) & set(conda_reqs))
    assert shared, "no package is named in both files"

    clashes = [
        f"{name}: pyproject '{pip_reqs[name]}' vs environment.yml '{conda_reqs[name]}'"
        for name in shared
        if not ranges_intersect(pip_reqs[name], conda_reqs[name])
    ]
    assert clashes == []


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (">=1.35,<2", ">=1.35,<2", True),
        (">=5.2,<5.3", ">=5.3", False),
        (">1,<2", "<3", True),
        ("==1.2.*", ">=1.2,<1.3", True),
        ("", "<1", True),
    ],
)
def test_ranges_intersect(a, b, expected):
    assert ranges_intersect(SpecifierSet(a), SpecifierSet(b)) is expected


def test_environment_installs_the_project():
    assert set(pip_section()) & {"-e .", "."}, "environment.yml's pip: section must install ."


def readme_commands() -> dict[str, str]:
    """`python3 tasks.py <task>` lines of the README's Quick start code block, by task."""
    quick_start = read("README.md").split("## Quick start", 1)
    assert len(quick_start) == 2, "README has no Quick start section"
    block = re.search(r"```\w*\n(.*?)```", quick_start[1], re.DOTALL)
    assert block, "README's Quick start has no code block"
    commands = {}
    for line in block[1].splitlines():
        command = line.split("#", 1)[0].strip()
        if command.startswith("python3 tasks.py"):
            commands[command.split()[2]] = command
    assert commands, "README's Quick start names no `python3 tasks.py` command"
    return commands


def makefile_recipes() -> dict[str, list[str]]:
    recipes: dict[str, list[str]] = {}
    target = None
    for line in read("Makefile").splitlines():
        if line.startswith("\t") and target:
            recipes[target].append(line.strip())
        elif match := re.match(r"([\w.-]+)\s*:(?!=)", line):
            target = match[1]
            recipes[target] = []
    return recipes


def test_ci_runs_the_readme_test_command():
    lines = [line.strip() for line in read(".ci/run").splitlines()]
    setup = re.compile(r"(#|set |cd )")
    commands = [line for line in lines if line and not setup.match(line)]
    assert commands == [readme_commands()["test"]]


@pytest.mark.parametrize("task", ["lab", "test"])
def test_makefile_runs_the_readme_commands(task):
    assert makefile_recipes().get(task) == [readme_commands()[task]]


def test_the_package_ships_every_subpackage():
    """A non-editable install (a wheel) must hold helpers/cloud, helpers/lambda_, ..."""
    import fnmatch

    config = tomllib.loads(read("pyproject.toml"))["tool"]["setuptools"]["packages"]["find"]
    packages = [".".join(path.parent.relative_to(ROOT).parts)
                for path in (ROOT / "helpers").rglob("__init__.py")]
    assert "helpers.cloud" in packages and len(packages) > 5, packages
    for package in packages:
        assert any(fnmatch.fnmatch(package, pattern) for pattern in config["include"]), package
