"""Starting the server: socket, uvicorn (one process, or forked workers under
:mod:`mltrail.server.supervisor`), TLS, graceful shutdown.

On SIGTERM or SIGINT the server stops accepting connections, lets the requests in flight
finish within ``graceful_shutdown_seconds`` (``MLTRAIL_GRACEFUL_SHUTDOWN_SECONDS``, 30 by
default), and exits with status 0.

Multi-worker latency: uvicorn's own multi-process mode binds its listening socket with
``socket.socket(family)``, whose ``proto`` is 0. asyncio only sets TCP_NODELAY on accepted
sockets whose ``proto`` is ``IPPROTO_TCP``, so with several workers every response was
subject to Nagle's algorithm, and a small response written in two parts (headers, then
body) waited for the client's delayed ACK: about 40 ms per request on a kept-alive
connection. We bind the socket ourselves with ``IPPROTO_TCP`` (the accepted sockets
inherit it, in every worker), so asyncio turns Nagle off as it does for one process.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import traceback
from collections.abc import Callable
from typing import Any

from mltrail.config import Settings
from mltrail.errors import ConfigurationError, MltrailError
from mltrail.server.middleware import is_loopback

logger = logging.getLogger("mltrail.server")


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Also on the listener: Linux copies it to accepted sockets.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def _check(settings: Settings) -> None:
    if settings.workers < 1:
        raise ConfigurationError(f"--workers must be at least 1 (got {settings.workers})")
    if not 0 <= settings.port <= 65535:
        raise ConfigurationError(f"--port must be between 0 and 65535 (got {settings.port})")
    if bool(settings.ssl_certfile) != bool(settings.ssl_keyfile):
        raise ConfigurationError("--ssl-certfile and --ssl-keyfile go together")
    for path in (settings.ssl_certfile, settings.ssl_keyfile):
        if path and not os.path.isfile(path):
            raise ConfigurationError(f"TLS file {path!r} does not exist")


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
        "lifespan": "off",
        "server_header": False,
        # The app writes the same access lines, for less CPU (server.logs.AccessLog).
        "access_log": False,
    }
    if settings.ssl_certfile:
        options["ssl_certfile"] = settings.ssl_certfile
        options["ssl_keyfile"] = settings.ssl_keyfile
    if settings.forwarded_allow_ips:
        options["forwarded_allow_ips"] = list(settings.forwarded_allow_ips)
    return options


def serve(settings: Settings, *, on_listening: Callable[[str], None] | None = None) -> None:
    """Run the server until SIGTERM/SIGINT; returns after a graceful shutdown.

    ``on_listening`` is called with the server's URL once its socket is bound (the server
    answers as soon as it has started).
    """
    from mltrail.server.logs import configure_logging

    configure_logging()
    _check(settings)
    cleanups: list[Callable[[], None]] = []
    try:
        _serve(settings, cleanups, on_listening=on_listening)
    finally:
        for cleanup in cleanups:
            cleanup()


def _serve(
    settings: Settings,
    cleanups: list[Callable[[], None]],
    *,
    on_listening: Callable[[str], None] | None,
) -> None:
    import uvicorn

    app: Any = None
    if settings.workers == 1:
        from mltrail.server.app import create_app

        app = create_app(settings, access_log=True)
    else:
        settings = _prepare_workers(settings, cleanups)
    if settings.no_auth and not is_loopback(settings.host):
        logger.warning(
            "\n%s\n  WARNING: authentication is OFF (--no-auth) and the server listens on %s.\n"
            "  Anyone who can reach it can read, change and delete every experiment.\n%s",
            "!" * 78,
            settings.host,
            "!" * 78,
        )
    sock = bind_socket(settings.host, settings.port)
    scheme = "https" if settings.ssl_certfile else "http"
    port = sock.getsockname()[1]
    from mltrail.composition import describe_artifacts

    logger.info("Artifacts: %s", describe_artifacts(settings))
    logger.info(
        "mltrail server %s listening on %s://%s:%d%s (%d worker%s)",
        _version(),
        scheme,
        settings.host,
        port,
        settings.static_prefix,
        settings.workers,
        "" if settings.workers == 1 else "s",
    )
    if on_listening is not None:
        name = f"[{settings.host}]" if ":" in settings.host else settings.host
        on_listening(f"{scheme}://{name}:{port}{settings.static_prefix}/")
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; with
    # a handler of our own in place, that ends this function normally (exit status 0).
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if app is not None:
            config = uvicorn.Config(app, **_uvicorn_options(settings))
            uvicorn.Server(config).run(sockets=[sock])
        else:
            from mltrail.server.supervisor import Supervisor

            supervisor = Supervisor(settings, sock=sock, options=_uvicorn_options(settings))
            if not supervisor.run():
                raise ConfigurationError("A worker could not start (see the messages above)")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


def _prepare_workers(settings: Settings, cleanups: list[Callable[[], None]]) -> Settings:
    """Check the settings and migrate in a child, then preload what the workers will use;
    returns the workers' settings."""
    from mltrail.server.supervisor import preload

    modules = _check_in_a_child(settings)
    metrics_dir = tempfile.mkdtemp(prefix="mltrail-metrics-")
    cleanups.append(lambda: shutil.rmtree(metrics_dir, ignore_errors=True))
    # prometheus_client picks its multi-process mode from this variable when it is first
    # imported, here by the preload: every worker counts into the one folder /metrics reads.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    preload(modules)
    return settings.with_overrides(metrics_dir=metrics_dir)


def _check_in_a_child(settings: Settings) -> list[str]:
    """Build the app once in a forked child and throw it away; returns the names of the
    modules that building it imported (the supervisor preloads them before forking workers).

    Bad settings fail before anything listens, and the schema migration runs once, before
    the workers start. The supervisor opens no connection and starts no thread of its own.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and _exit
        os.close(read_end)
        status = 0
        try:
            import sys

            from mltrail.server.app import create_app

            create_app(settings, background_jobs=False).state.services.engine.dispose()
            _write_all(write_end, ("\n".join(["OK", *sorted(sys.modules)])).encode())
        except MltrailError as exc:
            _write_all(write_end, exc.message.encode())
            status = 1
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise ConfigurationError(message or "The server could not start (see the error above)")
    return message.split("\n")[1:]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _version() -> str:
    from mltrail.version import __version__

    return __version__
