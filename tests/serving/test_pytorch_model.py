"""A PyTorch classifier served in-process: V1 and V2 answers are the module's own."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

torch = pytest.importorskip("torch")

from modelport.flavors.pytorch import TorchModel  # noqa: E402

CLASSES = ["cat", "dog", "eel"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any]]:
    threads = torch.get_num_threads()
    settings = Settings(home=tmp_path_factory.mktemp("torch") / "home", user="tester")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    sample = np.random.default_rng(0).normal(size=(40, 3))
    model = TorchModel(net, classes=CLASSES, outputs="logits")
    modelport.register(model, "pets", sample=sample, settings=settings)
    app = create_app(ServeConfig(auth=False), settings=settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, net
    torch.set_num_threads(threads)


def expected(net: Any, rows: list[list[float]]) -> tuple[list[str], np.ndarray]:
    with torch.no_grad():
        proba = torch.softmax(net(torch.tensor(rows, dtype=torch.float32)), dim=1).numpy()
    return [CLASSES[i] for i in proba.argmax(axis=1)], proba


def test_v1_predictions_are_the_modules_labels(served: tuple[TestClient, Any]) -> None:
    client, net = served
    rows = [[0.5, -1.0, 2.0], [3.0, 0.0, -0.5], [-2.0, 1.0, 0.0]]
    r = client.post("/v1/models/pets:predict", json={"instances": rows})
    assert r.status_code == 200, r.text
    labels, _ = expected(net, rows)
    assert r.json()["predictions"] == labels


def test_v2_gives_the_probabilities_too(served: tuple[TestClient, Any]) -> None:
    client, net = served
    rows = [[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]]
    body = {
        "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP64", "data": rows}],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }
    r = client.post("/v2/models/pets/infer", json=body)
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    labels, proba = expected(net, rows)
    assert outputs["predict"]["data"] == labels
    got = np.asarray(outputs["predict_proba"]["data"]).reshape(proba.shape)
    np.testing.assert_allclose(got, proba, rtol=1e-5)


def test_a_row_of_the_wrong_width_is_a_4xx(served: tuple[TestClient, Any]) -> None:
    client, _ = served
    r = client.post("/v1/models/pets:predict", json={"instances": [[1.0, 2.0]]})
    assert 400 <= r.status_code < 500, r.text
