"""What starts the runtime inside an execution environment, in every way the lab starts one.

    python -s -u bootstrap.py builtin        # the lab's runtime client (runtime_client.py)
    python -s -u bootstrap.py awslambdaric   # AWS's runtime interface client

Lambda's Python runtime starts from a ``bootstrap`` too. This one, before the runtime
client takes over:

- on Linux, asks the kernel to end the process when its parent ends (even by SIGKILL,
  even while the handler is stuck in a long C call), and to keep the processes the
  handler starts as its descendants (a "child subreaper"), so that none escapes when
  the environment ends;
- in a sandbox (``helpers.lambda_.sandbox``), opens the environment's two endpoints,
  ``127.0.0.1:9001`` (the Runtime API) and the AWS endpoint, inside the sandbox's own
  network, and hands them to the lab, which serves them; nothing else is reachable;
- puts the task root first on ``sys.path`` and leaves the lab's own files out of it.

It is run as a script (or, by the fork server, imported before any function exists) and
uses only the standard library. Introduced in notebook 01.
"""

import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HANDOFF_VARIABLE = "_LAB_ENDPOINTS_FD"  # the socket the sandbox's endpoints are sent over
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SIGKILL = 9


def _prctl(option, value):
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass


def bind_to_parent():
    """End with the parent process, and keep the handler's processes as descendants."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    _prctl(PR_SET_PDEATHSIG, SIGKILL)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != parent:  # the parent ended before the request was in place
        os._exit(1)


def _address(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def hand_over_endpoints():
    """In a sandbox: listen on the Runtime API's and the AWS endpoint's addresses, here,
    and send both listening sockets to the lab (which answers on them)."""
    fd = os.environ.pop(HANDOFF_VARIABLE, None)
    if fd is None:
        return
    channel = socket.socket(fileno=int(fd))
    endpoint = os.environ["AWS_ENDPOINT_URL"].split("//", 1)[1].split("/", 1)[0]
    listeners = [socket.create_server(_address(os.environ["AWS_LAMBDA_RUNTIME_API"])),
                 socket.create_server(_address(endpoint), backlog=64)]
    socket.send_fds(channel, [b"endpoints"], [s.fileno() for s in listeners])
    for listener in listeners:
        listener.close()
    channel.close()


def prepare_path(task_root):
    """``sys.path`` as a Lambda runtime has it: the task root first, then what the
    interpreter found (``PYTHONPATH``, the standard library, site-packages)."""
    sys.path[:] = [task_root] + [entry for entry in sys.path
                                 if entry not in ("", HERE) and entry != task_root]


def run(client):
    """Become the runtime: ``client`` is "builtin" or "awslambdaric"."""
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    prepare_path(task_root)
    sys.argv = [sys.argv[0] if sys.argv else "bootstrap"]
    if client == "awslambdaric":
        import runpy

        sys.argv.append(os.environ["_HANDLER"])
        runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "runtime_client", os.path.join(HERE, "runtime_client.py"))
    module = sys.modules.get("runtime_client")
    if module is None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    module.main()


def main():
    bind_to_parent()
    hand_over_endpoints()
    run(sys.argv[1] if len(sys.argv) > 1 else "builtin")


if __name__ == "__main__":
    main()
