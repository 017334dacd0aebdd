"""``modelport canary start|status|pause|resume|abort|promote``: automated, judged rollouts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from modelport.cli.output import console, print_json, table

if TYPE_CHECKING:
    from modelport.registry.canaries import Canary
    from modelport.services.canary import CanaryService

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Name = Annotated[str, typer.Argument(help="a deployment")]

canary_app = typer.Typer(
    help="Canaries: move a deployment's traffic to a candidate in steps, each judged against "
    "the stable arm (errors, rejections, p99 latency, output shift, agreement on shadowed "
    "requests, accuracy from feedback), rolled back "
    "automatically when it is worse. A server serving the deployment runs the steps.\n\n"
    "Example:\n\n    modelport canary start checkout --candidate credit-risk:3 "
    "--steps 5,25,50,100 --interval 60s",
    no_args_is_help=True,
)


def _service() -> CanaryService:
    from modelport.registry import Registry
    from modelport.services.canary import CanaryService
    from modelport.settings import Settings

    return CanaryService(Registry(Settings()))


def _show(canary: Canary, as_json: bool) -> None:
    data = canary.summary()
    if as_json:
        print_json(data)
        return
    plan, state = data["plan"], data["state"]
    console.print(
        f"canary of {plan['candidate']} on [bold]{canary.deployment}[/] against {plan['stable']}: "
        f"{state['status']}, step {state['step_index'] + 1} of {len(plan['steps'])} "
        f"({data['candidate_percent']:g}% of the traffic)"
    )
    judged = [v for v in data["verdicts"] if "verdict" in v or "command" in v]
    if judged:
        table(
            "Steps",
            ["at", "verdict", "reasons"],
            [
                (
                    v["at"][:19].replace("T", " "),
                    v.get("verdict") or v.get("command"),
                    "; ".join(v.get("reasons", [])),
                )
                for v in judged[-10:]
            ],
        )


@canary_app.command("start")
def start(
    name: Name,
    candidate: Annotated[str, typer.Option(help="the new version, e.g. credit-risk:3")],
    steps: Annotated[
        str, typer.Option(help="the candidate's percent at each step")
    ] = "5,25,50,100",
    interval: Annotated[
        str, typer.Option(help="how long each step runs, e.g. 60s or 5min")
    ] = "60s",
    min_requests: Annotated[
        int, typer.Option(help="requests per arm before a step is judged")
    ] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Start a canary of CANDIDATE on deployment NAME (the stable arm: its heaviest now).

    Example:

        modelport canary start checkout --candidate credit-risk:3 --steps 5,25,50,100 --interval 60s
    """
    from modelport.deployments.canary import CanaryThresholds
    from modelport.deployments.rollout import parse_steps
    from modelport.services.canary import parse_interval

    plan_steps, seconds = parse_steps(steps), parse_interval(interval)
    thresholds = CanaryThresholds(min_requests=min_requests)
    _show(_service().start(name, candidate, plan_steps, seconds, thresholds=thresholds), as_json)


@canary_app.command("status")
def status(name: Name, as_json: JsonOpt = False) -> None:
    """Where NAME's canary stands, and every step's verdict.

    Example:

        modelport canary status checkout --json
    """
    _show(_service().status(name), as_json)


def _command(name: str, command: str, as_json: bool) -> None:
    _show(_service().command(name, command), as_json)  # type: ignore[arg-type]


@canary_app.command("pause")
def pause(name: Name, as_json: JsonOpt = False) -> None:
    """Hold the canary at its step (the weights stay). Example: modelport canary pause checkout"""
    _command(name, "pause", as_json)


@canary_app.command("resume")
def resume(name: Name, as_json: JsonOpt = False) -> None:
    """Run a paused canary again. Example: modelport canary resume checkout"""
    _command(name, "resume", as_json)


@canary_app.command("abort")
def abort(name: Name, as_json: JsonOpt = False) -> None:
    """Stop: the stable arm takes all the traffic again.

    Example:

        modelport canary abort checkout
    """
    _command(name, "abort", as_json)


@canary_app.command("promote")
def promote(name: Name, as_json: JsonOpt = False) -> None:
    """Promote now: the candidate becomes the stable arm (its alias moves).

    Example:

        modelport canary promote checkout
    """
    _command(name, "promote", as_json)


def attach(app: typer.Typer) -> None:
    app.add_typer(canary_app, name="canary")
