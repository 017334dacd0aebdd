"""``python -m modelport.serving REF ... --port N``: the server without the command line.

The options are the fields of :class:`ServeConfig` and :class:`BatchConfig` under the
names ``modelport serve`` gives them (``--max-batch-size``, ``--no-access-log``,
``--model-batch NAME=SIZE/WAIT_MS``, ...; ``modelport serve --help`` explains each).
They are derived from the dataclasses, so this entry point needs nothing from the CLI
(which sits above serving) and cannot drift from the config the server reads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, fields
from typing import Any

from modelport.errors import ModelportError
from modelport.runtime.config import (
    BatchConfig,
    ServeConfig,
    parse_model_batch,
    parse_model_log_rate,
    preflight,
)

#: repeatable ``NAME=...`` options and how each spec is read
_REPEATED: dict[str, Callable[[str], tuple[str, Any]]] = {
    "model_batch": parse_model_batch,
    "model_log_rate": parse_model_log_rate,
}
_NESTED = ("refs", "batch")


def _default(item: Field[Any]) -> Any:
    if item.default is not MISSING:
        return item.default
    factory = item.default_factory
    assert callable(factory), f"{item.name} has neither a default nor a factory"
    return factory()


def option_fields() -> list[Field[Any]]:
    """The config fields that are options, in the order ``--help`` lists them."""
    return [f for f in (*fields(ServeConfig), *fields(BatchConfig)) if f.name not in _NESTED]


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m modelport.serving",
        description="Serve registry models (see `modelport serve --help` for every option).",
    )
    cli.add_argument("refs", nargs="*", help="name, name:3 or name@alias; none: every model")
    for item in option_fields():
        flag = "--" + item.name.replace("_", "-")
        default = _default(item)
        if item.name in _REPEATED:
            cli.add_argument(flag, action="append", default=[], metavar="SPEC")
        elif isinstance(default, bool):
            cli.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            cli.add_argument(flag, type=str if default is None else type(default), default=default)
    return cli


def config_from_args(argv: Sequence[str]) -> ServeConfig:
    values = vars(parser().parse_args(list(argv)))
    batch = BatchConfig(**{f.name: values.pop(f.name) for f in fields(BatchConfig)})
    for name, parse in _REPEATED.items():
        values[name] = dict(parse(spec) for spec in values[name])
    return ServeConfig(refs=tuple(values.pop("refs")), batch=batch, **values)


def main(argv: Sequence[str] | None = None) -> None:
    from modelport.serving.server import run
    from modelport.settings import Settings

    try:
        config = config_from_args(sys.argv[1:] if argv is None else argv)
        preflight(config, Settings())
    except ModelportError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        sys.exit(1)
    run(config)


if __name__ == "__main__":
    main()
