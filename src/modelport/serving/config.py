"""Server options: inert data built once at the entry point (the CLI) and passed down.

They travel to uvicorn worker processes as JSON in one environment variable, because
``--workers N`` starts the app by import string in fresh processes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from modelport.errors import InvalidArgument

ENV_VAR = "MODELPORT_SERVE_CONFIG"


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """Adaptive batching of one served version.

    ``max_wait_ms=0`` (the default) never holds a request back: an idle queue dispatches
    at once, and what arrives while a batch runs forms the next batch. A positive wait
    trades that much latency for fuller batches under moderate load.
    """

    max_batch_size: int = 64
    max_wait_ms: float = 0.0
    max_queue: int = 2048

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
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    batch: BatchConfig = field(default_factory=BatchConfig)
    #: batching overrides by model name
    model_batch: dict[str, BatchConfig] = field(default_factory=dict)
    max_body_bytes: int = 8 * 1024 * 1024
    #: seconds between checks of what each served alias / latest points to
    poll_interval: float = 1.0
    access_log: bool = True

    def batch_for(self, name: str) -> BatchConfig:
        return self.model_batch.get(name, self.batch)

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data: dict[str, Any] = orjson.loads(text)
        data["refs"] = tuple(data.get("refs", ()))
        data["batch"] = BatchConfig(**data.get("batch", {}))
        data["model_batch"] = {k: BatchConfig(**v) for k, v in data.get("model_batch", {}).items()}
        return cls(**data)

    @classmethod
    def from_env(cls) -> ServeConfig:
        text = os.environ.get(ENV_VAR)
        return cls.from_json(text) if text else cls()


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
