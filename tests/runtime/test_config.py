"""Server options survive the trip to worker processes; CLI specs parse or say why not."""

from __future__ import annotations

import pytest

from modelport.errors import InvalidArgument
from modelport.runtime.config import BatchConfig, ServeConfig, parse_model_batch


def test_config_round_trips_through_json() -> None:
    config = ServeConfig(
        refs=("a@production", "b:2"),
        port=9000,
        workers=2,
        batch=BatchConfig(32, 1.5, 100),
        model_batch={"b": BatchConfig(max_batch_size=8)},
        poll_interval=0.5,
    )
    again = ServeConfig.from_json(config.to_json())
    assert again == config
    assert again.batch_for("b").max_batch_size == 8
    assert again.batch_for("a") == BatchConfig(32, 1.5, 100)


def test_model_batch_spec() -> None:
    assert parse_model_batch("rf=16/2.5") == ("rf", BatchConfig(16, 2.5))
    assert parse_model_batch("lr=8") == ("lr", BatchConfig(8, 0.0))
    for bad in ("rf", "=8", "rf=x", "rf=0"):
        with pytest.raises(InvalidArgument):
            parse_model_batch(bad)


@pytest.mark.parametrize(
    "options",
    [
        {"port": 70000},
        {"port": -1},
        {"workers": 0},
        {"max_body_bytes": -1},
        {"max_body_bytes": 0},
        {"poll_interval": 0},
    ],
)
def test_invalid_serve_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(InvalidArgument):
        ServeConfig(**options)  # type: ignore[arg-type]
