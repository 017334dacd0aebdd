"""``--workers N``: one supervisor process forks N uvicorn workers on one listening socket.

Why not uvicorn's own ``--workers``: it *spawns* each worker, a fresh interpreter that
imports the whole stack again (9-16 s on a loaded machine), and kills a worker that has not
answered its 5-second health ping meanwhile, so under load workers were restarted in a
loop. Here the supervisor imports the serving stack and the served models' libraries
first, binds the socket, and then forks: a worker starts with everything imported (pages
shared copy-on-write) and only opens its registry connection and loads its models. No
health ping can kill a worker that is still loading: a worker accepts connections only
once its models are loaded (uvicorn starts listening after the app's start-up), and the
readiness route says when it is ready. What is not shared across a fork (the registry's
database connections, the event loop, threads) is made in each worker after it.

The workers' Prometheus numbers go to files in one directory
(``PROMETHEUS_MULTIPROC_DIR``, prometheus_client's multiprocess mode): ``--metrics-dir`` or
a fresh temporary directory, emptied at start, each dead worker's files marked with
``mark_process_dead``, removed (or emptied, when given) at exit. Any worker's /metrics is
then the sum over all workers. A worker that dies is started again and counted in
``modelport_worker_restarts_total``; one whose start-up fails (a model that cannot load)
stops the server with uvicorn's exit status 3, since a restart would fail the same way.

SIGTERM (or SIGINT) is passed to every worker, which stops accepting, finishes in-flight
requests, drains its batchers and exits; the supervisor then exits 0.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelport.runtime.config import ServeConfig
from modelport.settings import DRAIN_SECONDS, Settings

if TYPE_CHECKING:
    from prometheus_client import Counter

log = logging.getLogger("modelport.serving")

#: uvicorn's exit status when the app's start-up failed
STARTUP_FAILURE = 3
#: the heavy libraries a flavor's models load with, imported before the fork
FLAVOR_MODULES: dict[str, tuple[str, ...]] = {
    "sklearn": ("sklearn.base", "sklearn.pipeline", "skops.io"),
    "xgboost": ("xgboost",),
    "lightgbm": ("lightgbm",),
    "onnx": ("onnxruntime",),
    # imported only: no torch thread pool exists before the fork (it starts on first use)
    "pytorch": ("torch",),
}
_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}


@dataclass
class Supervisor:
    """The forked workers of one server, and what it takes to replace one."""

    config: ServeConfig
    settings: Settings
    uvicorn_options: dict[str, Any]
    metrics_dir: Path
    sock: socket.socket | None = None
    #: pid -> worker index
    children: dict[int, int] = field(default_factory=dict)
    stopping: bool = False
    exit_status: int = 0

    def fork_worker(self, index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            code = 1
            try:
                code = _worker_main(self, index)
            except SystemExit as exc:  # uvicorn exits 3 when the app's start-up failed
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker %d failed", index)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = index

    def reap(self, restarts: Counter) -> None:
        """Collect every worker that exited; start a replacement unless stopping."""
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            index = self.children.pop(pid, None)
            if index is None:
                continue
            _forget(str(self.metrics_dir), pid)
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:
                continue
            if code == STARTUP_FAILURE:
                log.error("worker %d (pid %d) could not start: stopping the server", index, pid)
                self.exit_status = STARTUP_FAILURE
                self.stop()
                continue
            log.warning("worker %d (pid %d) exited with %d: starting it again", index, pid, code)
            restarts.inc()
            self.fork_worker(index)

    def stop(self) -> None:
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(pid, signal.SIGTERM)


def _forget(metrics_dir: str, pid: int) -> None:
    from prometheus_client import multiprocess

    from modelport.runtime.process_metrics import forget_worker

    multiprocess.mark_process_dead(pid, metrics_dir)  # type: ignore[no-untyped-call]
    forget_worker(metrics_dir, pid)


def _worker_main(supervisor: Supervisor, index: int) -> int:
    import uvicorn

    from modelport.runtime.process_metrics import announce_worker
    from modelport.serving.app import app_for

    # the supervisor blocked these to wait for them; a worker must receive them
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    # uvicorn re-raises the signal that stopped it once it has shut down; with no-op
    # handlers in place that re-raise does nothing and the worker exits 0
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    announce_worker(str(supervisor.metrics_dir), index)
    app = app_for(supervisor.config, supervisor.settings)
    server = uvicorn.Server(uvicorn.Config(app, **supervisor.uvicorn_options))
    assert supervisor.sock is not None
    server.run(sockets=[supervisor.sock])
    return 0 if server.started else STARTUP_FAILURE


def preload(config: ServeConfig, settings: Settings) -> None:
    """Import the serving stack and the served models' libraries, once, before the fork."""
    importlib.import_module("modelport.serving.app")
    flavors = _served_flavors(config, settings)
    for flavor in flavors:
        for module in FLAVOR_MODULES.get(flavor, ()):
            try:
                importlib.import_module(module)
            except ImportError:  # the worker's load will say which extra is missing
                continue


def _served_flavors(config: ServeConfig, settings: Settings) -> set[str]:
    """The flavors of the versions the server will load (every model's when none named)."""
    from modelport.registry import Registry

    registry = Registry(settings)
    try:
        if config.refs and not config.deployments:
            return {registry.get(ref).flavor for ref in config.refs}
        # every model (or deployments, whose arms may name any version): all flavors used
        return {
            version.flavor
            for model in registry.list_models()
            for version in registry.list_versions(model.name)
        }
    finally:
        registry.close()  # no database connection may cross the fork


def prepare_metrics_dir(config: ServeConfig) -> tuple[Path, bool]:
    """The workers' metrics directory, emptied; and whether this server made it."""
    if config.metrics_dir is None:
        return Path(tempfile.mkdtemp(prefix="modelport-metrics-")), True
    path = Path(config.metrics_dir).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    _empty(path)
    return path, False


def _empty(path: Path) -> None:
    """Remove what a previous server left: its numbers must not be added to ours."""
    from modelport.runtime.process_metrics import WORKERS_DIR

    # only what servers write here: a directory given by the user may hold other things
    for entry in path.glob("*.db"):
        entry.unlink(missing_ok=True)
    shutil.rmtree(path / WORKERS_DIR, ignore_errors=True)


def _multiprocess_mode(path: Path) -> None:
    """Point prometheus_client at ``path`` (read when the first metric is made)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    from prometheus_client import values

    # the library chooses its value class at import; it may have been imported already
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def run_workers(config: ServeConfig, settings: Settings, uvicorn_options: dict[str, Any]) -> int:
    """Serve with ``config.workers`` forked workers until SIGTERM/SIGINT; the exit status."""
    import uvicorn
    from prometheus_client import CollectorRegistry, Counter

    metrics_dir, made = prepare_metrics_dir(config)
    _multiprocess_mode(metrics_dir)
    config = replace(config, metrics_dir=str(metrics_dir))
    # the supervisor's own count, summed with the workers' (always 0) series
    restarts = Counter(
        "modelport_worker_restarts",
        "Server worker processes that died and were started again by the supervisor.",
        registry=CollectorRegistry(),
    )
    preload(config, settings)
    supervisor = Supervisor(config, settings, uvicorn_options, metrics_dir)
    options = {k: v for k, v in uvicorn_options.items() if k in ("host", "port", "backlog")}
    supervisor.sock = uvicorn.Config(app="modelport.serving.app:app_for", **options).bind_socket()
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    # SIGCHLD's default action is to discard it; a handler keeps it pending while blocked
    signal.signal(signal.SIGCHLD, lambda *_: None)
    try:
        for index in range(config.workers):
            supervisor.fork_worker(index)
        log.info(
            "supervisor %d: %d workers on %s:%d",
            os.getpid(),
            config.workers,
            *supervisor.sock.getsockname()[:2],
        )
        deadline: float | None = None
        while supervisor.children:
            received = signal.sigtimedwait(_SIGNALS, 1.0)
            asked_to_stop = received is not None and received.si_signo != signal.SIGCHLD
            if asked_to_stop and not supervisor.stopping:
                supervisor.stop()
                graceful = float(uvicorn_options.get("timeout_graceful_shutdown") or DRAIN_SECONDS)
                deadline = time.monotonic() + graceful + 10
            supervisor.reap(restarts)
            if supervisor.stopping and deadline is None:
                deadline = time.monotonic() + 40  # a start-up failure stopped the rest
            if deadline is not None and time.monotonic() > deadline:
                for pid in list(supervisor.children):
                    log.error("worker pid %d did not stop in time: killing it", pid)
                    os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 5
    finally:
        # the signals stay blocked: the process is about to exit, and a second SIGTERM
        # delivered now would turn a clean stop into "killed by signal"
        supervisor.sock.close()
        if made:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        else:
            _empty(metrics_dir)
    return supervisor.exit_status
