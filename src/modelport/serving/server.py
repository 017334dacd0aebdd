"""Run the app on uvicorn (uvloop, httptools) in one or several worker processes.

The app is started by import string with a factory so ``--workers N`` can spawn fresh
processes sharing the port; the config reaches them through an environment variable.
uvicorn handles SIGTERM: it stops accepting, lets in-flight requests finish, runs the
lifespan shutdown (which drains every batcher) and returns, so the process exits 0.
"""

from __future__ import annotations

import os
import signal

import uvicorn

from modelport.runtime.config import ENV_VAR, ServeConfig


def run(config: ServeConfig) -> None:
    """Serve until SIGTERM/SIGINT."""
    os.environ[ENV_VAR] = config.to_json()
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown, which would make
    # the exit status "killed by signal"; with a no-op handler in place it returns and the
    # process exits 0, as orchestrators expect from a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        "modelport.serving.app:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers if config.workers > 1 else None,
        loop="uvloop",
        http="httptools",
        access_log=False,  # ours is structured and carries the request id
        log_level="info",
        timeout_graceful_shutdown=30,
        backlog=4096,
        proxy_headers=False,  # no trusted proxy is configured; skip the per-request rewrite
    )
