"""How the lab starts, watches and ends the process of an execution environment.

Three ways, one interface (``Launcher.start`` returns a ``RuntimeProcess``):

- ``"sandbox"`` (Linux, bubblewrap available): a new interpreter inside a sandbox
  (``helpers.lambda_.sandbox``). The default wherever it can start;
- ``"fork"`` (Linux): a copy of the fork server's clean template process
  (``helpers.lambda_.supervisor``): the quickest cold start, no sandbox;
- ``"spawn"``: a new interpreter, no sandbox. The only way on macOS and Windows, and
  the way on Linux for what the template cannot run (``awslambdaric``, or ``PYTHON*``
  variables that change how an interpreter starts).

On Linux every environment is a child of the supervisor, which ends them all when the
lab or its kernel ends. Memory is read from ``/proc`` for the whole process tree, so a
handler's child processes count toward ``MemorySize``. Introduced in notebook 01.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from ..errors import LabError
from . import sandbox

HERE = Path(__file__).resolve().parent
BOOTSTRAP = HERE / "bootstrap.py"
SUPERVISOR = HERE / "supervisor.py"
# Variables that change how an interpreter starts, which a forked template cannot honour.
STARTUP_VARIABLES = ("PYTHONHOME", "PYTHONHASHSEED", "PYTHONOPTIMIZE", "PYTHONWARNINGS",
                     "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "PYTHONUTF8",
                     "PYTHONDEVMODE", "PYTHONMALLOC", "PYTHONFAULTHANDLER", "PYTHONSTARTUP",
                     "PYTHONPYCACHEPREFIX", "PYTHONSAFEPATH", "PYTHONINSPECT",
                     "PYTHONVERBOSE", "PYTHONNOUSERSITE", "PYTHONUNBUFFERED")
MODES = ("auto", "sandbox", "fork", "spawn")

__all__ = ["MODES", "Launcher", "MemoryWatch", "RuntimeProcess"]


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found.extend(int(child) for child in listing.read().split())
        except OSError:
            pass
    return found


class RuntimeProcess:
    """One environment's process: ``pid``, ``kill()``, and ``on_exit(code)`` once."""

    def __init__(self, pid: int, kill, mode: str):
        self.pid = pid
        self.mode = mode
        self._kill = kill
        self.returncode = None
        self._exited = threading.Event()
        self._callbacks = []
        self._lock = threading.Lock()

    def kill(self) -> None:
        if not self._exited.is_set():
            self._kill()

    def on_exit(self, callback) -> None:
        with self._lock:
            if self.returncode is None:
                self._callbacks.append(callback)
                return
        callback(self.returncode)

    def exited(self, code: int) -> None:
        if self.mode == "sandbox" and 128 < code <= 128 + 64:
            # bubblewrap ends with 128 + N when the runtime inside dies of signal N
            code = -(code - 128)
        with self._lock:
            if self.returncode is not None:
                return
            self.returncode = code
            callbacks, self._callbacks = self._callbacks, []
        self._exited.set()
        for callback in callbacks:
            callback(code)

    def wait(self, timeout: float | None = None) -> int | None:
        self._exited.wait(timeout)
        return self.returncode


class _Supervisor:
    """The lab's side of ``supervisor.py``: one Unix socket, one reader thread."""

    def __init__(self, workdir: Path, python_env: dict):
        self._lab_end, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(python_env, _LAB_SUPERVISOR_FD=str(theirs.fileno()))
        self.process = subprocess.Popen(
            [sys.executable, "-s", "-u", str(SUPERVISOR), str(workdir)], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()], start_new_session=True, cwd=str(workdir))
        theirs.close()
        self._lock = threading.Lock()
        self._waiting: dict[str, list] = {}  # id -> [Event, reply]
        self._processes: dict[str, RuntimeProcess] = {}
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True, name="lab-supervisor")
        self._reader.start()

    def start(self, ident: str, argv, env: dict, cwd: str, fds: list[int],
              keep: list[int], mode: str) -> RuntimeProcess:
        slot = {"done": threading.Event(), "mode": mode, "process": None, "error": None}
        message = {"op": "start", "id": ident, "argv": argv, "env": env, "cwd": cwd,
                   "keep": keep}
        with self._lock:
            if self._closed:
                raise LabError("The lab has stopped.")
            self._waiting[ident] = slot
            socket.send_fds(self._lab_end, [json.dumps(message).encode()], fds)
        answered = slot["done"].wait(30)
        with self._lock:
            self._waiting.pop(ident, None)
        if not answered or slot["process"] is None:
            detail = slot["error"] or "the supervisor did not answer"
            raise LabError(f"The execution environment could not start: {detail}")
        return slot["process"]

    def kill(self, ident: str) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self._lab_end.send(json.dumps({"op": "kill", "id": ident}).encode())
            except OSError:
                pass

    def _read(self):
        # The supervisor answers a start with the pid before it can report that exit.
        while True:
            try:
                data = self._lab_end.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            reply = json.loads(data)
            ident = reply["id"]
            with self._lock:
                slot = self._waiting.get(ident)
                if "pid" in reply and slot is not None:
                    process = RuntimeProcess(reply["pid"], lambda i=ident: self.kill(i),
                                             slot["mode"])
                    self._processes[ident] = slot["process"] = process
                process = self._processes.pop(ident, None) if "exit" in reply else None
            if slot is not None and "exit" not in reply:
                slot["error"] = reply.get("error")
                slot["done"].set()
            if process is not None:
                process.exited(reply["exit"])
        with self._lock:
            self._closed = True
            processes, self._processes = list(self._processes.values()), {}
            waiting = list(self._waiting.values())
        for slot in waiting:
            slot["done"].set()
        for process in processes:
            process.exited(-signal.SIGKILL)

    def close(self, timeout: float = 5.0) -> None:
        """End every environment (the supervisor does, seeing its socket close)."""
        with self._lock:
            self._closed = True
        try:
            self._lab_end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._lab_end.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=2)


class Launcher:
    """Starts environments in the mode ``mode`` asks for ("auto": the safest available)."""

    def __init__(self, workdir: Path, mode: str = "auto"):
        if mode not in MODES:
            raise LabError(f"environments must be one of {', '.join(MODES)}; got {mode!r}")
        self.workdir = Path(workdir)
        self.probe = sandbox.probe() if mode in ("auto", "sandbox") else None
        if mode == "sandbox" and not self.probe.available:
            raise LabError(f"Sandboxed environments cannot start here: {self.probe.reason}.")
        linux = sys.platform.startswith("linux")
        if mode == "auto":
            mode = "sandbox" if self.probe.available else ("fork" if linux else "spawn")
        if mode == "fork" and not linux:
            raise LabError("The fork server needs Linux; use environments='spawn'.")
        self.mode = mode
        self.bwrap = sandbox.bwrap_path() if mode == "sandbox" else None
        self._supervisor = _Supervisor(self.workdir, self.python_env()) if linux else None

    @property
    def sandboxed(self) -> bool:
        return self.mode == "sandbox"

    @staticmethod
    def python_env() -> dict:
        """What an interpreter needs to start, and nothing of the kernel's environment."""
        env = {"PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin",
                                        "/usr/bin", "/bin"]),
               "LANG": "en_US.UTF-8", "TZ": ":UTC"}
        if os.name == "nt":  # Python on Windows cannot start without these
            for name in ("SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "TEMP", "TMP"):
                if name in os.environ:
                    env[name] = os.environ[name]
        return env

    def mode_for(self, env: dict, runtime_client: str) -> str:
        if self.mode != "fork":
            return self.mode
        if runtime_client != "builtin" or any(name in env for name in STARTUP_VARIABLES):
            return "spawn"
        return "fork"

    def start(self, ident: str, env: dict, task_root: Path, stdout_fd: int,
              runtime_client: str, tmp_mb: int | None = None,
              handoff_fd: int | None = None) -> RuntimeProcess:
        """Start an environment's runtime, its output going to ``stdout_fd``."""
        mode = self.mode_for(env, runtime_client)
        if mode == "sandbox":
            program = [sys.executable, "-s", "-u", f"{sandbox.RUNTIME_DIR}/bootstrap.py",
                       runtime_client]
            tmp = tmp_mb if self.probe.sized_tmp else None
            argv = sandbox.command(self.bwrap, task_root, HERE, tmp, program)
            env = dict(env, **{"_LAB_ENDPOINTS_FD": "3"})
            return self._supervisor.start(ident, argv, env, "/", [stdout_fd, handoff_fd],
                                          [3], mode)
        if self._supervisor is not None:
            argv = None if mode == "fork" else [sys.executable, "-s", "-u", str(BOOTSTRAP),
                                                runtime_client]
            return self._supervisor.start(ident, argv, env, str(task_root), [stdout_fd], [],
                                          mode)
        return self._spawn(env, task_root, stdout_fd, runtime_client)

    @staticmethod
    def _spawn(env, task_root, stdout_fd, runtime_client) -> RuntimeProcess:
        popen = subprocess.Popen(
            [sys.executable, "-s", "-u", str(BOOTSTRAP), runtime_client], cwd=task_root,
            env=env, stdin=subprocess.DEVNULL, stdout=stdout_fd, stderr=stdout_fd,
            start_new_session=(os.name == "posix"))

        def kill():
            try:
                if os.name == "posix":
                    os.killpg(popen.pid, signal.SIGKILL)
                else:
                    popen.kill()
            except OSError:
                pass

        process = RuntimeProcess(popen.pid, kill, "spawn")
        threading.Thread(target=lambda: process.exited(popen.wait()), daemon=True,
                         name="lab-env-exit").start()
        return process

    def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.close()


class MemoryWatch:
    """Resident memory of an environment's process tree, read cheaply and often.

    Each process's ``/proc/PID/status`` stays open (reading it again gives fresh
    figures); the tree itself is walked again every ``WALK_EVERY`` samples, so that
    processes the handler starts are counted soon after they appear."""

    WALK_EVERY = 5

    def __init__(self, root_pid: int):
        self.root_pid = root_pid
        self.peak_kb = 0
        self._fds: dict[int, int] = {}
        self._samples = 0
        self._lock = threading.Lock()
        self._closed = False

    def _walk(self) -> None:
        pids, todo = set(), [self.root_pid]
        while todo and len(pids) < 512:
            pid = todo.pop()
            if pid not in pids:
                pids.add(pid)
                todo.extend(_children(pid))
        for pid in set(self._fds) - pids:
            os.close(self._fds.pop(pid))
        for pid in pids - set(self._fds):
            try:
                self._fds[pid] = os.open(f"/proc/{pid}/status", os.O_RDONLY)
            except OSError:
                pass

    def sample(self) -> int:
        """Resident kB now (0 without /proc); remembers the peak."""
        with self._lock:
            if self._closed:
                return 0
            if self._samples % self.WALK_EVERY == 0:
                self._walk()
            self._samples += 1
            total = 0
            for pid, fd in list(self._fds.items()):
                try:
                    text = os.pread(fd, 4096, 0)
                except OSError:
                    os.close(self._fds.pop(pid))
                    continue
                if text.startswith(b"Name:\tbwrap"):
                    continue
                total += _field_kb(text, b"VmRSS:")
                self.peak_kb = max(self.peak_kb, _field_kb(text, b"VmHWM:"))
            self.peak_kb = max(self.peak_kb, total)
            return total

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


def _field_kb(status: bytes, field: bytes) -> int:
    start = status.find(field)
    if start < 0:
        return 0
    try:
        return int(status[start + len(field):status.index(b"kB", start)])
    except ValueError:
        return 0
