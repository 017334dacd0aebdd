from __future__ import annotations

from pathlib import Path

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


def test_demo_registers_versions_and_moves_aliases(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    console = Console(record=True, width=120)
    result = run_demo(settings, console, rows=3000)
    assert result.versions == [1, 2] and result.production == 2
    text = console.export_text()
    assert "refused" in text and "'yacht'" in text
    registry = Registry(settings)
    assert [e.action for e in registry.history("credit-risk", "production")] == [
        "set",
        "promote",
        "rollback",
        "promote",
    ]
    registry.close()
