"""``modelport serve``: online serving of registry models over KServe V2 and V1.

Every option's default is the settings tree's (``ServingSettings``; ``MODELPORT_SERVING__PORT``
and so on), so the defaults are written once; a flag given overrides its setting.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelport.settings import ServingSettings


def _opt(name: str) -> Any:
    """The option of setting ``name``: its description, default and environment variable."""
    spec = ServingSettings.model_fields[name]
    default = "none" if spec.default is None else spec.default
    env = f"MODELPORT_SERVING__{name.upper()}"
    return typer.Option(help=f"{spec.description} [default: {default}; env {env}]")


def serve(
    refs: Annotated[
        list[str] | None,
        typer.Argument(help="name (latest), name:3 or name@alias; none: every model"),
    ] = None,
    deployment: Annotated[
        list[str] | None,
        typer.Option(
            "--deployment",
            help="Also serve this deployment (repeatable); clients call it like a model.",
        ),
    ] = None,
    host: Annotated[str | None, _opt("host")] = None,
    port: Annotated[int | None, _opt("port")] = None,
    grpc_port: Annotated[int | None, _opt("grpc_port")] = None,
    workers: Annotated[int | None, _opt("workers")] = None,
    metrics_dir: Annotated[str | None, _opt("metrics_dir")] = None,
    max_batch_size: Annotated[int | None, _opt("max_batch_size")] = None,
    max_wait_ms: Annotated[float | None, _opt("max_wait_ms")] = None,
    max_queue: Annotated[int | None, _opt("max_queue")] = None,
    model_batch: Annotated[
        list[str] | None,
        typer.Option(help="Per-model batching, NAME=SIZE or NAME=SIZE/WAIT_MS (repeatable)."),
    ] = None,
    max_body_bytes: Annotated[int | None, _opt("max_body_bytes")] = None,
    poll_interval: Annotated[float | None, _opt("poll_interval")] = None,
    access_log: Annotated[bool | None, _opt("access_log")] = None,
    log_sample_rate: Annotated[float | None, _opt("log_sample_rate")] = None,
    model_log_rate: Annotated[
        list[str] | None,
        typer.Option(help="Per-model prediction logging, NAME=RATE (repeatable; 0: off)."),
    ] = None,
    log_flush_interval: Annotated[float | None, _opt("log_flush_interval")] = None,
    monitor_interval: Annotated[float | None, _opt("monitor_interval")] = None,
    monitor_window: Annotated[str | None, _opt("monitor_window")] = None,
    alert_rules: Annotated[str | None, _opt("alert_rules")] = None,
    auth: Annotated[bool | None, _opt("auth")] = None,
    public_metrics: Annotated[bool | None, _opt("public_metrics")] = None,
    public_docs: Annotated[bool | None, _opt("public_docs")] = None,
    rate_limit: Annotated[str | None, _opt("rate_limit")] = None,
    max_concurrency: Annotated[int | None, _opt("max_concurrency")] = None,
    request_timeout: Annotated[float | None, _opt("request_timeout")] = None,
    max_rows: Annotated[int | None, _opt("max_rows")] = None,
    ood_policy: Annotated[
        list[str] | None,
        typer.Option(
            help="flag or reject requests unlike the training data: POLICY for every model, "
            "NAME=POLICY for one (repeatable) [default: flag; env MODELPORT_SERVING__OOD_POLICY]."
        ),
    ] = None,
    ood_threshold: Annotated[float | None, _opt("ood_threshold")] = None,
    tls_cert: Annotated[str | None, _opt("tls_cert")] = None,
    tls_key: Annotated[str | None, _opt("tls_key")] = None,
    jwks: Annotated[str | None, _opt("jwks")] = None,
    jwt_issuer: Annotated[str | None, _opt("jwt_issuer")] = None,
    jwt_audience: Annotated[str | None, _opt("jwt_audience")] = None,
    jwt_roles_claim: Annotated[str | None, _opt("jwt_roles_claim")] = None,
) -> None:
    """Serve models over HTTP: KServe V2 (/v2/...) and V1 (/v1/models/NAME:predict).

    Aliases and latest are followed: when `production` moves, the new version is loaded,
    warmed and swapped in without a restart. Metrics at /metrics, API docs at /docs.
    Every prediction is logged (Parquet under MODELPORT_HOME/logs) with an id returned in
    the response; send ground truth for it to POST /api/feedback. Defaults come from the
    settings (MODELPORT_SERVING__PORT=9000 ...); a flag overrides its setting.

    Security is on by default: every route but /v2/health/* needs an API key
    (`modelport keys create --role predict`) or a bearer JWT (--jwks). --no-auth is
    accepted only on a loopback address; --tls-cert/--tls-key serve HTTPS.

    Example:

        modelport keys create --role predict --json   # prints the key once

        modelport serve credit-risk@production credit-risk:1 --port 8080

        modelport serve credit-risk --host 0.0.0.0 --tls-cert c.pem --tls-key k.pem \\
            --rate-limit 100/s --max-concurrency 8

        modelport serve credit-risk --no-auth          # loopback only

        modelport serve --monitor-interval 60 --alert-rules alerts.yaml

        modelport serve --deployment checkout   # arms and shadows of `deploy create`

        modelport serve credit-risk --ood-policy credit-risk=reject --ood-threshold 0.3

        modelport serve credit-risk --grpc-port 8081   # also KServe V2 over gRPC

        modelport serve credit-risk --workers 2   # /metrics of either counts both

        curl -H "Authorization: Bearer $KEY" -d '{"instances": [{"age": 31, ...}]}' \\
            localhost:8080/v1/models/credit-risk@production:predict
    """
    # imported here: the server stack (FastAPI, uvicorn) is not needed by the rest of the CLI
    from modelport.runtime.config import (
        ServeConfig,
        parse_model_batch,
        parse_model_log_rate,
        parse_ood_policy,
        preflight,
    )
    from modelport.serving.server import run
    from modelport.settings import Settings

    settings = Settings()
    # options first: a bad --port is refused before the registry is even opened
    config = ServeConfig.from_settings(
        settings,
        tuple(refs or ()),
        {
            "host": host,
            "port": port,
            "grpc_port": grpc_port,
            "workers": workers,
            "metrics_dir": metrics_dir,
            "max_batch_size": max_batch_size,
            "max_wait_ms": max_wait_ms,
            "max_queue": max_queue,
            "max_body_bytes": max_body_bytes,
            "poll_interval": poll_interval,
            "access_log": access_log,
            "log_sample_rate": log_sample_rate,
            "log_flush_interval": log_flush_interval,
            "monitor_interval": monitor_interval,
            "monitor_window": monitor_window,
            "alert_rules": alert_rules,
            "auth": auth,
            "public_metrics": public_metrics,
            "public_docs": public_docs,
            "rate_limit": rate_limit,
            "max_concurrency": max_concurrency,
            "request_timeout": request_timeout,
            "max_rows": max_rows,
            "ood_threshold": ood_threshold,
            "tls_cert": tls_cert,
            "tls_key": tls_key,
            "jwks": jwks,
            "jwt_issuer": jwt_issuer,
            "jwt_audience": jwt_audience,
            "jwt_roles_claim": jwt_roles_claim,
        },
        deployments=tuple(deployment or ()),
        model_batch=dict(parse_model_batch(s) for s in model_batch or ()),
        model_log_rate=dict(parse_model_log_rate(s) for s in model_log_rate or ()),
        model_ood_policy=dict(parse_ood_policy(s) for s in ood_policy or ()),
    )
    preflight(config, settings)
    run(config, settings)


def attach(app: typer.Typer) -> None:
    """Register ``serve`` on the main CLI."""
    app.command("serve")(serve)
