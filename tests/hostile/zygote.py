"""Children forked from a zygote that imported their heavy third-party modules once (a fork server).

A zygote (:mod:`tests.hostile.zygote_server`), one per set of preloads, is started with the children's
environment and imports only third-party modules: this repository's read ``WORKFLOW_*`` settings at import,
and each child has its own. A child forked from it takes the command's environment (wholesale, plus what
the preloads set), working directory, umask and streams; a fresh ``__main__``, ``sys.argv``,
``sys.orig_argv`` and ``sys.path[0]``; reseeded random generators; the zygote's resident library pages
(so VmRSS counts them as after its own import) and signal handlers (a fresh interpreter's). It runs the
``-m``/``-c`` command and leaves through the interpreter's own exit (traceback, ``SystemExit``, SIGINT on
an uncaught Ctrl-C, ``atexit``, finalization). Not reproduced: the hash seed, shared by a zygote's
children; the order of warning filters the preloads added (below any the child adds first); the garbage
collector's walks over the preloads (``gc.freeze``), which takes ~1 s off a torch child's exit.

The preloads must be modules the child imports anyway (the caller names them): its memory and
``sys.modules`` are then a fresh run's. :func:`server_for` offers a zygote only for ``python -m``/``-c``
with stdin from /dev/null and an environment that differs from the zygote's only in ``REQUEST_ENV`` or in
what its imports set, and only one without threads after its imports; otherwise, or with
``HOSTILE_ZYGOTE=0``, the caller starts the command with ``subprocess.Popen``.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import warnings

from tests.hostile import zygote_server
from tests.hostile.zygote_server import proc_status, recv, send

REQUEST_ENV = (
    "WORKFLOW_",
    "PYTEST_",
    "SLEEPY_",
)  # read after the fork: this repository's settings and the tests'
MAX_ZYGOTES = 6
START_SECONDS = 300


class Child:
    """Popen-like handle on a forked child: ``pid``, ``stdout``, ``stderr``, ``poll``, ``wait``,
    ``send_signal``."""

    def __init__(self, args, pid: int, sock: socket.socket, stdout_fd: int, stderr_fd: int):
        self.args, self.pid, self.returncode, self.stdin = args, pid, None, None
        self.stdout, self.stderr = os.fdopen(stdout_fd, "rb"), os.fdopen(stderr_fd, "rb")
        self._sock = sock

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._sock], [], [], 0)[0]:
            self._status()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._sock], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(self.args, timeout)
            self._status()
        return self.returncode

    def _status(self) -> None:
        reply = recv(self._sock)
        if reply is None:
            raise RuntimeError(f"the zygote's monitor of pid {self.pid} ended without its exit status")
        self.returncode = reply[1]
        self._sock.close()  # the monitor reaps the child now: its pid is not signalled after this

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # until the status is read here, the child (maybe a zombie) keeps its pid
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """A started zygote; ``problems`` says why it is unusable, ``import_seconds`` what its preloads took."""

    def __init__(self, preload: tuple[str, ...], env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.preload, self.env, self.lock = preload, env, threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, zygote_server.__file__, str(theirs.fileno()), *preload],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()],
        )
        theirs.close()
        ours.settimeout(START_SECONDS)
        try:
            self.problems, self.import_seconds, self.imported = pickle.loads(ours.recv(1 << 16))
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            self.problems, self.import_seconds, self.imported = [f"no answer: {exc!r}"], 0.0, {}
        ours.settimeout(None)
        self.ctl = ours
        if self.problems:
            warnings.warn(
                f"zygote {preload} unusable, its children start fresh: {'; '.join(self.problems)}",
                stacklevel=2,
            )
            self.close()

    def serves(self, env: dict[str, str]) -> bool:
        """Whether ``env`` is the zygote's but for ``REQUEST_ENV`` and what its imports set (same values)."""
        env = {k: v for k, v in env.items() if not k.startswith(REQUEST_ENV)}
        if any(k not in env for k in self.env):
            return False
        return all(self.env[k] == v if k in self.env else self.imported.get(k) == v for k, v in env.items())

    def spawn(self, argv: list[str], *, cwd=None, env: dict[str, str] | None = None) -> Child | None:
        """Fork ``argv``; None when the zygote is gone. A child that cannot start raises OSError, as Popen
        does."""
        request = {
            "argv": list(argv),
            "cwd": None if cwd is None else os.fspath(cwd),
            "env": dict(os.environ if env is None else env),
            "umask": int(proc_status("Umask"), 8),
        }
        sock, theirs = socket.socketpair()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            with self.lock:
                socket.send_fds(self.ctl, [b"R"], [theirs.fileno(), null, out_w, err_w])
            send(sock, request)
            reply = recv(sock)
        except OSError:
            reply = None
        finally:
            for fd in (theirs.detach(), null, out_w, err_w):
                os.close(fd)
        if reply is not None and reply[0] == "pid":
            return Child(argv, reply[1], sock, out_r, err_r)
        for fd in (sock.detach(), out_r, err_r):
            os.close(fd)
        if reply is None:
            self.close()
            return None
        raise reply[1]

    def close(self) -> None:
        self.problems = self.problems or ["closed"]
        self.ctl.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_zygotes: list[Zygote] = []  # least recently used first


def server_for(argv, *, env: dict | None, stdin, preload: tuple[str, ...]) -> Zygote | None:
    """The zygote (started if need be) that runs ``argv`` with ``env`` as a fresh interpreter would, or
    None."""
    env = dict(os.environ if env is None else env)
    if (
        os.environ.get("HOSTILE_ZYGOTE", "1") == "0"
        or stdin != subprocess.DEVNULL
        or len(argv) < 3
        or argv[0] != sys.executable
        or argv[1] not in ("-m", "-c")
        or not all(isinstance(x, str) for item in env.items() for x in item)
    ):
        return None
    zygote = next((z for z in _zygotes if z.preload == tuple(preload) and z.serves(env)), None)
    if zygote is None:
        if len(_zygotes) >= MAX_ZYGOTES:
            _zygotes.pop(0).close()
        zygote = Zygote(tuple(preload), {k: v for k, v in env.items() if not k.startswith(REQUEST_ENV)})
    else:
        _zygotes.remove(zygote)
    _zygotes.append(zygote)
    return None if zygote.problems else zygote


def shutdown() -> None:
    """End every zygote (each exits when its control socket closes)."""
    while _zygotes:
        _zygotes.pop().close()
