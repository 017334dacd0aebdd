"""``modelport serve``: online serving of registry models over KServe V2 and V1."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    refs: Annotated[
        list[str] | None,
        typer.Argument(help="name (latest), name:3 or name@alias; none: every model"),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Processes sharing the port.")] = 1,
    max_batch_size: Annotated[int, typer.Option(help="Requests per model call, at most.")] = 64,
    max_wait_ms: Annotated[
        float, typer.Option(help="Wait this long for a fuller batch when idle (0: never).")
    ] = 0.0,
    max_queue: Annotated[
        int, typer.Option(help="Queued requests per version before answering 503.")
    ] = 2048,
    model_batch: Annotated[
        list[str] | None,
        typer.Option(help="Per-model batching, NAME=SIZE or NAME=SIZE/WAIT_MS (repeatable)."),
    ] = None,
    max_body_bytes: Annotated[int, typer.Option(help="Larger bodies get 413.")] = 8 * 1024 * 1024,
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between checks for alias moves.")
    ] = 1.0,
    access_log: Annotated[bool, typer.Option(help="JSON access log lines on stdout.")] = True,
    log_sample_rate: Annotated[
        float, typer.Option(help="Share of predictions written to the prediction log (0: off).")
    ] = 1.0,
    model_log_rate: Annotated[
        list[str] | None,
        typer.Option(help="Per-model prediction logging, NAME=RATE (repeatable; 0: off)."),
    ] = None,
    log_flush_interval: Annotated[
        float, typer.Option(help="Seconds between prediction log writes.")
    ] = 1.0,
    monitor_interval: Annotated[
        float, typer.Option(help="Seconds between background drift/performance checks (0: off).")
    ] = 0.0,
    monitor_window: Annotated[
        str, typer.Option(help="Recent traffic each background check looks at.")
    ] = "1h",
    alert_rules: Annotated[
        str | None, typer.Option(help="YAML alert rules evaluated after each check.")
    ] = None,
) -> None:
    """Serve models over HTTP: KServe V2 (/v2/...) and V1 (/v1/models/NAME:predict).

    Aliases and latest are followed: when `production` moves, the new version is loaded,
    warmed and swapped in without a restart. Metrics at /metrics, API docs at /docs.
    Every prediction is logged (Parquet under MODELPORT_HOME/logs) with an id returned in
    the response; send ground truth for it to POST /api/feedback.

    Example:

        modelport serve credit-risk@production credit-risk:1 --port 8080

        modelport serve --monitor-interval 60 --alert-rules alerts.yaml

        curl -d '{"instances": [{"age": 31, ...}]}' \\
            localhost:8080/v1/models/credit-risk@production:predict
    """
    # imported here: the server stack (FastAPI, uvicorn) is not needed by the rest of the CLI
    from modelport.runtime.config import (
        BatchConfig,
        ServeConfig,
        parse_model_batch,
        parse_model_log_rate,
        preflight,
    )
    from modelport.serving.server import run
    from modelport.settings import Settings

    # options first: a bad --port is refused before the registry is even opened
    config = ServeConfig(
        refs=tuple(refs or ()),
        host=host,
        port=port,
        workers=workers,
        batch=BatchConfig(max_batch_size, max_wait_ms, max_queue),
        model_batch=dict(parse_model_batch(s) for s in model_batch or ()),
        max_body_bytes=max_body_bytes,
        poll_interval=poll_interval,
        access_log=access_log,
        log_sample_rate=log_sample_rate,
        model_log_rate=dict(parse_model_log_rate(s) for s in model_log_rate or ()),
        log_flush_interval=log_flush_interval,
        monitor_interval=monitor_interval,
        monitor_window=monitor_window,
        alert_rules=alert_rules,
    )
    preflight(config, Settings())
    run(config)


def attach(app: typer.Typer) -> None:
    """Register ``serve`` on the main CLI."""
    app.command("serve")(serve)
