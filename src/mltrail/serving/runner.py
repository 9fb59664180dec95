"""``mltrail models serve``: load the model once, then answer on one or several processes.

Workers are forked from the process that loaded the model, after the load: they share its
memory pages (copy-on-write) and a listening socket, and each runs its own uvicorn loop, thread
pool, alias watcher and statistics collector (threads do not survive a fork). The supervisor
forwards SIGTERM/SIGINT, restarts a worker that dies, and with ``--log-to-run`` adds up the
workers' per-minute statistics and logs them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mltrail.errors import ConfigurationError
from mltrail.serving.app import ModelHolder, ScoringApp, ServeOptions
from mltrail.serving.loading import (
    ServedModel,
    follows_registry,
    is_registry_uri,
    load_served_model,
    version_warnings,
)

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient
    from mltrail.serving.monitor import MinuteSummary, RunLogger

logger = logging.getLogger("mltrail.serving")

GRACEFUL_SHUTDOWN_SECONDS = 10
ClientFactory = Callable[[], "TrackingClient"]


@dataclass(frozen=True)
class ServeConfig:
    model_uri: str
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    options: ServeOptions = field(default_factory=ServeOptions)
    allow_pickle: bool = False
    trusted_types: tuple[str, ...] = ()
    watch: bool = False
    watch_interval: float = 30.0
    log_to_run: bool = False
    monitor_experiment: str | None = None


def check_config(config: ServeConfig) -> None:
    if config.workers < 1:
        raise ConfigurationError(f"--workers must be at least 1 (got {config.workers})")
    if not 0 <= config.port <= 65535:
        raise ConfigurationError(f"--port must be between 0 and 65535 (got {config.port})")
    if config.options.timeout < 0:
        raise ConfigurationError("--timeout must not be negative")
    if config.options.max_batch_rows < 0 or config.options.max_body_bytes < 0:
        raise ConfigurationError("--max-batch-rows and --max-body-size must not be negative")
    if config.watch and not follows_registry(config.model_uri):
        raise ConfigurationError(
            f"--watch follows a registry alias, stage or 'latest' (models:/Name@alias); "
            f"{config.model_uri!r} always names the same model"
        )
    if config.watch and config.watch_interval <= 0:
        raise ConfigurationError("--watch-interval must be positive")


def build_app(
    served: ServedModel,
    *,
    config: ServeConfig,
    make_client: ClientFactory,
    sink: Callable[[MinuteSummary], None] | None = None,
    multiprocess_dir: str | None = None,
) -> ScoringApp:
    from mltrail.serving.metrics import ServingMetrics
    from mltrail.serving.monitor import PredictionMonitor
    from mltrail.serving.watch import AliasWatcher

    metrics = ServingMetrics(multiprocess_dir=multiprocess_dir)
    holder = ModelHolder(served)
    watcher = None
    if config.watch:
        client = make_client()
        watcher = AliasWatcher(
            holder,
            uri=config.model_uri,
            client=client,
            load=lambda: load_served_model(
                config.model_uri,
                client=client,
                allow_pickle=config.allow_pickle,
                trusted_types=config.trusted_types,
            ),
            metrics=metrics,
            interval=config.watch_interval,
        )
    monitor = PredictionMonitor(sink) if sink is not None else None
    return ScoringApp(
        holder, options=config.options, metrics=metrics, monitor=monitor, watcher=watcher
    )


def load(config: ServeConfig, *, make_client: ClientFactory) -> ServedModel:
    client = make_client() if is_registry_uri(config.model_uri) or config.watch else None
    served = load_served_model(
        config.model_uri,
        client=client,
        allow_pickle=config.allow_pickle,
        trusted_types=config.trusted_types,
    )
    describe(served)
    return served


def describe(served: ServedModel) -> None:
    recorded = ", ".join(
        f"{lib.name} {lib.recorded or '?'}" for lib in served.libraries if lib.recorded
    )
    logger.info("Loaded %s (recorded with: %s)", served.label, recorded or "no versions")
    for line in version_warnings(served):
        logger.warning("Version mismatch: %s (mltrail serves in this environment)", line)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, so that asyncio turns Nagle's algorithm off on accepted sockets
    # (see mltrail.server.runner for the 40 ms it costs otherwise).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run_uvicorn(app: ScoringApp, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # action that would kill the process before the statistics of the last minute are handed
    # over, so the re-raised signal lands on a handler that lets the shutdown finish.
    previous = {sig: signal.signal(sig, _note_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    app.start()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        app.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _note_signal(signum: int, _frame: Any) -> None:
    logger.info("Stopped by signal %d", signum)


class _Monitoring:
    """The supervisor's side of --log-to-run: a channel, a draining thread, the run."""

    def __init__(self, run_logger: RunLogger, channel: Any) -> None:
        from mltrail.serving.monitor import drain

        self.run_logger = run_logger
        self.channel = channel
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=drain, args=(channel, run_logger, self._stop), name="mltrail-runlog", daemon=True
        )
        self._thread.start()

    def close(self, client: TrackingClient) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        while True:
            try:
                self.run_logger.add(self.channel.get_nowait())
            except (queue.Empty, EOFError, OSError):
                break
        self.run_logger.log_finished(everything=True)
        try:
            client.set_terminated(self.run_logger.run_id)
        except Exception as exc:
            logger.warning("Could not end monitoring run %s: %s", self.run_logger.run_id, exc)


def _start_monitoring(
    config: ServeConfig, served: ServedModel, client: TrackingClient, channel: Any
) -> _Monitoring:
    from mltrail.serving.monitor import RunLogger, minute_now, start_monitoring_run

    run_id = start_monitoring_run(
        client,
        experiment=config.monitor_experiment,
        model_uri=config.model_uri,
        model_label=served.label,
        run_id_of_model=served.source.run_id,
    )
    logger.info("Logging prediction statistics to run %s", run_id)
    return _Monitoring(RunLogger(client, run_id, started_minute=minute_now()), channel)


def serve(config: ServeConfig, *, make_client: ClientFactory) -> None:
    """Run until SIGTERM/SIGINT."""
    check_config(config)
    multiprocess_dir = None
    if config.workers > 1:
        multiprocess_dir = tempfile.mkdtemp(prefix="mltrail-serving-metrics-")
        # prometheus_client picks its multi-process mode from the environment when it is first
        # imported, which must therefore come after this line (the metrics module imports it
        # lazily).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
    try:
        served = load(config, make_client=make_client)
        sock = bind(config.host, config.port)
        host, port = sock.getsockname()[:2]
        logger.info(
            "Scoring server on http://%s:%d (%d worker%s); POST /invocations",
            host if ":" not in host else f"[{host}]",
            port,
            config.workers,
            "" if config.workers == 1 else "s",
        )
        if config.workers == 1:
            _serve_one(config, served, sock, make_client=make_client)
        else:
            assert multiprocess_dir is not None
            _serve_many(
                config, served, sock, make_client=make_client, multiprocess_dir=multiprocess_dir
            )
    finally:
        if multiprocess_dir is not None:
            shutil.rmtree(multiprocess_dir, ignore_errors=True)


def _serve_one(
    config: ServeConfig, served: ServedModel, sock: socket.socket, *, make_client: ClientFactory
) -> None:
    monitoring = None
    client = None
    if config.log_to_run:
        client = make_client()
        monitoring = _start_monitoring(config, served, client, queue.Queue())
    app = build_app(
        served,
        config=config,
        make_client=make_client,
        sink=monitoring.channel.put if monitoring is not None else None,
    )
    try:
        _run_uvicorn(app, sock)
    finally:
        if monitoring is not None and client is not None:
            monitoring.close(client)


def _serve_many(
    config: ServeConfig,
    served: ServedModel,
    sock: socket.socket,
    *,
    make_client: ClientFactory,
    multiprocess_dir: str,
) -> None:
    import multiprocessing

    channel = multiprocessing.get_context("fork").Queue() if config.log_to_run else None
    stopping = threading.Event()
    children: dict[int, int] = {}

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            _child(
                config,
                served,
                sock,
                make_client=make_client,
                channel=channel,
                multiprocess_dir=multiprocess_dir,
            )
        children[pid] = index

    def forward(signum: int, _frame: Any) -> None:
        stopping.set()
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(config.workers):
        spawn(index)
    monitoring = None
    client = None
    if channel is not None:
        client = make_client()
        monitoring = _start_monitoring(config, served, client, channel)
    try:
        while children:
            # Polled, not a blocking wait: a signal that lands on another thread of this
            # process would not interrupt os.wait(), and its handler would wait with it.
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.2)
                continue
            index = children.pop(pid, -1)
            if index >= 0 and not stopping.is_set():
                logger.warning(
                    "Worker %d (pid %d) exited with status %d; starting another", index, pid, status
                )
                time.sleep(1)
                spawn(index)
    finally:
        forward(signal.SIGTERM, None)
        if monitoring is not None and client is not None:
            monitoring.close(client)


def _child(
    config: ServeConfig,
    served: ServedModel,
    sock: socket.socket,
    *,
    make_client: ClientFactory,
    channel: Any,
    multiprocess_dir: str,
) -> None:
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        from mltrail.serving.monitor import QueueSink

        app = build_app(
            served,
            config=config,
            make_client=make_client,
            sink=QueueSink(channel) if channel is not None else None,
            multiprocess_dir=multiprocess_dir,
        )
        _run_uvicorn(app, sock)
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt | SystemExit):
            logger.error("Worker failed: %s", exc)
            code = 1
    finally:
        if channel is not None:
            # The queue's feeder thread must hand the last minutes over before _exit.
            channel.close()
            channel.join_thread()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
