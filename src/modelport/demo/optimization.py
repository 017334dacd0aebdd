"""The demo's optimization step: the RandomForest converted to ONNX, checked against the
original on its kept training rows, timed, and served behind the same alias."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
from rich.console import Console

from modelport.demo.data import FEATURES
from modelport.demo.traffic import plain_record, running_server
from modelport.demo.training import train_forest
from modelport.loaded import load_model
from modelport.registration import register_model
from modelport.registry import Registry
from modelport.services.optimization import OptimizationReport, optimize
from modelport.settings import Settings

FOREST = "credit-forest"


def optimize_step(
    settings: Settings,
    registry: Registry,
    console: Console,
    train: pd.DataFrame,
    test: pd.DataFrame,
    api_key: str,
) -> str | None:
    """The optimized version's reference, or None when nothing beat the original."""
    console.rule("11. Optimize: the forest converted to ONNX, parity checked, same alias")
    forest = train_forest(train, test)
    original = register_model(
        registry,
        forest.model,
        FOREST,
        sample=train[FEATURES],
        metrics=forest.metrics,
        tags={"algorithm": "random_forest", "team": "risk"},
        description="RandomForest, 100 trees of depth 12",
        allow_unknown_categories=True,
    )
    registry.set_alias(original.ref, "production", reason="first forest")
    console.print(f"  {original.ref} registered (auc {forest.metrics['auc']}) → @production")
    console.print(f"  modelport optimize {FOREST}@production --register")
    report = optimize(registry, f"{FOREST}@production", register=True, repeats=3)
    _print_report(console, report)
    if report.version is None:
        console.print(f"  nothing registered: {report.reason}")
        return None
    registry.set_alias(report.version, "production", reason="optimized: same answers, faster")
    console.print(f"  {report.version} → {FOREST}@production (parent {original.ref})")

    rows = test[FEATURES].head(200)
    expected = load_model(registry, original.ref).predict(rows)
    records = [
        plain_record({str(k): v for k, v in r.items()}) for r in rows.to_dict(orient="records")
    ]
    with running_server(settings, [f"{FOREST}@production"]) as url:
        answer = httpx.post(
            f"{url}/v1/models/{FOREST}@production:predict",
            json={"instances": records},
            headers={"X-API-Key": api_key},
            timeout=60,
        )
        answer.raise_for_status()
        served = np.asarray(answer.json()["predictions"])
    same = int((served == expected).sum())
    console.print(
        f"  served as {FOREST}@production: the same label as the original forest on "
        f"{same} of {len(rows)} requests"
    )
    _prune(console, registry, str(original.ref))
    return report.version


def _prune(console: Console, registry: Registry, ref: str) -> None:
    """Pruning, reported only: fewer trees at a stated agreement, size and speed before/after."""
    console.print(f"  modelport optimize {ref} --prune 0.99 --runtime native")
    report = optimize(registry, ref, prune=0.99, runtime="native", repeats=3)
    original = next(c for c in report.candidates if c.name == "native")
    for candidate in report.candidates:
        if not candidate.compressed or candidate.speed is None or original.speed is None:
            continue
        before, after = original.speed, candidate.speed
        ratio = (before.artifact_bytes or 0) / max(after.artifact_bytes or 0, 1)
        slow, fast = before.at(1), after.at(1)
        speedup = (
            f", {slow.median_ms / max(fast.median_ms, 1e-9):.1f}x faster on one row"
            if slow is not None and fast is not None
            else ""
        )
        console.print(
            f"  {candidate.name}: {(candidate.details or {}).get('kept', '?')} of "
            f"{(candidate.details or {}).get('total', '?')} trees agree with all of them on "
            f"{candidate.agreement:.1%} of the kept rows (target 99%): {ratio:.1f}x smaller"
            f"{speedup}; {'kept' if candidate.passed else 'refused'} (not registered here)"
        )


def _print_report(console: Console, report: OptimizationReport) -> None:
    for candidate in report.candidates:
        speed = candidate.speed
        cells = []
        for size in (1, 64, 10_000):
            batch = speed.at(size) if speed else None
            cells.append(f"{'-' if batch is None else f'{batch.median_ms:.3g}':>7} ms @{size}")
        parity = candidate.parity
        check = (
            f"max diff {parity.max_abs_diff:.2g}, {parity.label_changes:.1%} labels changed"
            if parity
            else (candidate.note or "the original")
        )
        mark = "*" if candidate.name == report.chosen.name else " "
        console.print(f"  {mark} {candidate.name:<12} {'  '.join(cells)}  {check}")
    console.print(f"  chosen: {report.chosen.name} ({report.reason})")
