"""``modelport deploy create|set|show|list|history|rm``: named endpoints with a traffic policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from modelport.cli.output import console, print_json, table

if TYPE_CHECKING:
    from modelport.deployments.spec import DeploymentSpec
    from modelport.registry import Registry
    from modelport.registry.deployments import Deployment

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Reason = Annotated[str | None, typer.Option("--reason", "-m", help="why, for the audit trail")]
Arms = Annotated[
    list[str],
    typer.Option("--arm", help="REF=WEIGHT, e.g. credit-risk@production=90 (repeatable)"),
]
StickyOpt = Annotated[
    str | None,
    typer.Option("--sticky", help="header:NAME or field:NAME: one caller, one arm"),
]
Shadows = Annotated[
    list[str] | None,
    typer.Option("--shadow", help="REF=PERCENT: a copy of that share of the traffic (repeatable)"),
]

deploy_app = typer.Typer(
    help="Deployments: a name clients call like a model, whose traffic is split between arms "
    "(weights, sticky keys) and copied to shadows.\n\n"
    "Example:\n\n    modelport deploy create checkout --arm credit-risk@production=90 "
    "--arm credit-risk:3=10 --sticky header:X-User-Id --shadow credit-risk:4=50",
    no_args_is_help=True,
)


def _registry() -> Registry:
    # imported here: SQLAlchemy and Alembic are a large share of a command's start-up
    from modelport.registry import Registry
    from modelport.settings import Settings

    return Registry(Settings())


def _spec(
    name: str, arms: list[str], sticky: str | None, shadows: list[str] | None
) -> DeploymentSpec:
    from modelport.deployments.spec import DeploymentSpec, parse_arm, parse_shadow, parse_sticky

    return DeploymentSpec(
        name,
        tuple(parse_arm(a) for a in arms),
        None if sticky is None else parse_sticky(sticky),
        tuple(parse_shadow(s) for s in shadows or ()),
    )


def _show(deployment: Deployment, as_json: bool) -> None:
    if as_json:
        print_json(deployment.summary())
        return
    spec = deployment.spec
    shares = spec.shares()
    table(
        f"{spec.name} (revision {deployment.revision})",
        ["arm", "weight", "share"],
        [(a.ref, f"{a.weight:g}", f"{s:.1%}") for a, s in zip(spec.arms, shares, strict=True)],
    )
    if spec.sticky is not None:
        console.print(f"sticky: {spec.sticky}")
    for shadow in spec.shadows:
        console.print(f"shadow: {shadow.ref} gets a copy of {shadow.percent:g}% of the requests")


def _store(
    name: str,
    arms: list[str],
    sticky: str | None,
    shadows: list[str] | None,
    reason: str | None,
    as_json: bool,
    *,
    create: bool,
) -> None:
    spec = _spec(name, arms, sticky, shadows)  # refused before the registry is opened
    registry = _registry()
    try:
        store = registry.deployments
        saved = store.create(spec, reason=reason) if create else store.set(spec, reason=reason)
        _show(saved, as_json)
    finally:
        registry.close()


@deploy_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="the deployment's name (clients call it)")],
    arm: Arms,
    sticky: StickyOpt = None,
    shadow: Shadows = None,
    reason: Reason = None,
    as_json: JsonOpt = False,
) -> None:
    """Create deployment NAME. Every reference must exist; nothing is stored otherwise.

    Example:

        modelport deploy create checkout --arm credit-risk@production=90 --arm credit-risk:3=10
    """
    _store(name, arm, sticky, shadow, reason, as_json, create=True)


@deploy_app.command("set")
def set_(
    name: Annotated[str, typer.Argument(help="an existing deployment")],
    arm: Arms,
    sticky: StickyOpt = None,
    shadow: Shadows = None,
    reason: Reason = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace the traffic policy of NAME; running servers follow it without a restart.

    Example:

        modelport deploy set checkout --arm credit-risk@production=50 --arm credit-risk:3=50
    """
    _store(name, arm, sticky, shadow, reason, as_json, create=False)


@deploy_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="a deployment")],
    as_json: JsonOpt = False,
) -> None:
    """Arms, weights, sticky key and shadows of NAME.

    Example:

        modelport deploy show checkout --json
    """
    registry = _registry()
    try:
        _show(registry.deployments.get(name), as_json)
    finally:
        registry.close()


@deploy_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every deployment.

    Example:

        modelport deploy list --json
    """
    registry = _registry()
    try:
        deployments = registry.deployments.all()
    finally:
        registry.close()
    if as_json:
        print_json([d.summary() for d in deployments])
        return
    table(
        "Deployments",
        ["name", "arms", "sticky", "shadows", "revision"],
        [
            (
                d.name,
                ", ".join(f"{a.ref}={a.weight:g}" for a in d.spec.arms),
                "" if d.spec.sticky is None else str(d.spec.sticky),
                ", ".join(f"{s.ref}={s.percent:g}%" for s in d.spec.shadows),
                d.revision,
            )
            for d in deployments
        ],
    )


@deploy_app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="a deployment (also one that was removed)")],
    as_json: JsonOpt = False,
) -> None:
    """Every change of NAME: who, when, why, and the policy it set.

    Example:

        modelport deploy history checkout
    """
    registry = _registry()
    try:
        events = registry.deployments.history(name)
    finally:
        registry.close()
    if as_json:
        print_json([e.summary() for e in events])
        return
    table(
        f"History of {name}",
        ["revision", "action", "arms", "by", "at", "reason"],
        [
            (
                e.revision,
                e.action,
                "" if e.spec is None else ", ".join(f"{a.ref}={a.weight:g}" for a in e.spec.arms),
                e.actor,
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.reason or "",
            )
            for e in events
        ],
    )


@deploy_app.command("rm")
def remove(
    name: Annotated[str, typer.Argument(help="a deployment")],
    reason: Reason = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove NAME (its history stays).

    Example:

        modelport deploy rm checkout -m "experiment over"
    """
    registry = _registry()
    try:
        event = registry.deployments.remove(name, reason=reason)
    finally:
        registry.close()
    if as_json:
        print_json(event.summary())
        return
    console.print(f"removed {name} (revision {event.revision}, by {event.actor})")


def attach(app: typer.Typer) -> None:
    app.add_typer(deploy_app, name="deploy")
