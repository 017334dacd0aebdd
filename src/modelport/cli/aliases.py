"""``modelport alias set|rm``, ``promote``, ``rollback``, ``history``: audited alias moves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from modelport.cli.output import console, print_json, table
from modelport.reference import parse

if TYPE_CHECKING:
    from modelport.registry import AliasEvent, Registry

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Reason = Annotated[str | None, typer.Option("--reason", "-m", help="why, for the audit trail")]

alias_app = typer.Typer(
    help="Point aliases (production, staging, ...) at versions.\n\n"
    "Example:\n\n    modelport alias set credit-risk:2 production",
    no_args_is_help=True,
)


def _registry() -> Registry:
    # imported here: SQLAlchemy and Alembic are a large share of a command's start-up
    from modelport.registry import Registry
    from modelport.settings import Settings

    return Registry(Settings())


def _report(event: AliasEvent, as_json: bool) -> None:
    if as_json:
        print_json(event.summary())
        return
    before = f"{event.from_version}" if event.from_version is not None else "(none)"
    after = f"{event.to_version}" if event.to_version is not None else "(removed)"
    console.print(
        f"{event.name}@{event.alias}: {before} → {after} ({event.action} by {event.actor})"
    )


@alias_app.command("set")
def alias_set(
    ref: Annotated[str, typer.Argument(help="the version: name:3, name@staging or name (latest)")],
    alias: Annotated[str, typer.Argument(help="the alias to point at it")],
    reason: Reason = None,
    as_json: JsonOpt = False,
) -> None:
    """Point ALIAS at the version REF resolves to.

    Example:

        modelport alias set credit-risk:2 production -m "AUC 0.91 on holdout"
    """
    _report(_registry().set_alias(ref, alias, reason=reason), as_json)


@alias_app.command("rm")
def alias_rm(
    name: Annotated[str, typer.Argument(help="model name")],
    alias: Annotated[str, typer.Argument(help="alias to remove")],
    reason: Reason = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove an alias (the removal is audited).

    Example:

        modelport alias rm credit-risk staging
    """
    _report(_registry().remove_alias(name, alias, reason=reason), as_json)


def promote(
    source: Annotated[str, typer.Argument(help="what to promote: name@staging or name:3")],
    to: Annotated[str, typer.Option("--to", help="the alias to move")] = "production",
    reason: Reason = None,
    as_json: JsonOpt = False,
) -> None:
    """Move an alias (default production) to the version SOURCE resolves to.

    Example:

        modelport promote credit-risk@staging --to production -m "passed shadow test"
    """
    _report(_registry().promote(source, to, reason=reason), as_json)


def rollback(
    ref: Annotated[
        str, typer.Argument(help="name@alias to move back, e.g. credit-risk@production")
    ],
    reason: Reason = None,
    as_json: JsonOpt = False,
) -> None:
    """Move an alias back to the version it pointed to before its last move.

    Repeated rollbacks walk further back in the alias's history.

    Example:

        modelport rollback credit-risk@production -m "error rate up"
    """
    parsed = parse(ref)
    if parsed.alias is None:
        raise typer.BadParameter(f"{ref!r} names no alias; write name@alias", param_hint="REF")
    _report(_registry().rollback(parsed.name, parsed.alias, reason=reason), as_json)


def history(
    name: Annotated[str, typer.Argument(help="model name")],
    alias: Annotated[str | None, typer.Option(help="only this alias")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The audit trail of alias moves: who, when, from, to, why.

    Example:

        modelport history credit-risk --alias production
    """
    events = _registry().history(name, alias)
    if as_json:
        print_json([e.summary() for e in events])
        return
    table(
        f"Alias history of {name}",
        ["when", "alias", "action", "from", "to", "who", "why"],
        [
            (
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.alias,
                e.action,
                e.from_version,
                e.to_version,
                e.actor,
                e.reason,
            )
            for e in events
        ],
    )


def attach(app: typer.Typer) -> None:
    app.add_typer(alias_app, name="alias")
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("history")(history)
