"""Run the app on uvicorn (uvloop, httptools) in one or several worker processes.

One worker runs the app built here, from the settings and config the entry point made.
``--workers N`` runs a supervisor that imports the stack once and forks the workers on one
socket (:mod:`modelport.serving.workers`), each building its app from the same config.
uvicorn handles SIGTERM: it stops accepting, lets in-flight requests finish, runs the
lifespan shutdown (which drains every batcher) and returns, so the process exits 0.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import uvicorn

from modelport.runtime.config import ServeConfig
from modelport.settings import DRAIN_SECONDS, Settings


def uvicorn_options(config: ServeConfig) -> dict[str, Any]:
    """How uvicorn serves, the same for one worker and for each of several."""
    return {
        "host": config.host,
        "port": config.port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,  # ours is structured and carries the request id
        "log_level": "info",
        "timeout_graceful_shutdown": DRAIN_SECONDS,
        "backlog": 4096,
        "ws": "none",  # no websocket routes: skip loading (and warning about) websockets
        "proxy_headers": False,  # no trusted proxy is configured; skip the per-request rewrite
        "ssl_certfile": config.tls_cert,
        "ssl_keyfile": config.tls_key,
    }


def run(config: ServeConfig, settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT."""
    if config.workers > 1:
        from modelport.serving.workers import run_workers

        status = run_workers(config, settings, uvicorn_options(config))
        if status:
            sys.exit(status)
        return
    from modelport.serving.app import app_for

    app = app_for(config, settings)
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown, which would make
    # the exit status "killed by signal"; with a no-op handler in place it returns and the
    # process exits 0, as orchestrators expect from a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(app, **uvicorn_options(config))
