"""``modelport audit list``: the security audit trail (keys made and revoked, refusals)."""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.cli.output import print_json, table

audit_app = typer.Typer(
    help="The security audit trail: who made or revoked which API key, which credentials "
    "the server refused, and when.\n\n"
    "Example:\n\n    modelport audit list --action key --limit 20",
    no_args_is_help=True,
)


@audit_app.command("list")
def list_(
    action: Annotated[
        str | None,
        typer.Option("--action", help="key.create, auth.refused, ... or a family: key, auth"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="at most this many events")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The newest events first.

    Example:

        modelport audit list --action auth.refused --limit 50 --json
    """
    import json

    from modelport.registry import Registry
    from modelport.settings import Settings

    registry = Registry(Settings())
    try:
        events = registry.audit.list(action=action, limit=limit)
    finally:
        registry.close()
    if as_json:
        print_json([e.summary() for e in events])
        return
    table(
        "Audit events",
        ["at", "actor", "action", "target", "detail"],
        [
            (
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.actor,
                e.action,
                e.target or "",
                json.dumps(e.detail, sort_keys=True) if e.detail else "",
            )
            for e in events
        ],
    )


def attach(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
