"""Entry point for the lab: set up .venv, then open JupyterLab, run the tests or benchmarks.

Usage:
    python3 tasks.py lab [jupyter args...]   # what the notebooks need; opens 00-welcome
    python3 tasks.py test [pytest args...]   # adds the test tools (pytest, Playwright, ...)
    python3 tasks.py bench

Needs only Python 3.10+ (standard library).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
NOTEBOOKS = ROOT / "notebooks"
FIRST_NOTEBOOK = "00-welcome.ipynb"
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
PYTEST_NO_TESTS_COLLECTED = 5
# What each command installs: the notebooks' needs, or those and the test tools.
TARGETS = {"lab": ".", "test": ".[test]"}
NEEDS = {"lab": "boto3, moto, JupyterLab, ipywidgets, plotly and requests",
         "test": "the notebooks' packages and the test tools (pytest, nbval, Playwright, "
                 "ruff, ...)"}


def pyproject_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def run(cmd: list[str | Path]) -> int:
    return subprocess.call([str(part) for part in cmd], cwd=ROOT)


def stamp(profile: str) -> Path:
    return VENV / f".installed-{profile}.sha256"


def installed(profile: str) -> bool:
    """Whether .venv has what ``profile`` needs for this pyproject.toml (the test tools
    include everything the lab needs)."""
    wanted = pyproject_hash()
    profiles = ("lab", "test") if profile == "lab" else ("test",)
    return any(stamp(p).exists() and stamp(p).read_text().strip() == wanted for p in profiles)


def ensure_venv(profile: str = "test") -> None:
    if not PYTHON.exists():
        print("Setting up .venv (a Python environment of the lab's own) ...", flush=True)
        if run([sys.executable, "-m", "venv", VENV]) != 0:
            sys.exit("Could not create .venv (on Debian/Ubuntu: apt install python3-venv).")
    if installed(profile):
        return
    print(f"Installing {NEEDS[profile]} into .venv. The first time takes a few minutes; "
          "pip says what it is doing:", flush=True)
    quiet = ["-q"] if profile == "test" else []
    pip = [PYTHON, "-m", "pip", *quiet, "--disable-pip-version-check"]
    if run([*pip, "install", "-e", TARGETS[profile]]) != 0:
        sys.exit("Installing the project into .venv failed (see pip's errors above).")
    # Written only after a successful install, so a failed one is retried next time.
    stamp(profile).write_text(pyproject_hash() + "\n")
    print("Installed.", flush=True)


def lab(args: list[str]) -> int:
    ensure_venv("lab")
    jupyter = BIN / ("jupyter.exe" if os.name == "nt" else "jupyter")
    print(f"Starting JupyterLab on notebooks/ with {FIRST_NOTEBOOK} open ...", flush=True)
    # Run from notebooks/: JupyterLab serves that folder and opens the first notebook.
    cmd = [str(jupyter), "lab", FIRST_NOTEBOOK, *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI run as root
    if os.name == "nt":
        return subprocess.call(cmd, cwd=NOTEBOOKS)
    os.chdir(NOTEBOOKS)
    os.execv(cmd[0], cmd)


# Debian packages CI needs: the browser test's Chromium, and bubblewrap, which sandboxes
# the functions (the sandbox tests fail in CI without it).
SYSTEM_PACKAGES = {"chromium": "chromium", "bwrap": "bubblewrap"}


def ensure_system_packages() -> None:
    """In CI (as root), install the Debian packages above that are missing."""
    missing = [package for program, package in SYSTEM_PACKAGES.items()
               if not shutil.which(program)]
    if not missing or not os.environ.get("CI"):
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(f"CI is set but this is not root: cannot install {', '.join(missing)}.",
              flush=True)
        return
    print(f"Installing {', '.join(missing)} (apt-get) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", *missing]):
        if subprocess.call(command, env=env) != 0:
            sys.exit(f"{' '.join(command)} failed: {', '.join(missing)} needed in CI.")


def test(args: list[str]) -> int:
    ensure_venv("test")
    ensure_system_packages()
    # Two workers (pytest-xdist), a test file each at a time: the notebooks' tests mostly
    # wait on their functions, so two run side by side on a 2-core machine
    workers = [] if any(arg.startswith(("-n", "--numprocesses")) for arg in args) else [
        "-n", str(min(2, os.cpu_count() or 1)), "--dist", "loadfile"]
    print("Running the tests ...", flush=True)
    code = run([PYTHON, "-m", "pytest", *workers, *args])
    if code == PYTEST_NO_TESTS_COLLECTED:
        print("No tests were collected: treating that as a failure.", file=sys.stderr)
        return 1
    return code


def bench(args: list[str]) -> int:
    if args:
        sys.exit(f"bench takes no arguments, got: {' '.join(args)}")
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    if not scripts:
        sys.exit("No benchmark scripts found in benchmarks/.")
    ensure_venv()
    rows, failed = [], []
    for script in scripts:
        print(f"== {script.relative_to(ROOT).as_posix()}", flush=True)
        result = subprocess.run([str(PYTHON), str(script)], cwd=ROOT, text=True,
                                stdout=subprocess.PIPE)
        for line in result.stdout.splitlines():
            if line.startswith("BENCH\t"):
                rows.append([script.stem, *line.split("\t")[1:5]])
            else:
                print(line)
        if result.returncode != 0:
            failed.append(script.name)
    # One table of every figure, as each script reported it (figure, value, target, status).
    headers = ["script", "figure", "value", "target", "status"]
    rows = [row + [""] * (5 - len(row)) for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    print()
    for row in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    if failed:
        print(f"Failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


COMMANDS = {"lab": lab, "test": test, "bench": bench}


def main(argv: list[str]) -> int:
    # Parsed by hand so that every argument after the command reaches the tool untouched.
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
