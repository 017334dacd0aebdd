"""``python -m modelport.serving REF ... --port N``: the server without the command line.

The options are the fields of :class:`~modelport.settings.ServingSettings` under the
names ``modelport serve`` gives them (``--max-batch-size``, ``--no-access-log``, ...),
plus ``--model-batch NAME=SIZE/WAIT_MS``, ``--model-log-rate NAME=RATE`` and the repeatable
``--ood-policy [NAME=]POLICY``; ``modelport
serve --help`` explains each. They are derived from the settings, so this entry point
needs nothing from the CLI (which sits above serving), cannot drift from it, and takes its
defaults from the same settings (``MODELPORT_SERVING__PORT`` ...).
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any

from modelport.errors import ModelportError
from modelport.runtime.config import (
    ServeConfig,
    parse_model_batch,
    parse_model_log_rate,
    parse_ood_policy,
    preflight,
)
from modelport.settings import ServingSettings, Settings

#: repeatable ``NAME=...`` options and how each spec is read
_REPEATED: dict[str, Callable[[str], tuple[str, Any]]] = {
    "model_batch": parse_model_batch,
    "model_log_rate": parse_model_log_rate,
    # a setting too: POLICY sets every model's, NAME=POLICY one model's
    "ood_policy": parse_ood_policy,
}


def option_names() -> list[str]:
    """The settings that are options, then the repeatable per-model ones."""
    return list(dict.fromkeys([*ServingSettings.model_fields, *_REPEATED]))


def _none_type(name: str) -> type:
    """The type of a setting whose default is None: ``int | None`` -> int, else str."""
    args = typing.get_args(ServingSettings.model_fields[name].annotation)
    kind: type = next((a for a in args if a is not type(None)), str)
    return kind


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m modelport.serving",
        description="Serve registry models (see `modelport serve --help` for every option).",
    )
    cli.add_argument("refs", nargs="*", help="name, name:3 or name@alias; none: every model")
    cli.add_argument("--deployment", action="append", default=[], metavar="NAME")
    for name in option_names():
        flag = "--" + name.replace("_", "-")
        if name in _REPEATED:
            cli.add_argument(flag, action="append", default=[], metavar="SPEC")
            continue
        default = ServingSettings.model_fields[name].default
        if isinstance(default, bool):
            # None: not given, the setting holds
            cli.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        else:
            kind = _none_type(name) if default is None else type(default)
            cli.add_argument(flag, type=kind, default=None)
    return cli


def config_from_args(argv: Sequence[str], settings: Settings) -> ServeConfig:
    values = vars(parser().parse_args(list(argv)))
    repeated = {name: dict(parse(s) for s in values.pop(name)) for name, parse in _REPEATED.items()}
    refs, deployments = tuple(values.pop("refs")), tuple(values.pop("deployment"))
    return ServeConfig.from_settings(
        settings,
        refs,
        values,
        deployments=deployments,
        model_batch=repeated["model_batch"],
        model_log_rate=repeated["model_log_rate"],
        model_ood_policy=repeated["ood_policy"],
    )


def main(argv: Sequence[str] | None = None) -> None:
    from modelport.serving.server import run

    try:
        settings = Settings()
        config = config_from_args(sys.argv[1:] if argv is None else argv, settings)
        preflight(config, settings)
    except ModelportError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        sys.exit(1)
    run(config, settings)


if __name__ == "__main__":
    main()
