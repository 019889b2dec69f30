"""The repository's quality gates: lint, links, secrets, and no network beyond loopback."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINKED_DOCUMENTS = ["README.md", *sorted(p.relative_to(ROOT).as_posix()
                                         for p in (ROOT / "notebooks").glob("*.ipynb"))]

# AWS's own documentation examples and the lab's fake value: the only keys allowed.
FAKE_KEYS = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "testing"}
ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b")
SECRET_KEY = re.compile(
    r"(?i)aws.{0,20}?(?:secret|private).{0,20}?['\"=:\s]\s*['\"]?([A-Za-z0-9/+]{40})\b")


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = [ROOT / line for line in listed.splitlines() if (ROOT / line).is_file()]
    assert files, "git lists no files"
    return files


def test_ruff_passes_on_code_tests_benchmarks_and_notebooks():
    targets = [name for name in ("helpers", "tests", "benchmarks", "notebooks")
               if (ROOT / name).exists()]
    assert "helpers" in targets and "tests" in targets
    result = subprocess.run([sys.executable, "-m", "ruff", "check", *targets],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _links(path: Path) -> list[str]:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    return re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'(?:src|href)="([^"]+)"', text)


def test_every_relative_link_resolves():
    checked = 0
    for name in LINKED_DOCUMENTS:
        path = ROOT / name
        for link in _links(path):
            if re.match(r"^[a-z]+:", link) or link.startswith("#"):
                continue
            target = (path.parent / link.split("#", 1)[0]).resolve()
            assert target.exists(), f"{name}: link to {link} does not resolve"
            checked += 1
    assert checked > 0, "no relative links found: README should link the notebooks"


def test_notebooks_use_no_remote_images():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for path in notebooks:
        for link in _links(path):
            assert not (re.match(r"^https?:", link) and re.search(
                r"\.(png|jpe?g|gif|svg|webp)(\?|$)", link, re.I)), f"{path.name}: {link}"
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            assert not re.search(r"<img[^>]+src=\"https?:", source), path.name


def test_no_real_looking_aws_keys_in_the_repository():
    scanned = 0
    for path in tracked_files():
        if path.suffix in {".png", ".jpg", ".zip"}:
            continue
        text = path.read_text(errors="ignore")
        scanned += 1
        for key in ACCESS_KEY.findall(text):
            assert key in FAKE_KEYS, f"{path.relative_to(ROOT)} holds an access key id: {key}"
        for secret in SECRET_KEY.findall(text):
            assert secret in FAKE_KEYS, f"{path.relative_to(ROOT)} holds a secret key"
    assert scanned > 10


def test_the_secret_scan_catches_a_real_looking_key():
    key = "AKIA" + "Z" * 16  # built here so that the scan of this file stays clean
    assert ACCESS_KEY.findall(f"key = '{key}'") == [key]
    secret = "abcdefghij" * 4
    assert SECRET_KEY.findall(f'aws_secret_access_key = "{secret}"') == [secret]


def test_sockets_can_only_reach_this_machine():
    from pytest_socket import SocketConnectBlockedError

    # The guard must be installed before anything is tried: without it, nothing is sent.
    assert socket.socket.connect.__name__ == "guarded_connect", "pytest-socket is not active"
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("192.0.2.1", 443), timeout=0.1)  # TEST-NET-1
    server = socket.create_server(("127.0.0.1", 0))
    try:
        socket.create_connection(server.getsockname(), timeout=1).close()
    finally:
        server.close()
