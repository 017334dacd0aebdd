"""Server options: inert data built once at the entry point and passed down.

:meth:`ServeConfig.from_settings` is how entry points build one: the settings tree's
``serving`` section (:class:`~modelport.settings.ServingSettings`, the one place the
defaults are written) with the flags the user gave on top. With ``--workers N`` the
worker processes are forked from the process that built it, so they inherit it as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from modelport.errors import InvalidArgument, MissingExtraError
from modelport.security.posture import is_loopback
from modelport.settings import ServingSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from modelport.settings import Settings

#: what a server does with a request unlike the training data
OOD_POLICIES = ("flag", "reject")
#: the name under which ``--ood-policy POLICY`` (no model named) sets every model's policy
DEFAULT_POLICY_NAME = "*"
#: the defaults, written once in the settings tree
_DEFAULTS = ServingSettings()


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """Adaptive batching of one served version.

    ``max_wait_ms=0`` (the default) never holds a request back: an idle queue dispatches
    at once, and what arrives while a batch runs forms the next batch. A positive wait
    trades that much latency for fuller batches under moderate load.
    """

    max_batch_size: int = _DEFAULTS.max_batch_size
    max_wait_ms: float = _DEFAULTS.max_wait_ms
    max_queue: int = _DEFAULTS.max_queue

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise InvalidArgument("max_batch_size must be at least 1")
        if self.max_wait_ms < 0:
            raise InvalidArgument("max_wait_ms must not be negative")
        if self.max_queue < 1:
            raise InvalidArgument("max_queue must be at least 1")


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """What to serve and how. ``refs`` empty means every registered model."""

    refs: tuple[str, ...] = ()
    #: deployments served besides ``refs``: clients call them like models
    deployments: tuple[str, ...] = ()
    host: str = _DEFAULTS.host
    port: int = _DEFAULTS.port
    #: the Open Inference Protocol over gRPC on this port as well (None: no gRPC)
    grpc_port: int | None = _DEFAULTS.grpc_port
    workers: int = _DEFAULTS.workers
    #: the workers' shared Prometheus directory; only read when ``workers > 1``
    metrics_dir: str | None = _DEFAULTS.metrics_dir
    batch: BatchConfig = field(default_factory=BatchConfig)
    #: batching overrides by model name
    model_batch: dict[str, BatchConfig] = field(default_factory=dict)
    max_body_bytes: int = _DEFAULTS.max_body_bytes
    poll_interval: float = _DEFAULTS.poll_interval
    access_log: bool = _DEFAULTS.access_log
    log_sample_rate: float = _DEFAULTS.log_sample_rate
    #: logging overrides by model name (0 turns it off for that model)
    model_log_rate: dict[str, float] = field(default_factory=dict)
    log_flush_interval: float = _DEFAULTS.log_flush_interval
    monitor_interval: float = _DEFAULTS.monitor_interval
    monitor_window: str = _DEFAULTS.monitor_window
    alert_rules: str | None = _DEFAULTS.alert_rules
    auth: bool = _DEFAULTS.auth
    public_metrics: bool = _DEFAULTS.public_metrics
    public_docs: bool = _DEFAULTS.public_docs
    rate_limit: str | None = _DEFAULTS.rate_limit
    max_concurrency: int = _DEFAULTS.max_concurrency
    request_timeout: float = _DEFAULTS.request_timeout
    max_rows: int = _DEFAULTS.max_rows
    ood_policy: str = _DEFAULTS.ood_policy
    #: out-of-distribution policy overrides by model name
    model_ood_policy: dict[str, str] = field(default_factory=dict)
    ood_threshold: float = _DEFAULTS.ood_threshold
    tls_cert: str | None = _DEFAULTS.tls_cert
    tls_key: str | None = _DEFAULTS.tls_key
    jwks: str | None = _DEFAULTS.jwks
    jwt_issuer: str | None = _DEFAULTS.jwt_issuer
    jwt_audience: str | None = _DEFAULTS.jwt_audience
    jwt_roles_claim: str = _DEFAULTS.jwt_roles_claim

    def __post_init__(self) -> None:
        # Checked here, not in the CLI, so every way of building a config (CLI, env, tests)
        # refuses the same values with the same message.
        if not 0 <= self.port <= 65535:
            raise InvalidArgument(
                f"port {self.port} is not between 0 and 65535",
                hint="pick a TCP port, e.g. --port 8080 (0 lets the system choose)",
            )
        if self.grpc_port is not None and not 1 <= self.grpc_port <= 65535:
            raise InvalidArgument(
                f"grpc_port {self.grpc_port} is not between 1 and 65535",
                hint="pick a TCP port for gRPC, e.g. --grpc-port 8081, or leave it out",
            )
        if self.grpc_port is not None and self.grpc_port == self.port:
            raise InvalidArgument(
                f"--grpc-port {self.grpc_port} is also the HTTP --port",
                hint="gRPC needs a port of its own, e.g. --port 8080 --grpc-port 8081",
            )
        if self.workers < 1:
            raise InvalidArgument(
                f"workers must be at least 1, not {self.workers}", hint="e.g. --workers 1"
            )
        if self.max_body_bytes < 1:
            raise InvalidArgument(
                f"max_body_bytes must be positive, not {self.max_body_bytes}",
                hint="e.g. --max-body-bytes 8388608 (8 MiB)",
            )
        if self.poll_interval <= 0:
            raise InvalidArgument(
                f"poll_interval must be positive, not {self.poll_interval}",
                hint="e.g. 1.0 (seconds)",
            )
        for name, rate in [("*", self.log_sample_rate), *self.model_log_rate.items()]:
            if not 0.0 <= rate <= 1.0:
                raise InvalidArgument(
                    f"log sample rate {rate} for {name!r} is not between 0 and 1",
                    hint="1 logs every prediction, 0.1 one in ten, 0 none",
                )
        for name, policy in [("*", self.ood_policy), *self.model_ood_policy.items()]:
            if policy not in OOD_POLICIES:
                raise InvalidArgument(
                    f"out-of-distribution policy {policy!r} for {name!r} is not one of "
                    f"{', '.join(OOD_POLICIES)}",
                    hint="flag logs the score and answers; reject refuses with 422",
                )
        if not 0.0 <= self.ood_threshold <= 1.0:
            raise InvalidArgument(
                f"ood_threshold {self.ood_threshold} is not between 0 and 1",
                hint="the score is the share of features unlike training, e.g. 0.5",
            )
        if self.log_flush_interval <= 0:
            raise InvalidArgument("log_flush_interval must be positive")
        if self.monitor_interval < 0:
            raise InvalidArgument("monitor_interval must not be negative")
        if self.alert_rules is not None and self.monitor_interval == 0:
            # the rules are evaluated after each background check: without one they would
            # be accepted and then silently never looked at
            raise InvalidArgument(
                "alert rules are evaluated after each background monitor check, "
                "and the background monitor is off (monitor_interval 0)",
                hint="add e.g. --monitor-interval 60, or leave out --alert-rules",
            )
        self._check_security()

    def _check_security(self) -> None:
        if not self.auth and not is_loopback(self.host):
            raise InvalidArgument(
                f"refusing to serve {self.host} without authentication: anyone who can reach "
                "the port could predict, send feedback and read every model",
                hint="create a key (modelport keys create --role predict) and drop --no-auth, "
                "or bind a loopback address (--host 127.0.0.1)",
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InvalidArgument(
                "--tls-cert and --tls-key go together",
                hint="give both PEM files (certificate and its private key), or neither",
            )
        if self.max_concurrency < 0:
            raise InvalidArgument("max_concurrency must not be negative", hint="0: no cap")
        if self.request_timeout < 0:
            raise InvalidArgument("request_timeout must not be negative", hint="0: no limit")
        if self.max_rows < 1:
            raise InvalidArgument("max_rows must be at least 1", hint="e.g. --max-rows 100000")
        if self.rate_limit is not None:
            from modelport.security.limits import parse_rate

            parse_rate(self.rate_limit)  # refused here, with the parser's message

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        refs: tuple[str, ...] = (),
        overrides: Mapping[str, Any] | None = None,
        *,
        deployments: tuple[str, ...] = (),
        model_batch: Mapping[str, BatchConfig] | None = None,
        model_log_rate: Mapping[str, float] | None = None,
        model_ood_policy: Mapping[str, str] | None = None,
    ) -> ServeConfig:
        """The settings' ``serving`` section, with each override that is not None on top.

        ``overrides`` are :class:`~modelport.settings.ServingSettings` field names (the
        flags the user gave); an unknown name is a programming error.
        """
        values = settings.serving.model_dump()
        policies = dict(model_ood_policy or {})
        default_policy = policies.pop(DEFAULT_POLICY_NAME, None)
        given: dict[str, Any] = {**(overrides or {})}
        if default_policy is not None:  # --ood-policy POLICY, with no model named
            given["ood_policy"] = default_policy
        for key, value in given.items():
            if key not in values:
                raise KeyError(f"{key!r} is not a serving setting")
            if value is not None:
                values[key] = value
        batch = BatchConfig(
            values.pop("max_batch_size"), values.pop("max_wait_ms"), values.pop("max_queue")
        )
        return cls(
            refs=tuple(refs),
            deployments=tuple(deployments),
            batch=batch,
            model_batch=dict(model_batch or {}),
            model_log_rate=dict(model_log_rate or {}),
            model_ood_policy=policies,
            **values,
        )

    def shared_metrics_dir(self) -> str | None:
        """Where this server's workers share their metrics, or None for one process."""
        return self.metrics_dir if self.workers > 1 else None

    def batch_for(self, name: str) -> BatchConfig:
        return self.model_batch.get(name, self.batch)

    def log_rate_for(self, name: str) -> float:
        return self.model_log_rate.get(name, self.log_sample_rate)

    def ood_policy_for(self, name: str) -> str:
        return self.model_ood_policy.get(name, self.ood_policy)

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data: dict[str, Any] = orjson.loads(text)
        data["refs"] = tuple(data.get("refs", ()))
        data["deployments"] = tuple(data.get("deployments", ()))
        data["batch"] = BatchConfig(**data.get("batch", {}))
        data["model_batch"] = {k: BatchConfig(**v) for k, v in data.get("model_batch", {}).items()}
        return cls(**data)


def preflight(config: ServeConfig, settings: Settings) -> None:
    """Refuse, before the server starts, what would fail only once it runs.

    A monitor window without a unit, alert rules that cannot be read, and references that
    resolve to nothing. Every entry point calls this after building the config, so the
    cheap option checks come first and each entry point refuses the same things with the
    same message.
    """
    if config.monitor_interval > 0:
        # imported here: only servers that monitor need the duration parser's pandas
        from modelport.monitoring.durations import parse_window

        parse_window(config.monitor_window)
    if config.alert_rules is not None:
        if not Path(config.alert_rules).is_file():
            raise InvalidArgument(
                f"no such alert rules file: {config.alert_rules}",
                hint="check the path given to --alert-rules",
            )
        from modelport.monitoring.alerts import load_rules

        load_rules(config.alert_rules)  # a rule that does not parse fails here, not later
    if config.grpc_port is not None:
        import importlib.util

        if importlib.util.find_spec("grpc") is None:
            raise MissingExtraError("grpcio", "grpc")
    for path in (config.tls_cert, config.tls_key):
        if path is not None and not Path(path).is_file():
            raise InvalidArgument(f"no such TLS file: {path}", hint="check --tls-cert/--tls-key")
    jwks_file = config.jwks is not None and not config.jwks.startswith("https://")
    if jwks_file and not Path(str(config.jwks)).is_file():
        raise InvalidArgument(
            f"no such JWKS file: {config.jwks}",
            hint="a JSON Web Key Set file, or an https:// URL of one",
        )
    if config.refs:
        from modelport.registry import Registry

        registry = Registry(settings)
        try:
            for ref in config.refs:
                registry.resolve(ref)
        finally:
            registry.close()


def parse_model_log_rate(spec: str) -> tuple[str, float]:
    """``NAME=RATE`` (a CLI option) -> (name, rate)."""
    name, sep, rate = spec.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(rate)
    except ValueError as exc:
        raise InvalidArgument(
            f"invalid --model-log-rate {spec!r}", hint="write NAME=RATE, e.g. credit-risk=0.1"
        ) from exc


def parse_ood_policy(spec: str) -> tuple[str, str]:
    """``POLICY`` or ``NAME=POLICY`` (the repeatable ``--ood-policy``) -> (name, policy).

    A bare policy is every model's default, returned under the name ``*`` (no model can
    be named so); the config checks the policy itself.
    """
    name, sep, policy = spec.rpartition("=")
    if (sep and not name) or not policy:
        raise InvalidArgument(
            f"invalid --ood-policy {spec!r}",
            hint="write POLICY for every model or NAME=POLICY for one, e.g. credit-risk=reject",
        )
    return (name if sep else DEFAULT_POLICY_NAME), policy


def parse_model_batch(spec: str) -> tuple[str, BatchConfig]:
    """``NAME=SIZE[/WAIT_MS]`` (a CLI option) -> (name, BatchConfig)."""
    name, sep, rest = spec.partition("=")
    size, _, wait = rest.partition("/")
    try:
        if not sep or not name:
            raise ValueError
        return name, BatchConfig(max_batch_size=int(size), max_wait_ms=float(wait or 0))
    except ValueError as exc:
        raise InvalidArgument(
            f"invalid --model-batch {spec!r}", hint="write NAME=SIZE or NAME=SIZE/WAIT_MS"
        ) from exc
