"""The process every execution environment starts from on Linux: a fork server.

The lab starts this once, with a clean environment, as ``python -s -u supervisor.py
WORKDIR``. It imports the runtime client (and the bootstrap) and nothing of the lab or
the kernel, then waits for requests on a Unix socket:

- ``fork``: a new environment is a copy of this clean template process (a cold start
  without starting an interpreter), with its own environment variables, working
  directory, output pipe, session and ``sys.path``, exactly as a spawned one has them;
- ``exec``: a new environment is a program started from here (a plain interpreter, or
  one inside a bubblewrap sandbox), when the template cannot be used;
- ``kill``: end an environment and everything it started.

Every environment is this process's child, and the runtime is a "child subreaper", so
a process the handler starts, even in a new session, stays a descendant; whatever is
orphaned ends up here and is killed. When the lab's end of the socket closes (the lab
stopped, or the kernel died, even by SIGKILL) every environment is killed and the lab's
temporary directory deleted.

Messages are JSON, one per datagram, with file descriptors attached; replies say
``{"id", "pid"}`` and later ``{"id", "exit"}`` (an exit status as ``Popen.returncode``
gives it: negative for a signal). Introduced in notebook 01.
"""

import json
import os
import select
import shutil
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_MESSAGE = 1 << 20


def _children():
    """This process's children, as the kernel lists them (Linux)."""
    pids = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as listing:
                pids.update(int(pid) for pid in listing.read().split())
        except OSError:
            pass
    return pids


def _kill(pid):
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def _status(code):
    if os.WIFSIGNALED(code):
        return -os.WTERMSIG(code)
    return os.WEXITSTATUS(code) if os.WIFEXITED(code) else 0


class Supervisor:
    def __init__(self, channel, workdir):
        self.channel = channel
        self.workdir = workdir
        self.environments = {}  # pid -> id
        self.wakeup_r, wakeup_w = os.pipe()
        os.set_blocking(wakeup_w, False)
        signal.set_wakeup_fd(wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the kernel's interrupts are not ours
        signal.signal(signal.SIGTERM, lambda *_: self.shutdown())

    def serve(self):
        while True:
            ready, _, _ = select.select([self.channel, self.wakeup_r], [], [], 1.0)
            if self.wakeup_r in ready:
                os.read(self.wakeup_r, 4096)
            self.reap()
            if self.channel in ready:
                try:
                    data, fds, _, _ = socket.recv_fds(self.channel, MAX_MESSAGE, 8)
                except OSError:
                    data, fds = b"", []
                if not data:
                    self.shutdown()
                self.handle(json.loads(data), fds)

    def reply(self, message):
        try:
            self.channel.send(json.dumps(message).encode())
        except OSError:
            self.shutdown()

    def handle(self, message, fds):
        op = message["op"]
        if op == "kill":
            for pid, ident in self.environments.items():
                if ident == message["id"]:
                    _kill(pid)
            return
        try:
            pid = self.start(message, fds)
        except OSError as error:
            self.reply({"id": message["id"], "error": str(error)})
        else:
            self.environments[pid] = message["id"]
            self.reply({"id": message["id"], "pid": pid})
        finally:
            for fd in fds:
                os.close(fd)

    def start(self, message, fds):
        keep = message.get("keep", [])  # the passed descriptors beyond stdout, by number
        pid = os.fork()
        if pid:
            return pid
        try:  # the new environment
            os.setsid()
            signal.set_wakeup_fd(-1)
            for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(number, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(fds[0], 1)
            os.dup2(fds[0], 2)
            for fd, number in zip(fds[1:], keep, strict=True):
                os.dup2(fd, number)
            _close_all_but(keep)
            os.chdir(message["cwd"])
            if message.get("argv"):
                os.execve(message["argv"][0], message["argv"], message["env"])
            os.environ.clear()
            os.environ.update(message["env"])
            time.tzset()
            extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
            sys.path[:] = extra + [p for p in sys.path if p not in ("", HERE)]
            import bootstrap

            bootstrap.bind_to_parent()
            bootstrap.run("builtin")
            os._exit(0)
        except SystemExit as done:
            code = done.code
            os._exit(code if isinstance(code, int) else (0 if code is None else 1))
        except BaseException as error:  # an environment never returns into this loop
            try:
                os.write(2, f"The environment could not start: {error!r}\n".encode())
            finally:
                os._exit(127)

    def reap(self):
        while True:
            try:
                pid, code = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            ident = self.environments.pop(pid, None)
            if ident is not None:
                self.reply({"id": ident, "exit": _status(code)})
        for pid in _children() - set(self.environments):
            _kill(pid)  # orphaned by an environment that ended: it ends too

    def shutdown(self):
        for pid in list(self.environments):
            _kill(pid)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            for pid in _children():
                _kill(pid)
            try:
                os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not _children():
                break
            time.sleep(0.01)
        if self.workdir:
            remove_tree(self.workdir)
        os._exit(0)


def remove_tree(path):
    """Delete a directory tree, read-only parts included (unpacked code is read-only)."""
    def retry(function, name, _):
        try:
            os.chmod(os.path.dirname(name), 0o700)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, 0o700)
            function(name)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)


def _close_all_but(keep):
    """Close every open descriptor from 3 up, except those in ``keep``."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:  # the listing's own descriptor
                pass


def main():
    sys.path[:] = [HERE] + [p for p in sys.path if p not in ("", HERE)]
    import importlib.util  # noqa: F401  (the template: imported once, before any fork)

    import bootstrap  # noqa: F401
    import runtime_client  # noqa: F401

    sys.path.remove(HERE)
    bootstrap._prctl(bootstrap.PR_SET_CHILD_SUBREAPER, 1)
    channel = socket.socket(fileno=int(os.environ.pop("_LAB_SUPERVISOR_FD")))
    workdir = sys.argv[1] if len(sys.argv) > 1 else ""
    Supervisor(channel, workdir).serve()


if __name__ == "__main__":
    main()
