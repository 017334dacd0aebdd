"""Reading MLflow model folders: the MLmodel file, native flavor files, signatures, examples.

The folders are written here by hand, in the layout MLflow writes, so that these tests show
what modelport reads without MLflow. What MLflow itself writes is covered by
tests/cli/test_register_mlflow.py.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from modelport.errors import DataError, InvalidArgument, ModelFileError, UntrustedArtifactError
from modelport.mlflow_models import is_mlflow_source, open_mlflow_model, read_mlmodel_folder
from modelport.registration import register_model
from modelport.registry import Registry

COLUMNS = [
    {"type": "double", "name": "a", "required": True},
    {"type": "long", "name": "n", "required": False},
    {"type": "string", "name": "city", "required": True},
]


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=40),
            "n": rng.integers(0, 5, size=40),
            "city": rng.choice(["paris", "rome", "oslo"], size=40),
        }
    )


def _write_folder(
    folder: Path,
    flavors: dict[str, Any],
    *,
    inputs: Any = COLUMNS,
    example: Any = None,
    example_type: str = "dataframe",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec: dict[str, Any] = {"flavors": flavors, "run_id": "abc123", "mlflow_version": "3.17.2"}
    if inputs is not None:
        spec["signature"] = {"inputs": json.dumps(inputs), "outputs": None, "params": None}
    if example is not None:
        (folder / "input_example.json").write_text(json.dumps(example))
        spec["saved_input_example_info"] = {
            "artifact_path": "input_example.json",
            "type": example_type,
            "pandas_orient": "split",
        }
    (folder / "MLmodel").write_text(yaml.safe_dump(spec))
    return folder


@pytest.fixture
def sklearn_folder(tmp_path: Path) -> Path:
    """What ``mlflow.sklearn.save_model(..., serialization_format="skops")`` writes."""
    import skops.io

    x = _frame()[["a", "n"]]
    clf = LogisticRegression().fit(x, (x["a"] > 0).astype(int))
    folder = tmp_path / "sk"
    folder.mkdir()
    skops.io.dump(clf, folder / "model.skops")
    head = x.head(3)
    return _write_folder(
        folder,
        {
            "sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"},
            "python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.skops"},
        },
        inputs=COLUMNS[:2],
        example={"columns": list(head.columns), "data": head.to_numpy().tolist()},
    )


def test_native_sklearn_with_signature_example_and_lineage(sklearn_folder: Path) -> None:
    read = read_mlmodel_folder(sklearn_folder)
    assert read.mlflow_flavor == "sklearn"
    assert type(read.model).__name__ == "LogisticRegression"
    assert read.tags == {
        "mlflow.model_uri": sklearn_folder.resolve().as_uri(),
        "mlflow.flavor": "sklearn",
        "mlflow.run_id": "abc123",
    }
    assert read.declared is not None
    assert [(f.name, f.kind, f.dtype, f.nullable) for f in read.declared.inputs] == [
        ("a", "float", "float64", False),
        ("n", "integer", "int64", True),  # required: false
    ]
    assert list(read.sample.columns) == ["a", "n"] and len(read.sample) == 3


def test_the_declared_signature_wins_over_a_narrow_example(
    tmp_path: Path, registry: Registry
) -> None:
    """Three example rows of strings are not every category: MLflow's 'string' stays free text."""
    import skops.io
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    x = _frame()
    pipe = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["city"]), remainder="passthrough"
        ),
        LogisticRegression(),
    ).fit(x, (x["a"] > 0).astype(int))
    folder = tmp_path / "pipe"
    folder.mkdir()
    skops.io.dump(pipe, folder / "model.skops")
    head = x.head(2)
    _write_folder(
        folder,
        {"sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"}},
        example={"columns": list(head.columns), "data": head.astype(object).to_numpy().tolist()},
    )
    read = read_mlmodel_folder(folder, trusted=True)
    version = register_model(
        registry, read.model, "p", sample=read.sample, declared=read.declared, tags=read.tags
    )
    assert version.signature is not None
    city = version.signature["inputs"][2]
    assert (city["name"], city["kind"], city["categories"]) == ("city", "string", None)
    assert version.signature["outputs"]["classes"] == [0, 1]
    assert version.tags["mlflow.run_id"] == "abc123"


def test_a_tensor_signature_and_an_ndarray_example(tmp_path: Path) -> None:
    import skops.io

    x = np.random.default_rng(0).normal(size=(30, 4))
    folder = tmp_path / "arr"
    folder.mkdir()
    skops.io.dump(LogisticRegression().fit(x, x[:, 0] > 0), folder / "model.skops")
    _write_folder(
        folder,
        {"sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"}},
        inputs=[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}],
        example={"inputs": x[:2].tolist()},
        example_type="ndarray",
    )
    read = read_mlmodel_folder(folder)
    assert read.declared is not None
    assert read.declared.input_kind == "ndarray"
    assert read.declared.names == ["f0", "f1", "f2", "f3"]
    np.testing.assert_array_equal(read.sample, x[:2])


def test_a_signature_modelport_cannot_enforce_is_left_to_the_sample(sklearn_folder: Path) -> None:
    spec = yaml.safe_load((sklearn_folder / "MLmodel").read_text())
    spec["signature"]["inputs"] = json.dumps([{"type": "binary", "name": "blob"}])
    (sklearn_folder / "MLmodel").write_text(yaml.safe_dump(spec))
    assert read_mlmodel_folder(sklearn_folder).declared is None


def test_a_pickled_sklearn_model_needs_trust(tmp_path: Path) -> None:
    x = _frame()[["a"]]
    folder = tmp_path / "pkl"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps(LogisticRegression().fit(x, x["a"] > 0)))
    _write_folder(
        folder,
        {"sklearn": {"pickled_model": "model.pkl", "serialization_format": "cloudpickle"}},
        inputs=None,
    )
    with pytest.raises(UntrustedArtifactError) as caught:
        read_mlmodel_folder(folder)
    assert "pickle" in caught.value.message and "--trust" in (caught.value.hint or "")
    # trusted, it is read, and the sklearn flavor then stores it with skops
    assert type(read_mlmodel_folder(folder, trusted=True).model).__name__ == "LogisticRegression"


def test_native_xgboost_and_lightgbm_files(tmp_path: Path) -> None:
    import lightgbm
    import xgboost

    x = _frame()[["a", "n"]]
    y = (x["a"] > 0).astype(int)
    folder = tmp_path / "xgb"
    folder.mkdir()
    xgboost.XGBClassifier(n_estimators=3).fit(x, y).save_model(folder / "model.json")
    _write_folder(folder, {"xgboost": {"data": "model.json", "model_format": "json"}})
    assert type(read_mlmodel_folder(folder).model).__name__ == "XGBClassifier"
    folder = tmp_path / "lgb"
    folder.mkdir()
    booster = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(x, y), 3)
    booster.save_model(folder / "model.lgb")
    _write_folder(folder, {"lightgbm": {"data": "model.lgb"}})
    assert type(read_mlmodel_folder(folder).model).__name__ == "Booster"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("no-mlmodel", "has no MLmodel file"),
        ("not-yaml", "is not valid YAML"),
        ("no-flavors", "has no 'flavors' mapping"),
        ("file-missing", "which the model folder does not have"),
        ("file-outside", "names a file outside the folder"),
        ("unknown-flavor", "has no flavor modelport can load"),
        ("bad-example", "is not JSON"),
    ],
)
def test_a_damaged_folder_is_one_clear_error(
    sklearn_folder: Path, damage: str, expected: str
) -> None:
    mlmodel = sklearn_folder / "MLmodel"
    spec = yaml.safe_load(mlmodel.read_text())
    if damage == "no-mlmodel":
        mlmodel.unlink()
    elif damage == "not-yaml":
        mlmodel.write_text("flavors: [unclosed\n  : :")
    elif damage == "no-flavors":
        mlmodel.write_text("just a string\n")
    elif damage == "file-missing":
        (sklearn_folder / "model.skops").unlink()
    elif damage == "file-outside":
        spec["flavors"]["sklearn"]["pickled_model"] = "../../etc/passwd"
        mlmodel.write_text(yaml.safe_dump(spec))
    elif damage == "unknown-flavor":
        mlmodel.write_text(yaml.safe_dump({"flavors": {"keras": {"data": "m.keras"}}}))
    elif damage == "bad-example":
        (sklearn_folder / "input_example.json").write_text("{not json")
    with pytest.raises(ModelFileError) as caught:
        read_mlmodel_folder(sklearn_folder)
    assert expected in caught.value.message
    assert caught.value.hint


def test_sources(sklearn_folder: Path, tmp_path: Path) -> None:
    assert is_mlflow_source("models:/credit/3")
    assert is_mlflow_source("models:/credit@production")
    assert is_mlflow_source("runs:/0123/model")
    assert is_mlflow_source(str(sklearn_folder))
    assert not is_mlflow_source(str(sklearn_folder / "model.skops"))
    with pytest.raises(DataError, match="no such MLflow model folder"):
        read_mlmodel_folder(tmp_path / "missing")


def test_a_uri_without_a_tracking_uri() -> None:
    with (
        pytest.raises(InvalidArgument, match="MLFLOW_TRACKING_URI"),
        open_mlflow_model("models:/credit/3"),
    ):
        pass


def test_a_native_folder_reads_without_mlflow(sklearn_folder: Path) -> None:
    """With ``mlflow`` unimportable, as without the extra, a native flavor still reads."""
    code = (
        "import sys; sys.modules['mlflow'] = None\n"
        "from modelport.mlflow_models import read_mlmodel_folder\n"
        f"m = read_mlmodel_folder(__import__('pathlib').Path({str(sklearn_folder)!r}))\n"
        "print(type(m.model).__name__, 'mlflow' in [n.split('.')[0] for n in sys.modules if "
        "sys.modules[n] is not None])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["LogisticRegression", "False"]


def test_a_pyfunc_without_mlflow_names_the_extra(tmp_path: Path) -> None:
    folder = _write_folder(
        tmp_path / "py", {"python_function": {"loader_module": "mlflow.pyfunc.model"}}
    )
    code = (
        "import sys; sys.modules['mlflow'] = None\n"
        "from modelport.errors import MissingExtraError\n"
        "from modelport.mlflow_models import read_mlmodel_folder\n"
        "try:\n"
        f"    read_mlmodel_folder(__import__('pathlib').Path({str(folder)!r}), trusted=True)\n"
        "except MissingExtraError as exc:\n"
        "    print(exc.hint)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "modelport[mlflow]" in done.stdout


def test_native_onnx_file(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from skl2onnx import to_onnx

    x = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    folder = tmp_path / "onnx"
    folder.mkdir()
    onnx_model = to_onnx(LogisticRegression().fit(x, x[:, 0] > 0), x[:1])
    (folder / "model.onnx").write_bytes(onnx_model.SerializeToString())
    _write_folder(folder, {"onnx": {"data": "model.onnx"}}, inputs=None)
    read = read_mlmodel_folder(folder)
    assert (read.mlflow_flavor, type(read.model).__name__) == ("onnx", "ModelProto")


def test_a_uri_without_mlflow_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['mlflow'] = None\n"
        "from modelport.errors import MissingExtraError\n"
        "from modelport.mlflow_models import open_mlflow_model\n"
        "try:\n"
        "    with open_mlflow_model('models:/m/1', tracking_uri='http://mlflow:5000'):\n"
        "        pass\n"
        "except MissingExtraError as exc:\n"
        "    print(exc.hint)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "modelport[mlflow]" in done.stdout


def test_messages_show_no_credentials_of_the_tracking_uri() -> None:
    from modelport.mlflow_models import _redacted

    assert _redacted("https://user:secret@mlflow.example.com/x") == "https://mlflow.example.com/x"
    assert _redacted("sqlite:///tmp/mlflow.db") == "sqlite:///tmp/mlflow.db"


def test_a_flavor_modelport_lacks_falls_back_to_pyfunc(tmp_path: Path) -> None:
    """PyTorch has no modelport flavor (yet): its python_function flavor is used, with trust."""
    folder = _write_folder(
        tmp_path / "torch",
        {
            "pytorch": {"model_data": "data", "pytorch_version": "2.5.0"},
            "python_function": {"loader_module": "mlflow.pytorch", "data": "data"},
        },
    )
    with pytest.raises(UntrustedArtifactError) as caught:
        read_mlmodel_folder(folder, uri="models:/torch/1")
    assert caught.value.message.startswith("models:/torch/1 is an MLflow pyfunc model")
