"""The zygote process (run as a script by :mod:`tests.hostile.zygote`): preload, then fork a child per
request.

``python zygote_server.py FD MODULE...`` imports the modules, answers on the SEQPACKET socket ``FD`` with
``(problems, import_seconds, variables the imports set)``, then serves requests (a request socket and stdin,
stdout, stderr as passed descriptors) until that socket closes. Per request a monitor forks the child and
sends ``("pid", pid)`` (or ``("error", OSError)`` when the child could not set up, as Popen raises), then
``("exit", returncode)``; it reaps the child once the test closes the request socket (the test going away
first kills the child). The child returns to this script's top level, so its exit is the interpreter's own
(threads joined, ``atexit``, finalization, C ``exit``). This module imports nothing of the tests or of the
repository: its modules end up in every child.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import struct
import sys


def send(sock: socket.socket, obj) -> None:
    """Send one length-prefixed pickled message."""
    data = pickle.dumps(obj)
    sock.sendall(struct.pack("<Q", len(data)) + data)


def recv(sock: socket.socket):
    """The next message, or None at the end of the stream."""
    head = _read(sock, 8)
    body = None if head is None else _read(sock, struct.unpack("<Q", head)[0])
    return None if body is None else pickle.loads(body)


def _read(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def proc_status(field: str) -> str:
    """A field of /proc/self/status (``Threads``, ``Umask``)."""
    with open("/proc/self/status") as fp:
        return next(line.split()[1] for line in fp if line.startswith(field + ":"))


_IMPORTED_ENV: dict[str, str] = {}  # what the preloads set in os.environ (e.g. TORCHINDUCTOR_CACHE_DIR)
_RESIDENT: list[
    tuple[int, int]
] = []  # (address, length): file pages the zygote has mapped (libraries' code, data)


def serve(ctl_fd: int, preload: list[str]):
    """Import ``preload``, report, then fork a monitor per request until the control socket closes.

    Returns ``(request, stdio, ready_w)`` in a forked child (see :func:`become`); the zygote exits here."""
    import gc
    import importlib
    import time

    ctl = socket.socket(fileno=ctl_fd)
    sys.path_importer_cache.pop(sys.path[0], None)
    sys.path[0] = os.getcwd()  # preloads resolve as in `python -m` from here
    env, problems, start = dict(os.environ), [], time.monotonic()
    try:
        for name in preload:
            importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001 - reported to the test side
        problems.append(f"importing the preloads failed: {exc!r}")
    seconds = time.monotonic() - start
    if proc_status("Threads") != "1":  # forking a process with threads is not safe
        problems.append(f"{proc_status('Threads')} threads after the imports")
    _IMPORTED_ENV.update((k, v) for k, v in os.environ.items() if env.get(k) != v)
    if set(env) - set(os.environ):
        problems.append(f"the imports removed {sorted(set(env) - set(os.environ))} from os.environ")
    _RESIDENT.extend(_resident_file_pages())
    _flush_stdio()
    gc.freeze()  # the preloads live as long as a child: its collections (and exit) need not walk them again
    ctl.sendall(pickle.dumps((problems, seconds, _IMPORTED_ENV)))
    while not problems:
        _, fds, _, _ = socket.recv_fds(ctl, 16, 4)
        if len(fds) != 4:
            break  # the test session ended
        _reap()
        if os.fork() == 0:
            ctl.close()
            return _monitor(*fds)
        for fd in fds:
            os.close(fd)
    os._exit(0)  # nothing to flush; finalizing torch would only keep the session waiting


def _resident_file_pages() -> list[tuple[int, int]]:
    """Runs of present pages in readable file mappings (from /proc/self/pagemap: bit 63 of each entry)."""
    import re

    page, runs = os.sysconf("SC_PAGE_SIZE"), []
    with open("/proc/self/maps") as maps, open("/proc/self/pagemap", "rb") as pagemap:
        for line in maps:
            fields = line.split()
            if len(fields) < 6 or not fields[5].startswith("/") or "r" not in fields[1]:
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            pagemap.seek(start // page * 8)
            top_bytes = pagemap.read((end - start) // page * 8)[7::8]
            runs += [
                (start + m.start() * page, (m.end() - m.start()) * page)
                for m in re.finditer(rb"[\x80-\xff]+", top_bytes)
            ]
    return runs


def _map_resident_pages() -> None:
    """Map the zygote's resident file pages into this child (fork copies no page table of file mappings), so
    its VmRSS counts them as a process that had imported the preloads itself does."""
    import ctypes

    madvise = ctypes.CDLL(None, use_errno=True).madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for address, length in _RESIDENT:
        madvise(address, length, 22)  # MADV_POPULATE_READ (Linux 5.14); refused by older kernels


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _monitor(req_fd: int, *stdio: int):
    """Fork the requested child, report its pid then its exit status; reap it when the test hangs up.

    Returns ``(request, stdio, ready_w)`` in the child only."""
    try:
        req = socket.socket(fileno=req_fd)
        request = recv(req)
        ready_r, ready_w = os.pipe()
        pid = os.fork()
    except BaseException:  # noqa: BLE001 - the test sees the request socket close
        os._exit(1)
    if pid == 0:
        req.close()
        os.close(ready_r)
        return request, stdio, ready_w
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the session is the child's to handle
        for fd in (*stdio, ready_w):
            os.close(fd)
        with os.fdopen(ready_r, "rb") as fp:
            failed = fp.read()  # empty once the child has set itself up
        if failed:
            os.waitpid(pid, 0)
            send(req, ("error", pickle.loads(failed)))
            return None
        pidfd = os.pidfd_open(pid)
        send(req, ("pid", pid))
        if req in select.select([pidfd, req], [], [])[0] and not select.select([pidfd], [], [], 0)[0]:
            os.kill(pid, signal.SIGKILL)  # the test went away first
            os.waitpid(pid, 0)
            return None
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: the pid stays its own
        send(req, ("exit", info.si_status if info.si_code == os.CLD_EXITED else -info.si_status))
        req.recv(1)  # until the test closes its end
        os.waitpid(pid, 0)
    finally:
        os._exit(0)


def become(request: dict, stdio: tuple[int, ...], ready_w: int) -> BaseException | None:
    """Become the command (its streams, cwd, umask, environment, interpreter state) and run it.

    Returns what it raised, for the caller to raise at the top level: the interpreter then prints it, exits
    (SystemExit), or ends the process by SIGINT (KeyboardInterrupt), after its usual finalization."""
    argv = request["argv"]
    try:
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        for fd in stdio:
            os.close(fd)
        if request["cwd"] is not None:
            os.chdir(request["cwd"])
        os.umask(request["umask"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.update(_IMPORTED_ENV)  # as the child's own imports of the preloads would
        _map_resident_pages()
        _fresh_interpreter(argv)
    except BaseException as exc:  # noqa: BLE001 - raised in the test, as Popen does
        try:
            os.write(ready_w, pickle.dumps(exc))
        finally:
            os._exit(255)
    os.close(ready_w)
    import runpy

    try:
        if argv[1] == "-m":
            runpy._run_module_as_main(argv[2])  # what `python -m` calls
        else:
            exec(compile(argv[2], "<string>", "exec", dont_inherit=True), sys.modules["__main__"].__dict__)
    except BaseException as exc:  # noqa: BLE001 - raised again by the caller
        if not isinstance(exc, SystemExit):
            sys.excepthook = _from_fresh_frames(sys.excepthook)
        return exc
    return None


def _from_fresh_frames(hook):
    """``hook`` given the traceback from the first frame a fresh interpreter has (none of this file's)."""

    def excepthook(kind, value, tb):
        sys.excepthook = hook
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        hook(kind, value.with_traceback(tb), tb)

    return excepthook


def _fresh_interpreter(argv: list[str]) -> None:
    """``__main__``, ``sys.argv``, ``sys.orig_argv`` and ``sys.path[0]`` as ``python -m``/``-c`` sets them."""
    import builtins
    import importlib
    import types
    from importlib.machinery import BuiltinImporter

    sys.path_importer_cache.pop(sys.path[0], None)
    sys.path[0] = os.getcwd() if argv[1] == "-m" else ""
    importlib.invalidate_caches()
    main = types.ModuleType("__main__")
    main.__dict__.update(__loader__=BuiltinImporter, __annotations__={}, __builtins__=builtins)
    sys.modules["__main__"] = main
    sys.argv, sys.orig_argv = [argv[1], *argv[3:]], list(argv)
    if "numpy.random" in sys.modules:  # numpy and torch seed their global generators from the OS at import
        sys.modules["numpy.random"].seed()
    if "torch" in sys.modules:
        sys.modules["torch"].default_generator.seed()


def _flush_stdio() -> None:
    """Flush Python's and C's standard streams (nothing buffered may reach a child's output)."""
    import ctypes

    sys.stdout.flush()
    sys.stderr.flush()
    ctypes.CDLL(None).fflush(None)


if __name__ == "__main__":
    _forked = serve(int(sys.argv[1]), sys.argv[2:])
    if _forked is not None:  # this process is a child now: its exit is the interpreter's
        _raised = become(*_forked)
        del _forked
        if _raised is not None:
            raise _raised
