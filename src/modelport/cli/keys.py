"""``modelport keys create|list|revoke``: API keys with roles, scoped to models, expiring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from modelport.cli.output import console, print_json, table

if TYPE_CHECKING:
    from modelport.registry import Registry

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

keys_app = typer.Typer(
    help="API keys: who may call the server, with which roles (predict, feedback, read, "
    "admin), on which models, until when. Only a slow hash of each key is stored.\n\n"
    "Example:\n\n    modelport keys create --role predict --model credit-risk --expires 30d",
    no_args_is_help=True,
)


def _registry() -> Registry:
    # imported here: SQLAlchemy and Alembic are a large share of a command's start-up
    from modelport.registry import Registry
    from modelport.settings import Settings

    return Registry(Settings())


@keys_app.command("create")
def create(
    role: Annotated[
        list[str],
        typer.Option("--role", help="predict, feedback, read or admin (repeatable)"),
    ],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", help="a model or deployment the key may call (repeatable; none: every one)"
        ),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="30d, 12h, 90min, 1w or an ISO date (none: never)"),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="what the key is for")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a key and print it once: it is not stored, and cannot be shown again.

    Example:

        modelport keys create --role predict --role feedback --model credit-risk --expires 30d
    """
    from datetime import UTC, datetime

    from modelport.security.keys import parse_expiry, parse_roles

    roles = parse_roles(role)  # refused before the registry is opened: nothing is stored
    expires_at = None if expires is None else parse_expiry(expires, datetime.now(UTC))
    registry = _registry()
    try:
        record, key = registry.keys.create(
            roles, models=model or (), expires_at=expires_at, description=description
        )
    finally:
        registry.close()
    if as_json:
        print_json({**record.summary(), "key": key})
        return
    scope = ", ".join(record.models) if record.models else "every model"
    until = (
        "until revoked"
        if record.expires_at is None
        else f"until {record.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    console.print(f"created API key {record.id}: {', '.join(record.roles)} on {scope}, {until}")
    console.print(key, markup=False, highlight=False, soft_wrap=True)
    console.print(
        "[bold yellow]This key is shown only once[/]: store it now (a secrets manager); the "
        "registry keeps only its hash.",
        soft_wrap=True,
    )
    console.print(
        "Send it with every request as `Authorization: Bearer KEY` or `X-API-Key: KEY`.",
        markup=False,
        soft_wrap=True,
    )


@keys_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every key (revoked and expired ones too), without secrets or hashes.

    Example:

        modelport keys list --json
    """
    registry = _registry()
    try:
        keys = registry.keys.list()
    finally:
        registry.close()
    summaries = [k.summary() for k in keys]
    if as_json:
        print_json(summaries)
        return
    table(
        "API keys",
        ["id", "roles", "models", "status", "expires (UTC)", "by", "created (UTC)", "description"],
        [
            (
                s["id"],
                ", ".join(s["roles"]),
                ", ".join(s["models"]) or "(all)",
                s["status"],
                "" if k.expires_at is None else f"{k.expires_at:%Y-%m-%d %H:%M}",
                s["created_by"],
                f"{k.created_at:%Y-%m-%d %H:%M}",
                s["description"] or "",
            )
            for k, s in zip(keys, summaries, strict=True)
        ],
    )


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="the key's id (see keys list)")],
    reason: Annotated[
        str | None, typer.Option("--reason", "-m", help="why, for the audit trail")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke key ID for good; running servers refuse it within their poll interval.

    Example:

        modelport keys revoke 3f9a0c1d2e4b --reason "laptop lost"
    """
    registry = _registry()
    try:
        record = registry.keys.revoke(key_id, reason=reason)
    finally:
        registry.close()
    if as_json:
        print_json(record.summary())
        return
    console.print(f"revoked API key {record.id}", highlight=False)


def attach(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
