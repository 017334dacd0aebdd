"""Run the app on uvicorn (uvloop, httptools) in one or several worker processes.

One worker runs the app built here, from the settings and config the entry point made.
``--workers N`` needs uvicorn to start each worker's app by import string in a fresh
process, so there the config travels as JSON in one environment variable and each worker
reads its settings from the environment it inherited (pre-forked workers that share what
the parent built are the better design, and come with the scale-out work).
uvicorn handles SIGTERM: it stops accepting, lets in-flight requests finish, runs the
lifespan shutdown (which drains every batcher) and returns, so the process exits 0.
"""

from __future__ import annotations

import os
import signal

import uvicorn

from modelport.runtime.config import ENV_VAR, ServeConfig
from modelport.settings import Settings


def run(config: ServeConfig, settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT."""
    app: object
    if config.workers > 1:
        os.environ[ENV_VAR] = config.to_json()
        app = "modelport.serving.app:app_from_env"
    else:
        from modelport.serving.app import app_for

        app = app_for(config, settings)
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown, which would make
    # the exit status "killed by signal"; with a no-op handler in place it returns and the
    # process exits 0, as orchestrators expect from a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        app,  # type: ignore[arg-type]  # an ASGI app or the factory's import string
        factory=config.workers > 1,
        host=config.host,
        port=config.port,
        workers=config.workers if config.workers > 1 else None,
        loop="uvloop",
        http="httptools",
        access_log=False,  # ours is structured and carries the request id
        log_level="info",
        timeout_graceful_shutdown=30,
        backlog=4096,
        ws="none",  # no websocket routes: skip loading (and warning about) websockets
        proxy_headers=False,  # no trusted proxy is configured; skip the per-request rewrite
        ssl_certfile=config.tls_cert,
        ssl_keyfile=config.tls_key,
    )
