from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from modelport.demo.data import FEATURES, credit_data
from modelport.demo.tour import run_demo
from modelport.registry import Registry
from modelport.settings import Settings


def test_data_is_deterministic_and_shift_moves_it() -> None:
    a, b = credit_data(2000, seed=3), credit_data(2000, seed=3)
    assert a.equals(b)
    assert set(FEATURES) < set(a.columns) and 0.1 < a["default"].mean() < 0.4
    shifted = credit_data(2000, seed=3, shift=True)
    assert shifted["annual_income"].median() < 0.85 * a["annual_income"].median()
    assert "crypto" in set(shifted["purpose"]) and "crypto" not in set(a["purpose"])


@pytest.mark.integration
def test_demo_runs_the_whole_product(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    console = Console(record=True, width=120)
    result = run_demo(settings, console, rows=3000)
    assert result.versions == [1, 2]
    text = console.export_text()
    assert "refused" in text and "'incme'" in text
    assert "HTTP 422" in text and "1200 accepted" in text
    assert "drift detected" in text and "annual_income" in text
    assert "alert new-categories fired" in text
    assert "rows rejected" in text
    assert "each user always gets the same arm" in text
    assert "experiment report checkout: verdict" in text
    # security on by default: a missing key, a wrong role and a runaway client were refused
    assert {401, 403, 429} <= set(result.refusals), result.refusals
    assert "HTTP 401" in text and "HTTP 403" in text and "HTTP 429" in text
    assert "modelport doctor: verdict" in text
    # the forest, optimized, answers like the original behind the same alias
    assert result.optimized is not None and result.optimized.startswith("credit-forest:")
    assert "the same label as the original forest on 200 of 200 requests" in text
    assert "pruned" in text and "trees agree with all of them on" in text
    # a container build context for production, with manifests, dashboards and rules
    package = settings.resolved_home() / "package" / "credit-risk"
    assert (package / "Dockerfile").exists() and list((package / "k8s").glob("*.yaml"))
    assert list((package / "grafana").glob("*.json")) and "buildah bud" in text
    # the optimized forest as an edge bundle, its predict.py run as a script
    bundle = settings.resolved_home() / "edge" / "credit-forest"
    assert (bundle / "predict.py").exists() and (bundle / "model.onnx").exists()
    assert '"prediction"' in text and "exit status 1 (3 rows answered" in text
    assert all(key not in text for key in result.keys.values())  # keys are shown cut short
    # the alert rolled production back from 2 to 1
    assert result.production == 1
    registry = Registry(settings)
    assert [e.action for e in registry.history("credit-risk", "production")] == [
        "set",
        "promote",
        "rollback",
        "promote",
        "rollback",
    ]
    registry.close()
    out = settings.resolved_home() / "demo"
    for name in ("monitor.html", "drift.html", "scores.parquet", "alerts.yaml"):
        assert (out / name).exists(), name
