"""``modelport experiment report``: A/B statistics of a deployment's arms, safe to peek at."""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.cli.output import console, print_json, table

experiment_app = typer.Typer(
    help="A/B experiments on deployments: per arm the metric with an always-valid confidence "
    "sequence, the difference to the control, latency, a sample-ratio-mismatch check and a "
    "verdict.\n\nExample:\n\n    modelport experiment report checkout --json",
    no_args_is_help=True,
)


@experiment_app.command("report")
def report(
    name: Annotated[str, typer.Argument(help="a deployment with two arms or more")],
    since: Annotated[
        str | None, typer.Option(help="start: ISO date/time (UTC) or a duration back, e.g. 7d")
    ] = None,
    alpha: Annotated[float, typer.Option(help="error rate of the verdict")] = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The A/B report of deployment NAME from its logged traffic and feedback.

    The first arm is the control. Classifiers are compared on accuracy, regressors on
    absolute error. The intervals stay valid however often you look (confidence
    sequences); a verdict is `winner`, `loser`, `inconclusive`, or `invalid` when the
    traffic split does not match the weights (sample-ratio mismatch).

    Example:

        modelport experiment report checkout --since 7d --json
    """
    from modelport.monitoring.durations import parse_time
    from modelport.predictions.reader import PredictionLogReader
    from modelport.registry import Registry
    from modelport.services.experiments import deployment_experiment
    from modelport.settings import Settings

    settings = Settings()
    registry = Registry(settings)
    try:
        result = deployment_experiment(
            registry,
            PredictionLogReader(settings.resolved_log_uri()),
            name,
            since=parse_time(since),
            alpha=alpha,
        )
    finally:
        registry.close()
    data = result.to_dict()
    if as_json:
        print_json(data)
        return
    table(
        f"Experiment {name}: {data['verdict']}",
        ["arm", "requests", "labelled", "metric", "interval", "p50 ms", "p99 ms"],
        [
            (
                arm["ref"],
                arm["requests"],
                arm["labelled"],
                _num(arm["metric"]),
                f"{_num(arm['interval']['lower'])} .. {_num(arm['interval']['upper'])}",
                _num(arm["latency_ms"]["p50"]),
                _num(arm["latency_ms"]["p99"]),
            )
            for arm in data["arms"]
        ],
    )
    srm = data["srm_p_value"]
    console.print(
        f"sample-ratio mismatch p = {_num(srm)}" + (" (SRM: invalid)" if data.get("srm") else "")
    )


def _num(value: object) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def attach(app: typer.Typer) -> None:
    app.add_typer(experiment_app, name="experiment")
