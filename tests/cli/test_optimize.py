"""``modelport optimize``: the JSON object scripts read, the table, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import modelport
from modelport.cli import app
from modelport.registry import Registry
from modelport.settings import Settings
from tests.optimization.test_conversion import mixed_frame, mixed_pipeline

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "optimizer")
    settings = Settings()
    frame, labels = mixed_frame(rows=200)
    modelport.register(mixed_pipeline().fit(frame, labels), "credit", sample=frame,
                       settings=settings)  # fmt: skip
    return settings


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_register_json_prints_one_object_with_version_parity_speed(home: Settings) -> None:
    code, out = run("optimize", "credit:1", "--runtime", "onnx", "--register", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["version"] == "credit:2" and data["source"] == "credit:1"
    assert data["parity"]["passed"] and data["parity"]["label_changes"] == 0.0
    assert data["speed"]["onnx"]["batches"]["10000"]["rows_per_second"] > 0
    registry = Registry(home)
    try:
        assert registry.get("credit:2").tags["optimized_from"] == "credit:1"
    finally:
        registry.close()


def test_the_table_names_the_candidates_and_the_choice(home: Settings) -> None:
    code, out = run("optimize", "credit:1", "--traffic", "online")
    assert code == 0, out
    assert "native" in out and "onnx" in out and "chosen:" in out


def test_a_zero_tolerance_refuses_and_registers_nothing(home: Settings) -> None:
    code, out = run(
        "optimize", "credit:1", "--runtime", "onnx", "--tolerance", "0", "--register", "--json"
    )
    assert code == 1
    assert "disagrees" in out and "nothing was registered" in out
    code, out = run("optimize", "credit:2", "--json")
    assert code == 1 and "credit:2" in out


def test_a_bad_option_and_the_help(home: Settings) -> None:
    code, out = run("optimize", "credit:1", "--runtime", "gpu")
    assert code == 1 and "--runtime" in out
    code, out = run("optimize", "--help")
    assert code == 0 and "modelport optimize credit-risk:3" in out


def test_a_sample_file_is_used(home: Settings, tmp_path: Path) -> None:
    frame, _ = mixed_frame(rows=40, seed=1)
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    code, out = run("optimize", "credit:1", "--runtime", "onnx", "--sample", str(path), "--json")
    assert code == 0, out
    assert json.loads(out)["parity"]["rows"] == 40


@pytest.fixture
def forest_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "optimizer")
    settings = Settings()
    frame, labels = mixed_frame(rows=1000)
    forest = RandomForestClassifier(n_estimators=80, min_samples_leaf=5, random_state=0)
    model = Pipeline([("prep", mixed_pipeline().steps[0][1]), ("forest", forest)])
    modelport.register(model.fit(frame, labels), "forest", sample=frame, settings=settings)
    return settings


def test_distill_and_prune_register_from_the_command_line(forest_home: Settings) -> None:
    code, out = run("optimize", "forest:1", "--distill", "0.9", "--register", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["version"] == "forest:2" and data["candidate"].startswith("distilled")
    after = data["compression"]["after"][data["candidate"]]
    assert after["passed"] and after["fidelity"] >= 0.9
    code, out = run("optimize", "forest:1", "--prune", "0.99", "--register", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["version"] == "forest:3" and data["candidate"].startswith("pruned")
    details = next(c for c in data["candidates"] if c["name"] == "pruned")["details"]
    assert details["kept"] <= details["total"] == 80
    # the table says what each compression did
    code, out = run("optimize", "forest:1", "--distill", "0.9", "--runtime", "native")
    assert code == 0, out
    assert "distilled: GradientBoostingClassifier" in out and "held-out rows" in out
    code, out = run("optimize", "forest:1", "--distill", "1.0", "--register", "--json")
    assert code == 1 and "nothing was registered" in out


def test_a_pytorch_version_optimizes_to_onnx_with_clean_json(home: Settings) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    import numpy as np

    from modelport.flavors.pytorch import TorchModel

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    sample = np.random.default_rng(0).normal(size=(100, 3))
    model = TorchModel(net, classes=["no", "yes"], outputs="logits")
    threads = torch.get_num_threads()
    try:
        modelport.register(model, "net", sample=sample, settings=home)
        # the exporter's own chatter must not reach stdout: scripts parse it as one object
        code, out = run("optimize", "net:1", "--runtime", "onnx", "--register", "--json")
    finally:
        torch.set_num_threads(threads)
    assert code == 0, out
    data = json.loads(out)
    assert data["version"] == "net:2" and data["parity"]["passed"]
    registry = Registry(home)
    try:
        assert registry.get("net:2").flavor == "onnx"
    finally:
        registry.close()
