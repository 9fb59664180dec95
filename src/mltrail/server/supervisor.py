"""``mltrail server --workers N``: a supervisor that preloads the server's modules and forks
its workers, so that they share those pages instead of each loading its own copy.

* Preload: the settings check (in a throw-away child, see ``runner``) reports which modules
  building the app imported; the supervisor imports the same ones, freezes them out of the
  cyclic garbage collector (whose bookkeeping writes would unshare the pages), and forks.
  It opens no database connection and starts no thread: each worker builds its own app,
  engine and connection pool after the fork.
* Workers serve the listening socket the supervisor bound. One that dies is replaced; one
  that cannot build its app (say, the database is unreachable at start) stops the server
  with status 1, for the service manager to retry.
* SIGTERM or SIGINT: every worker is asked to stop (it stops accepting, finishes its
  requests in flight within ``graceful_shutdown_seconds``, and exits); the supervisor exits
  once they all have. Workers die with the supervisor (``PR_SET_PDEATHSIG``), so a killed
  supervisor never leaves orphans holding the port.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterable
from typing import Any

from mltrail.config import Settings

logger = logging.getLogger("mltrail.server")

# A worker that could not build its app exits with this (uvicorn's own "startup failure").
STARTUP_FAILURE = 3
# Replacements of dead workers are spaced by at least this much.
RESPAWN_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


def preload(module_names: Iterable[str]) -> int:
    """Import what the app needs before forking; returns how many modules are loaded."""
    for name in module_names:
        if name in sys.modules or name == "__main__":
            continue
        # A module that cannot be imported on its own is simply loaded by each worker.
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    gc.collect()
    gc.freeze()
    return len(sys.modules)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to send SIGTERM to this worker when the supervisor dies (best effort)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os._exit(0)


def _worker(settings: Settings, sock: socket.socket, options: dict[str, Any], parent: int) -> None:
    """The body of a forked worker; never returns."""
    status = 0
    try:
        # Before anything else: the supervisor's own handlers would swallow a signal meant
        # for this worker.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        _die_with_parent(parent)
        gc.unfreeze()
        import uvicorn

        from mltrail.server.app import create_app

        try:
            app = create_app(settings, access_log=True)
        except Exception as exc:
            logger.error("Worker %d could not start: %s", os.getpid(), exc)
            os._exit(STARTUP_FAILURE)
        config = uvicorn.Config(app, **{**options, "workers": 1})
        # uvicorn re-raises the signal that stopped it after a graceful shutdown: exit with
        # status 0 then. The same handler ends a worker that is signalled before uvicorn has
        # put its own handlers in place (a no-op there left it running with no supervisor).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: os._exit(0))
        uvicorn.Server(config).run(sockets=[sock])
    except BaseException:
        logger.exception("Worker %d failed", os.getpid())
        status = 1
    finally:
        os._exit(status)


class Supervisor:
    def __init__(self, settings: Settings, *, sock: socket.socket, options: dict[str, Any]) -> None:
        self.settings = settings
        self.sock = sock
        self.options = options
        self.workers: set[int] = set()
        self.stopping = False
        self.failed = False

    def _spawn(self) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the worker's body never returns
            _worker(self.settings, self.sock, self.options, parent)
        self.workers.add(pid)

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> bool:
        """Serve until SIGTERM/SIGINT; False when a worker could not start."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for _ in range(self.settings.workers):
                self._spawn()
            self._watch()
        finally:
            self._terminate_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return not self.failed

    def _watch(self) -> None:
        last_spawn = 0.0
        while not self.stopping:
            for pid, status in self._reap():
                if os.waitstatus_to_exitcode(status) == STARTUP_FAILURE:
                    self.failed = self.stopping = True
                    break
                logger.warning(
                    "Worker %d ended unexpectedly (status %d); starting another",
                    pid,
                    os.waitstatus_to_exitcode(status),
                )
            while not self.stopping and len(self.workers) < self.settings.workers:
                wait = last_spawn + RESPAWN_SECONDS - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                    continue
                last_spawn = time.monotonic()
                self._spawn()
            time.sleep(0.2)

    def _reap(self) -> list[tuple[int, int]]:
        ended: list[tuple[int, int]] = []
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                break
            if pid == 0:
                break
            if pid in self.workers:
                self.workers.discard(pid)
                ended.append((pid, status))
        return ended

    def _terminate_all(self) -> None:
        # Stop listening here first: while any process holds the listening socket, the
        # kernel keeps completing connections that nobody will accept (a load balancer
        # would wait on them instead of trying another replica).
        self.sock.close()
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        # Each worker finishes its requests within the graceful timeout, then exits.
        deadline = time.monotonic() + self.settings.graceful_shutdown_seconds + 10
        while self.workers and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in self.workers:
            logger.warning("Worker %d did not stop in time; killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while self.workers:
            self._reap()
            time.sleep(0.05)
