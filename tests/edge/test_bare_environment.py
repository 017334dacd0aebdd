"""The bundle on a "device": a fresh virtual environment that has NumPy and ONNX Runtime and
nothing else (no modelport, no scikit-learn, no pandas), predict.py run as a script.

The environment is made with ``venv --without-pip``; NumPy and ONNX Runtime are made
importable by a .pth file naming a directory of symlinks to just those two packages (and
NumPy's bundled libraries) in this interpreter's site-packages: ONNX Runtime's Python
package imports nothing else to load and run a graph.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import modelport
from modelport.loaded import load_model
from modelport.optimization.parity import Tolerance
from modelport.registry import Registry
from modelport.services.checking import stored_sample
from modelport.services.exporting import export_edge
from modelport.settings import Settings
from tests.edge.bundles import jsonl
from tests.services.test_optimization import fitted

pytestmark = pytest.mark.integration


def _bare_env() -> dict[str, str]:
    """This environment without anything that would point Python at our packages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The python of a venv that can import numpy and onnxruntime only."""
    root = tmp_path_factory.mktemp("device")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / "venv")],
        check=True,
        env=_bare_env(),
    )
    python = root / "venv" / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        env=_bare_env(),
    ).stdout.strip()
    ours = Path(np.__file__).resolve().parent.parent  # this interpreter's site-packages
    only = root / "only-numpy-and-onnxruntime"
    only.mkdir()
    for name in ("numpy", "numpy.libs", "onnxruntime"):
        if (ours / name).exists():
            (only / name).symlink_to(ours / name)
    Path(purelib, "edge-packages.pth").write_text(f"{only}\n")
    yield python


def _python(device: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(device), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_bare_env(),
        cwd=device.parent,  # nowhere near the source tree
        timeout=300,
    )


def test_the_device_has_numpy_and_onnxruntime_and_nothing_of_ours(device: Path) -> None:
    for module in ("sklearn", "pandas", "modelport", "scipy", "onnx"):
        result = _python(device, "-c", f"import {module}")
        assert result.returncode != 0, module
        assert "ModuleNotFoundError" in result.stderr, module
    result = _python(device, "-c", "import numpy, onnxruntime; print(onnxruntime.__version__)")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind", ["rf", "pipeline"])
def test_the_bundle_runs_on_the_device_with_the_versions_answers(
    device: Path, tmp_path: Path, kind: str
) -> None:
    registry = Registry(Settings(home=tmp_path / "home", user="tester"))
    try:
        model, frame = fitted(kind)
        modelport.register(model, "m", sample=frame, registry=registry)
        export_edge(registry, "m:1", tmp_path / "export")
        loaded = load_model(registry, "m:1")
        sample = stored_sample(registry, loaded)
        assert sample is not None
        records = sample.to_dict("records")
        expected = loaded.predict(records).tolist()
        proba = loaded.predict_proba(records)
    finally:
        registry.close()
    bundle = tmp_path / "on-device"
    shutil.copytree(tmp_path / "export", bundle)  # the folder alone is what travels
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(jsonl(sample)) + "\n")

    result = _python(device, str(bundle / "predict.py"), str(rows))

    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["prediction"] for a in answers] == expected
    assert loaded.classes is not None
    classes = [str(c) for c in loaded.classes]
    got = np.array([[a["probabilities"][c] for c in classes] for a in answers])
    assert np.abs(got - proba).max() <= Tolerance().max_abs_diff

    first_field = next(iter(records[0]))
    bad = json.dumps({**records[0], first_field: "not a number"})
    piped = _python(device, str(bundle / "predict.py"), "-", stdin=jsonl(sample)[0] + "\n" + bad)
    assert piped.returncode == 1
    first, refused = (json.loads(line) for line in piped.stdout.splitlines())
    assert first == answers[0]  # one thread: the same answer alone as in a batch of 300
    assert refused["line"] == 2 and f"'{first_field}'" in refused["error"]
