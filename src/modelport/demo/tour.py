"""``modelport demo``: the whole product on embedded defaults, step by step.

Each capability of modelport appears here; later capabilities add their steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from modelport.demo.data import FEATURES, credit_data
from modelport.demo.training import split, train_boosted, train_logistic
from modelport.errors import ValidationError
from modelport.loaded import load_model
from modelport.registration import register_model
from modelport.registry import Registry
from modelport.settings import Settings

MODEL = "credit-risk"


@dataclass
class DemoResult:
    """What the demo did, for tests and for later steps."""

    versions: list[int] = field(default_factory=list)
    production: int | None = None
    output_dir: Path | None = None


def run_demo(settings: Settings, console: Console, *, rows: int = 20_000) -> DemoResult:
    result = DemoResult()
    home = settings.resolved_home()
    result.output_dir = home / "demo"
    result.output_dir.mkdir(parents=True, exist_ok=True)
    console.print(Panel.fit(f"modelport demo — home: {home}", style="bold cyan"))

    console.rule("1. Data")
    data = credit_data(rows, seed=7)
    train, test = split(data)
    sample_path = result.output_dir / "train.parquet"
    train.to_parquet(sample_path, index=False)
    console.print(
        f"{len(data):,} synthetic loan applications, {len(FEATURES)} features, "
        f"default rate {data['default'].mean():.1%}; training sample written to {sample_path}"
    )

    console.rule("2. Train and register two versions")
    registry = Registry(settings)
    try:
        logistic = train_logistic(train, test)
        v1 = register_model(
            registry,
            logistic.model,
            MODEL,
            sample=train[FEATURES],
            metrics=logistic.metrics,
            tags={"algorithm": "logistic_regression", "team": "risk"},
            description="Logistic regression baseline",
            training_data=sample_path,
        )
        boosted = train_boosted(train, test)
        v2 = register_model(
            registry,
            boosted.model,
            MODEL,
            sample=train[FEATURES],
            metrics=boosted.metrics,
            tags={"algorithm": "hist_gradient_boosting", "team": "risk"},
            description="Gradient boosting challenger",
            parent=v1.version,
            training_data=sample_path,
        )
        result.versions = [v1.version, v2.version]
        for v in (v1, v2):
            console.print(
                f"  {v.ref}  flavor={v.flavor}  auc={v.metrics['auc']}  "
                f"sha256={v.artifact_sha256[:12]}  features={len(v.signature['inputs'])}"
                + (f"  parent={v.parent_version}" if v.parent_version else "")
            )

        console.rule("3. Aliases: staging, promote, rollback")
        steps = [
            registry.set_alias(v1.ref, "production", reason="first model"),
            registry.set_alias(v2.ref, "staging", reason="challenger"),
            registry.promote(f"{MODEL}@staging", "production", reason=f"auc {v2.metrics['auc']}"),
            registry.rollback(MODEL, "production", reason="demo: practise the rollback"),
            registry.promote(f"{MODEL}@staging", "production", reason="rollback drill done"),
        ]
        for e in steps:
            console.print(
                f"  {e.action:<8} {e.name}@{e.alias}: "
                f"{e.from_version} → {e.to_version}  ({e.reason})"
            )
        result.production = registry.resolve(f"{MODEL}@production").version

        console.rule("4. Load by alias and predict (input validated against the signature)")
        model = load_model(registry, f"{MODEL}@production")
        applicants = test[FEATURES].head(3).to_dict(orient="records")
        proba = model.predict_proba(applicants)[:, 1]
        for applicant, p in zip(applicants, proba, strict=True):
            console.print(
                f"  income {applicant['annual_income']:>9,.0f}  score {applicant['credit_score']}"
                f"  purpose {applicant['purpose']:<18} → P(default) = {p:.3f}"
            )
        bad = {**applicants[0], "annual_income": "lots", "purpose": "yacht"}
        bad.pop("credit_score")
        bad["incme"] = 1
        try:
            model.predict([bad])
        except ValidationError as exc:
            console.print("  A careless request is refused, naming every bad field:")
            for problem in exc.problems:
                console.print(f"    - {problem.describe()}")
    finally:
        registry.close()

    console.rule("Done")
    console.print(
        "Try: [bold]modelport models list[/], "
        "[bold]modelport models show credit-risk@production[/],"
        " [bold]modelport history credit-risk[/]"
    )
    return result
