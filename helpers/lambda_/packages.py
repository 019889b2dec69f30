"""Deployment packages: checked when they are uploaded, unpacked once, deleted when unused.

``check_package`` is what Lambda checks at ``CreateFunction`` and ``UpdateFunctionCode``:
the file must be a zip, not empty, and its files together at most 250 MB unzipped
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). The sizes come
from the zip's own directory, so nothing is unpacked to check them.

``CodeStore`` unpacks a package the first time an execution environment needs it, into
the lab's temporary directory, and shares that copy among the environments of the same
code (they see it read-only, as ``/var/task`` is in Lambda). When the last of them ends
the copy is deleted, so retired environments leave no code on disk. Extraction stops
past the declared sizes, whatever a zip claims. Introduced in notebook 01.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import threading
import uuid
import zipfile
from pathlib import Path

from ..errors import LambdaApiError

MAX_UNZIPPED_BYTES = 262_144_000  # 250 MB, code and layers together
# A 50 MB zip, base64-encoded in the JSON request, is just under this.
MAX_REQUEST_BYTES = 69_905_067
NOT_A_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
EMPTY_ZIP = "Uploaded file must be a non-empty zip"

__all__ = ["MAX_REQUEST_BYTES", "MAX_UNZIPPED_BYTES", "CodeStore", "PackageError",
           "check_package", "remove_tree"]


class PackageError(LambdaApiError):
    """A package Lambda refuses (400 ``InvalidParameterValueException``)."""

    def __init__(self, message: str):
        super().__init__(400, "InvalidParameterValueException", message)


def _entries(data: bytes) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise PackageError(NOT_A_ZIP) from None


def check_package(data: bytes) -> None:
    """Raise ``PackageError`` unless Lambda would accept ``data`` as a function's zip."""
    if not data:
        raise PackageError(EMPTY_ZIP)
    entries = _entries(data)
    if not any(not entry.is_dir() for entry in entries):
        raise PackageError(EMPTY_ZIP)
    unzipped = sum(entry.file_size for entry in entries)
    if unzipped > MAX_UNZIPPED_BYTES:
        raise PackageError(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")


def _extract(data: bytes, root: Path) -> None:
    """Unpack ``data`` under ``root``: names that would leave it are kept inside (as
    ``zipfile`` does), links are plain files, and no entry is read past its declared
    size (``zipfile`` stops there); the total is checked before anything is written."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise PackageError(NOT_A_ZIP) from None
    with archive:
        if sum(entry.file_size for entry in archive.infolist()) > MAX_UNZIPPED_BYTES:
            raise PackageError(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} "
                               "bytes")
        archive.extractall(root)
    for path in sorted(root.rglob("*"), reverse=True):  # read-only, as /var/task is
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            path.chmod(0o555)
        elif stat.S_ISREG(mode):
            path.chmod(0o444 | (mode & 0o111))
    root.chmod(0o555)


def remove_tree(path) -> None:
    """Delete a directory tree, its read-only parts included."""
    def retry(function, name, _):
        try:
            os.chmod(os.path.dirname(name), 0o700)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, 0o700)
            function(name)
        except OSError:
            pass

    if os.path.exists(path):
        shutil.rmtree(path, onerror=retry)


class CodeStore:
    """Unpacked packages under ``workdir``, shared by the environments that use them."""

    def __init__(self, workdir: Path):
        self.root = Path(workdir) / "code"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._copies: dict[str, list] = {}  # sha256 -> [path, users, ready Event, error]

    def acquire(self, code_sha256: str, code_zip: bytes) -> Path:
        """The directory holding the package (unpacked now if nobody uses it yet)."""
        with self._lock:
            entry = self._copies.get(code_sha256)
            if entry is None:
                path = self.root / uuid.uuid4().hex / "task"
                entry = self._copies[code_sha256] = [path, 0, threading.Event(), None]
                owner = True
            else:
                owner = False
            entry[1] += 1
        if owner:
            try:
                path.mkdir(parents=True)
                _extract(code_zip, path)
            except BaseException as error:
                entry[3] = error
            entry[2].set()
        entry[2].wait()
        if entry[3] is not None:
            self.release(code_sha256)
            raise entry[3]
        return entry[0]

    def release(self, code_sha256: str) -> None:
        """One environment is done with the package; the last one deletes the copy."""
        with self._lock:
            entry = self._copies.get(code_sha256)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del self._copies[code_sha256]
        remove_tree(entry[0].parent)

    def in_use(self) -> int:
        with self._lock:
            return len(self._copies)
