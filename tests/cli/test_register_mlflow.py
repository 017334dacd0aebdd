"""``modelport register`` with MLflow models, against a real MLflow store (SQLite) and server.

Each model is logged the way MLflow users do (``mlflow.<flavor>.log_model`` with a signature
and an input example, registered in MLflow's registry), registered in modelport through the
CLI, and must then predict exactly what MLflow's own ``mlflow.pyfunc.load_model`` predicts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import modelport
from modelport.cli import app

with warnings.catch_warnings():
    # importing mlflow.pyfunc warns about an Any hint in MLflow's own agent types
    warnings.filterwarnings("ignore", message=r".*Any type hint is inferred as AnyType")
    pytest.importorskip("mlflow")
    import mlflow.pyfunc

# MLflow warns about its own advice while logging (integer columns in a signature, type hints
# on a PythonModel's predict, the cloudpickled python_model): facts about the test models,
# not faults of modelport, so those are let through; every other warning stays an error.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*Add type hints to the `predict` method:UserWarning"),
]

runner = CliRunner()

#: no inference of the pip requirements: MLflow would load each model in a subprocess for it
QUICK: dict[str, Any] = {"pip_requirements": []}


class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """A custom pyfunc model: no flavor modelport has, so it comes in as a pyfunc."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        return model_input["a"] * 2 + model_input["b"]


class Broken(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """A pyfunc whose loading fails, as one with a missing dependency does."""

    def load_context(self, context: Any) -> None:
        raise RuntimeError("the weights file is gone")

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        return model_input["a"]


def _data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    return x, (x["a"] + 0.5 * x["b"] > 0).astype(int)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One MLflow tracking store with every model these tests register, and its URI."""
    from lightgbm import LGBMClassifier
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from xgboost import XGBClassifier

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        # artifacts under the test's directory, not ./mlruns in the working directory
        mlflow.set_experiment(
            experiment_id=mlflow.create_experiment("t", artifact_location=str(root / "art"))
        )
        x, y = _data()
        example = x.head(5)
        lr = LogisticRegression().fit(x, y)
        xgb = XGBClassifier(n_estimators=8, max_depth=3).fit(x, y)
        lgbm = LGBMClassifier(n_estimators=8, num_leaves=7, verbose=-1).fit(x, y)
        with mlflow.start_run() as run:
            mlflow.sklearn.log_model(
                lr,
                name="model",
                signature=infer_signature(x, lr.predict(x)),
                input_example=example,
                registered_model_name="lr",
                **QUICK,
            )
            mlflow.xgboost.log_model(
                xgb,
                name="xgb",
                signature=infer_signature(x, xgb.predict(x)),
                input_example=example,
                registered_model_name="xgb",
                **QUICK,
            )
            mlflow.sklearn.log_model(
                lr,
                name="pickled",
                serialization_format="cloudpickle",  # the default of older MLflow versions
                registered_model_name="pickled",
                **QUICK,
            )
            mlflow.lightgbm.log_model(
                lgbm, name="lgbm", input_example=example, registered_model_name="lgbm", **QUICK
            )
            mlflow.pyfunc.log_model(
                name="doubler",
                python_model=Doubler(),
                input_example=example,
                registered_model_name="doubler",
                **QUICK,
            )
            mlflow.pyfunc.log_model(
                name="broken", python_model=Broken(), registered_model_name="broken", **QUICK
            )
        mlflow.MlflowClient().set_registered_model_alias("lr", "champion", "1")
        folder = root / "saved"
        mlflow.sklearn.save_model(
            lr,
            str(folder),
            signature=infer_signature(x, lr.predict(x)),
            input_example=example,
            **QUICK,
        )
        yield {
            "uri": uri,
            "run_id": run.info.run_id,
            "folder": folder,
            "x": x,
            "lr": lr,
            "xgb": xgb,
            "lgbm": lgbm,
        }
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: dict[str, Any]) -> Path:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    monkeypatch.delenv("MODELPORT_TRUST_PICKLES", raising=False)
    return tmp_path


def register(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["register", *args])
    return result.exit_code, result.output


def listed() -> Any:
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def mlflow_predict(uri: str, x: pd.DataFrame) -> np.ndarray:
    return np.asarray(mlflow.pyfunc.load_model(uri).predict(x)).ravel()


def test_sklearn_from_the_registry_predicts_as_mlflow(env: Path, store: dict[str, Any]) -> None:
    code, out = register("models:/lr/1", "--name", "x", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["flavor"] == "sklearn"  # native, stored with skops
    assert summary["tags"]["mlflow.model_uri"] == "models:/lr/1"
    assert summary["tags"]["mlflow.run_id"] == store["run_id"]
    model = modelport.load("x")
    x = store["x"]
    assert np.array_equal(model.predict(x), mlflow_predict("models:/lr/1", x))
    np.testing.assert_allclose(model.predict_proba(x), store["lr"].predict_proba(x))
    # MLflow's signature is the input schema; its input example made the output schema
    signature = model.version.signature
    assert signature is not None
    assert [(f["name"], f["kind"]) for f in signature["inputs"]] == [
        ("a", "float"),
        ("b", "float"),
        ("c", "float"),
    ]
    assert signature["outputs"]["classes"] == [0, 1]


def test_an_alias_and_a_run_uri(env: Path, store: dict[str, Any]) -> None:
    code, out = register("models:/lr@champion", "--name", "by-alias")
    assert code == 0, out
    uri = f"runs:/{store['run_id']}/model"
    code, out = register(uri, "--name", "by-run", "--json")
    assert code == 0, out
    assert json.loads(out)["tags"]["mlflow.model_uri"] == uri
    x = store["x"]
    for name in ("by-alias", "by-run"):
        assert np.array_equal(modelport.load(name).predict(x), store["lr"].predict(x))


def test_xgboost_keeps_its_classes(env: Path, store: dict[str, Any]) -> None:
    code, out = register("models:/xgb/1", "--name", "x")
    assert code == 0, out
    model = modelport.load("x")
    x = store["x"]
    assert model.version.flavor == "xgboost"
    assert model.version.flavor_options["wrapper"] == "XGBClassifier"
    assert np.array_equal(model.predict(x), mlflow_predict("models:/xgb/1", x))
    np.testing.assert_allclose(model.predict_proba(x), store["xgb"].predict_proba(x), rtol=1e-6)


def test_a_pickled_sklearn_model_needs_trust_and_is_stored_with_skops(
    env: Path, store: dict[str, Any]
) -> None:
    code, out = register("models:/pickled/1", "--name", "p")
    assert code != 0
    assert "pickle" in out and "--trust" in out
    assert listed() == []
    code, out = register("models:/pickled/1", "--name", "p", "--trust")
    assert code == 0, out
    model = modelport.load("p")  # no trust needed any more: it is a skops file now
    assert model.version.flavor_options["serialization"] == "skops"
    x = store["x"]
    assert np.array_equal(model.predict(x), mlflow_predict("models:/pickled/1", x))


def test_lightgbm_keeps_its_classes(env: Path, store: dict[str, Any]) -> None:
    # MLflow stores the LGBMClassifier with skops, with LightGBM's own types in it
    code, out = register("models:/lgbm/1", "--name", "l")
    assert code != 0
    assert "skops" in out and "--trust" in out
    code, out = register("models:/lgbm/1", "--name", "l", "--trust")
    assert code == 0, out
    model = modelport.load("l")
    x = store["x"]
    assert model.version.flavor == "lightgbm"
    assert model.classes == [0, 1]
    assert np.array_equal(model.predict(x), mlflow_predict("models:/lgbm/1", x))
    np.testing.assert_allclose(model.predict_proba(x), store["lgbm"].predict_proba(x))


def test_a_pyfunc_needs_trust_then_predicts_as_mlflow(env: Path, store: dict[str, Any]) -> None:
    code, out = register("models:/doubler/1", "--name", "d")
    assert code != 0
    assert "pyfunc" in out and "--trust" in out
    assert listed() == []
    code, out = register("models:/doubler/1", "--name", "d", "--trust")
    assert code == 0, out
    x = store["x"]
    with pytest.raises(modelport.errors.UntrustedArtifactError):
        modelport.load("d")  # serving it runs its code too
    model = modelport.load("d", trusted=True)
    assert model.version.flavor == "python"
    np.testing.assert_allclose(model.predict(x), mlflow_predict("models:/doubler/1", x))


def test_a_pyfunc_is_served(env: Path, store: dict[str, Any]) -> None:
    """Served over HTTP, the pyfunc answers what MLflow's own load_model predicts."""
    with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from modelport.serving import ServeConfig, create_app

    code, out = register("models:/doubler/1", "--name", "d", "--trust")
    assert code == 0, out
    x = store["x"].head(4)
    settings = modelport.Settings(home=env / "home", trust_pickles=True)
    with TestClient(create_app(ServeConfig(auth=False, refs=("d",)), settings=settings)) as client:
        response = client.post("/v1/models/d:predict", json={"instances": x.to_dict("records")})
    assert response.status_code == 200, response.text
    expected = mlflow_predict("models:/doubler/1", x)
    np.testing.assert_allclose(response.json()["predictions"], expected)


def test_trust_from_the_environment(
    env: Path, store: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_TRUST_PICKLES", "1")
    code, out = register("models:/doubler/1", "--name", "d")
    assert code == 0, out


def test_a_saved_mlmodel_folder(env: Path, store: dict[str, Any]) -> None:
    code, out = register(str(store["folder"]), "--name", "f", "--json")
    assert code == 0, out
    assert json.loads(out)["tags"]["mlflow.model_uri"].startswith("file://")
    x = store["x"]
    assert np.array_equal(modelport.load("f").predict(x), mlflow_predict(str(store["folder"]), x))


def test_bad_sources_register_nothing(env: Path, store: dict[str, Any], tmp_path: Path) -> None:
    not_a_model = tmp_path / "empty-folder"
    not_a_model.mkdir()
    cases = [
        (("models:/nope/1",), "nope"),
        (("models:/lr/99",), "lr"),
        ((f"runs:/{store['run_id']}/no-such-path",), "no-such-path"),
        ((str(not_a_model),), "no MLmodel"),
        (("models:/broken/1", "--trust"), "the weights file is gone"),
    ]
    for args, expected in cases:
        code, out = register(*args, "--name", "bad")
        assert code == 1, (args, out)
        assert expected in out, (args, out)
        assert "Traceback" not in out
    assert listed() == []


def test_a_uri_needs_a_tracking_uri(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    code, out = register("models:/lr/1", "--name", "x")
    assert code == 1
    assert "MLFLOW_TRACKING_URI" in out
    assert listed() == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.integration
def test_from_a_tracking_server(tmp_path: Path, store: dict[str, Any]) -> None:
    """A local ``mlflow server`` the test starts, artifacts proxied: all goes over its REST API."""
    import httpx
    from mlflow.models import infer_signature

    port = _free_port()
    server_uri = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the workers it forks end with it
    )
    previous = mlflow.get_tracking_uri()
    try:
        for _ in range(240):  # bounded: at most about a minute
            try:
                if httpx.get(f"{server_uri}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(0.25)
        else:
            pytest.fail("the MLflow server did not become healthy")
        x, lr = store["x"], store["lr"]
        mlflow.set_tracking_uri(server_uri)
        mlflow.set_experiment("served")  # on the server; the store's experiment is elsewhere
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                lr,
                name="model",
                signature=infer_signature(x, lr.predict(x)),
                input_example=x.head(5),
                registered_model_name="served-lr",
                **QUICK,
            )
        # stored by the server (proxied artifacts), so only its REST API reaches the model
        assert list((tmp_path / "server-artifacts").rglob("MLmodel"))
        environment = {
            **os.environ,
            "MODELPORT_HOME": str(tmp_path / "home"),
            "MLFLOW_TRACKING_URI": server_uri,
        }
        done = modelport_cli(environment, "register", "models:/served-lr/1", "--name", "srv")
        assert done.returncode == 0, done.stdout + done.stderr
        missing = modelport_cli(environment, "register", "models:/nope/2", "--name", "bad")
        assert missing.returncode == 1
        assert "nope" in missing.stderr + missing.stdout
        settings = modelport.Settings(home=tmp_path / "home")
        model = modelport.load("srv", settings=settings)
        assert np.array_equal(model.predict(x), mlflow_predict("models:/served-lr/1", x))
        listed_now = modelport_cli(environment, "models", "list", "--json")
        assert [m["name"] for m in json.loads(listed_now.stdout)] == ["srv"]
    finally:
        mlflow.set_tracking_uri(previous)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def modelport_cli(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
