"""Pruning and distillation of the bench/serving forest: size, speed and fidelity, before and after.

Registers the reference RandomForest of bench/serving (100 trees, depth 10, 20,000 rows of
20 features) and a LightGBM model of the same data, runs ``optimize --prune`` and
``optimize --distill`` on each through the service (one run, all candidates timed
together), and writes COMPRESS.md next to this file.

    PYTHONPATH=src python bench/optimize/compress.py [--prune 0.99] [--distill 0.97]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prune", type=float, default=0.99)
    parser.add_argument("--distill", type=float, default=0.97)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import lightgbm as lgb
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    import modelport
    from modelport.registry import Registry
    from modelport.services.optimization import optimize
    from modelport.settings import Settings

    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    models = {
        "rf": RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0).fit(X, y),
        "lgbm": lgb.LGBMClassifier(n_estimators=300, verbose=-1).fit(X, y),
    }
    home = Path(tempfile.mkdtemp(prefix="modelport-bench-")) / "home"
    registry = Registry(Settings(home=home, user="bench"))
    lines = [
        "# Pruning and distillation: size, speed and fidelity before and after",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"(load average {_load()}); `python bench/optimize/compress.py` (targets: prune "
        f"{args.prune}, distill {args.distill}; {args.repeats} timed calls per batch size).",
        "Fidelity: label agreement with the original, on the 2,000 stored rows for pruning "
        "and on 500 held-out stored rows (never trained on) for distillation.",
        "",
        "| model | candidate | passed | fidelity | artifact KiB | ms @1 | ms @64 "
        "| rows/s @10k | what | seconds |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    try:
        for name, model in models.items():
            modelport.register(model, name, sample=X, registry=registry)
            for option in ({"prune": args.prune}, {"distill": args.distill}):
                started = time.perf_counter()
                report = optimize(registry, f"{name}:1", repeats=args.repeats, **option)
                seconds = time.perf_counter() - started
                for candidate in report.candidates:
                    if candidate.name == "native" and "distill" in option:
                        continue  # once per model is enough
                    lines.append(_row(name, candidate, seconds))
    finally:
        registry.close()
    out = Path(__file__).with_name("COMPRESS.md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _row(model: str, candidate: Any, seconds: float) -> str:
    speed = candidate.speed
    cells = []
    for size in (1, 64):
        batch = speed.at(size) if speed else None
        cells.append("-" if batch is None else f"{batch.median_ms:.3f}")
    large = speed.at(10_000) if speed else None
    size_bytes = speed.artifact_bytes if speed else None
    details = candidate.details or {}
    what = (
        f"{details['kept']}/{details['total']} trees"
        if "kept" in details
        else details.get("student", candidate.note or "")
    )
    fidelity = 1.0 if candidate.name == "native" else candidate.agreement
    return (
        f"| {model} | {candidate.name} | {'yes' if candidate.passed else 'no'} "
        f"| {'-' if fidelity is None else f'{fidelity:.4f}'} "
        f"| {'-' if size_bytes is None else f'{size_bytes / 1024:,.1f}'} | {cells[0]} | "
        f"{cells[1]} | {'-' if large is None else f'{large.rows_per_second:,.0f}'} | {what} "
        f"| {seconds:.1f} |"
    )


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
