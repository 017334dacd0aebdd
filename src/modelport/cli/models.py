"""``modelport models list|show|search`` and ``modelport register``."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelport.cli.output import console, print_json, table

if TYPE_CHECKING:
    from modelport.registry import Registry
    from modelport.settings import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

models_app = typer.Typer(
    help="List, show and search registered models.\n\nExample:\n\n    modelport models list",
    no_args_is_help=True,
)


def _registry(settings: Settings | None = None) -> Registry:
    # imported here: SQLAlchemy and Alembic are a large share of a command's start-up
    from modelport.registry import Registry
    from modelport.settings import Settings

    return Registry(settings or Settings())


@models_app.command("list")
def list_models(as_json: JsonOpt = False) -> None:
    """Every model with its latest version and aliases.

    Example:

        modelport models list --json
    """
    registry = _registry()
    infos = registry.list_models()
    if as_json:
        print_json([i.summary() for i in infos])
        return
    if not infos:
        console.print("No models registered yet. Try: modelport demo")
        return
    table(
        "Models",
        ["name", "latest", "versions", "aliases", "created"],
        [
            (
                i.name,
                i.latest_version,
                i.version_count,
                ", ".join(f"{a}→{v}" for a, v in i.aliases.items()),
                i.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for i in infos
        ],
    )


@models_app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="name (all versions), name:3 or name@alias")],
    as_json: JsonOpt = False,
) -> None:
    """A model's versions, or one version in detail (signature, metrics, lineage).

    Example:

        modelport models show credit-risk@production
    """
    from modelport.reference import parse

    registry = _registry()
    parsed = parse(ref)
    if parsed.is_latest and ":" not in ref and "@" not in ref:
        versions = registry.list_versions(parsed.name)
        if as_json:
            print_json([v.summary() for v in versions])
            return
        table(
            f"{parsed.name}",
            ["version", "flavor", "aliases", "metrics", "tags", "sha256", "created", "by"],
            [
                (
                    v.version,
                    v.flavor,
                    ", ".join(v.aliases),
                    " ".join(f"{k}={m:.4g}" for k, m in v.metrics.items()),
                    " ".join(f"{k}={t}" for k, t in v.tags.items()),
                    v.artifact_sha256[:12],
                    v.created_at.strftime("%Y-%m-%d %H:%M"),
                    v.created_by,
                )
                for v in versions
            ],
        )
        return
    version = registry.get(parsed)
    if as_json:
        data = version.summary()
        data["signature"] = version.signature
        print_json(data)
        return
    summary = version.summary()
    summary.pop("features")
    table(f"{version.ref}", ["field", "value"], [(k, v) for k, v in summary.items()])
    if version.signature:
        table(
            "signature",
            ["feature", "kind", "dtype", "nullable", "categories / range"],
            [
                (
                    f["name"],
                    f["kind"],
                    f["dtype"],
                    "yes" if f["nullable"] else "no",
                    ", ".join(map(str, f["categories"][:6]))
                    + (" ..." if len(f["categories"]) > 6 else "")
                    if f.get("categories")
                    else (f"{f['min']:.4g} .. {f['max']:.4g}" if f.get("min") is not None else ""),
                )
                for f in version.signature["inputs"]
            ],
        )


@models_app.command("search")
def search(
    text: Annotated[str | None, typer.Argument(help="part of the model name")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="KEY=VALUE; repeat for several")
    ] = None,
    flavor: Annotated[
        str | None, typer.Option(help="sklearn, xgboost, lightgbm, onnx, python")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Versions by name, tags and flavor.

    Example:

        modelport models search credit --tag team=risk
    """
    tags = _pairs(tag or [], "--tag")
    versions = _registry().search(text, tags=tags, flavor=flavor)
    if as_json:
        print_json([v.summary() for v in versions])
        return
    table(
        "Matching versions",
        ["model", "version", "flavor", "aliases", "tags"],
        [
            (
                v.name,
                v.version,
                v.flavor,
                ", ".join(v.aliases),
                " ".join(f"{k}={t}" for k, t in v.tags.items()),
            )
            for v in versions
        ],
    )


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=option)
        out[key] = value
    return out


class Task(enum.StrEnum):
    """What ``--task`` may say a model is."""

    classification = "classification"
    regression = "regression"


def register(
    source: Annotated[
        str,
        typer.Argument(
            help="model file (.skops, .onnx, .ubj, .txt, .joblib), MLflow model folder, "
            "models:/NAME/VERSION, models:/NAME@alias or runs:/RUN_ID/PATH",
            metavar="PATH",
        ),
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="model name")],
    sample: Annotated[
        Path | None,
        typer.Option(
            help="training input sample (.parquet/.csv/.jsonl) for signature and profile; "
            "default for MLflow models: their input example"
        ),
    ] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", help="NAME=NUMBER")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE")] = None,
    description: Annotated[str | None, typer.Option(help="free text")] = None,
    parent: Annotated[
        int | None, typer.Option(help="the version this one was derived from")
    ] = None,
    training_data: Annotated[
        Path | None,
        typer.Option(
            help="training data file, hashed (sha256) into the lineage",
            exists=True,  # refused before the model is read, not after it was verified
            dir_okay=False,
        ),
    ] = None,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="the model is yours: allow pickle / unknown skops types / MLflow pyfunc code "
            "(also MODELPORT_TRUST_PICKLES=1)",
        ),
    ] = False,
    task: Annotated[
        Task | None,
        typer.Option(help="refuse the model unless it loads as this: classification or regression"),
    ] = None,
    allow_unknown_categories: Annotated[
        bool,
        typer.Option(
            "--allow-unknown-categories",
            help="the model copes with categories it never saw, in every categorical column",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register a model file, or an MLflow model, as the next version of NAME.

    Unknown categories are refused at serving unless the model copes with them: a
    scikit-learn pipeline's encoders are inspected (OneHotEncoder(handle_unknown="ignore")
    ...); --allow-unknown-categories says so for models that cannot be inspected. Drift
    still counts such values as unseen.

    MLflow models (URIs read MLFLOW_TRACKING_URI) keep their native flavor when modelport
    has it (sklearn, xgboost, lightgbm, onnx), else come in as pyfunc models (the mlflow
    extra, and --trust: loading runs their code); their signature and input example are
    used, and the run id and URI are recorded as mlflow.* tags.

    Example:

        modelport register model.skops --name credit-risk --sample train.parquet --metric auc=0.91

        modelport register model.ubj -n risk-xgb --sample train.parquet --allow-unknown-categories

        MLFLOW_TRACKING_URI=http://mlflow:5000 modelport register models:/credit/3 -n credit
    """
    metrics_raw = _pairs(metric or [], "--metric")
    try:
        metrics = {k: float(v) for k, v in metrics_raw.items()}
    except ValueError as exc:
        raise typer.BadParameter(
            f"metric values must be numbers ({exc})", param_hint="--metric"
        ) from exc
    tags = _pairs(tag or [], "--tag")
    # imported here: reading a model imports its library (scikit-learn, XGBoost, ...)
    from modelport.mlflow_models import is_mlflow_source, open_mlflow_model
    from modelport.model_files import read_model_file
    from modelport.registration import register_model
    from modelport.settings import Settings
    from modelport.tabular import read_table

    settings = Settings()
    trusted = trust or settings.trust_pickles
    frame = read_table(sample) if sample else None
    registry = _registry(settings)
    options: dict[str, Any] = {
        "metrics": metrics,
        "description": description,
        "parent": parent,
        "training_data": training_data,
        "allow_unknown_categories": allow_unknown_categories,
        "task": task.value if task else None,
    }
    if is_mlflow_source(source):
        # read here, at the entry point: MLflow's own variable, not a modelport setting
        tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
        with open_mlflow_model(source, trusted=trusted, tracking_uri=tracking_uri) as imported:
            version = register_model(
                registry,
                imported.model,
                name,
                sample=frame if frame is not None else imported.sample,
                tags={**imported.tags, **tags},
                declared=imported.declared,
                **options,
            )
    else:
        model = read_model_file(Path(source), trusted=trusted)
        version = register_model(registry, model, name, sample=frame, tags=tags, **options)
    if as_json:
        print_json(version.summary())
        return
    console.print(
        f"Registered [bold]{version.ref}[/] "
        f"({version.flavor}, sha256 {version.artifact_sha256[:12]})"
    )


def attach(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.command("register")(register)
