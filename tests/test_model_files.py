"""Reading model files for ``register PATH``: a file that is not a model is one clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from modelport.errors import DataError, ModelFileError, UntrustedArtifactError
from modelport.model_files import read_model_file


def _xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    return x, (x[:, 0] > 0).astype(int)


@pytest.fixture(scope="module")
def xgboost_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import xgboost as xgb

    x, y = _xy()
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x, label=y), 4)
    path = tmp_path_factory.mktemp("xgb") / "model.ubj"
    booster.save_model(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def lightgbm_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import lightgbm as lgb

    x, y = _xy()
    params = {"objective": "binary", "verbose": -1, "num_leaves": 4}
    booster = lgb.train(params, lgb.Dataset(x, label=y), 4)
    path = tmp_path_factory.mktemp("lgb") / "model.txt"
    booster.save_model(path)
    return path.read_bytes()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notamodel.skops", b"hello, this is a text file\n"),
        ("empty.skops", b""),
        ("junk.joblib", bytes(range(256)) * 2),
        ("junk.pkl", b"not a model\n"),
        ("empty.pkl", b""),  # pickle raises EOFError, which the CLI showed as "Aborted."
        ("junk.onnx", b"junk\n"),
        ("zeros.onnx", b"\x00" * 16),
        ("junk.ubj", b"{L\x00\x00"),
        ("junk.txt", b"some notes, not a booster\n"),
        ("header-only.txt", b"tree\nversion=v4\nnum_class=1\n"),
    ],
)
def test_a_file_that_is_not_a_model_is_a_model_file_error(
    tmp_path: Path, name: str, data: bytes
) -> None:
    path = _write(tmp_path, name, data)
    with pytest.raises(ModelFileError) as info:
        read_model_file(path, trusted=True)
    assert str(path) in info.value.message
    assert info.value.hint and "save the model again" in info.value.hint


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.8, 0.95])
def test_truncated_xgboost_file(tmp_path: Path, xgboost_bytes: bytes, fraction: float) -> None:
    path = _write(tmp_path, "cut.ubj", xgboost_bytes[: int(len(xgboost_bytes) * fraction)])
    with pytest.raises(ModelFileError, match="XGBoost"):
        read_model_file(path)


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5, 0.7, 0.9, 0.99])
def test_truncated_lightgbm_file(tmp_path: Path, lightgbm_bytes: bytes, fraction: float) -> None:
    # LightGBM itself loads some of these as a smaller model and aborts the process on others.
    path = _write(tmp_path, "cut.txt", lightgbm_bytes[: int(len(lightgbm_bytes) * fraction)])
    with pytest.raises(ModelFileError, match="truncated"):
        read_model_file(path)


def test_whole_boosters_still_load(tmp_path: Path, xgboost_bytes: bytes, lightgbm_bytes: bytes):
    import lightgbm as lgb
    import xgboost as xgb

    assert isinstance(read_model_file(_write(tmp_path, "m.ubj", xgboost_bytes)), xgb.Booster)
    assert isinstance(read_model_file(_write(tmp_path, "m.txt", lightgbm_bytes)), lgb.Booster)


def test_lightgbm_trees_that_do_not_match_their_sizes(tmp_path: Path, lightgbm_bytes: bytes):
    damaged = lightgbm_bytes.replace(b"Tree=1\n", b"Tree=1\nextra=1\n", 1)
    with pytest.raises(ModelFileError, match="sizes"):
        read_model_file(_write(tmp_path, "m.txt", damaged))


def test_untrusted_pickle_is_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(UntrustedArtifactError):
        read_model_file(_write(tmp_path, "m.pkl", b"junk"))


def test_missing_and_directory_paths(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such model file"):
        read_model_file(tmp_path / "absent.skops")
    (tmp_path / "dir.skops").mkdir()
    with pytest.raises(DataError, match="not a file"):
        read_model_file(tmp_path / "dir.skops")


# -- skops: scikit-learn's own types need no --trust ------------------------------------------


def test_random_forest_skops_file_needs_no_trust(tmp_path: Path) -> None:
    import skops.io
    from sklearn.ensemble import RandomForestClassifier

    x, y = _xy()
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    path = tmp_path / "forest.skops"
    skops.io.dump(forest, path)
    assert skops.io.get_untrusted_types(file=path)  # skops itself distrusts the trees
    loaded = read_model_file(path)
    np.testing.assert_array_equal(loaded.predict(x), forest.predict(x))


def test_skops_file_with_a_foreign_type_still_needs_trust(tmp_path: Path) -> None:
    import skops.io
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from tests.flavors import _functions

    x, y = _xy()
    model = make_pipeline(
        FunctionTransformer(_functions.first_column), RandomForestClassifier(n_estimators=2)
    ).fit(x, y)
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    with pytest.raises(UntrustedArtifactError) as info:
        read_model_file(path)
    assert "tests.flavors._functions.first_column" in info.value.message
    assert "sklearn.tree._tree.Tree" not in info.value.message
    assert read_model_file(path, trusted=True).predict(x).shape == (len(x),)


# -- the CLI shows the error, not a traceback or "Aborted." -----------------------------------


def test_cli_register_of_an_empty_pickle_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelport.cli import app

    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    path = _write(tmp_path, "empty.pkl", b"")
    result = CliRunner().invoke(app, ["register", str(path), "--name", "x", "--trust"])
    assert isinstance(result.exception, ModelFileError), result.output
    assert not (tmp_path / "home" / "artifacts").exists()
