"""One prediction, four front ends: HTTP V1, HTTP V2, the Python API and batch scoring.

The same rows must get the same predictions and probabilities (bit for bit: every front
end predicts through ``LoadedModel.outputs``, and JSON and Parquet carry float64 exactly),
and the same bad row must be refused naming the same field, kind, detail and row. Two
models: a scikit-learn pipeline on a DataFrame (numbers and strict categories), a
LogisticRegression trained on a NumPy array (features ``f0``..``f3``), and a pipeline that
copes with missing numbers and unseen categories (so every front end must let them through).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelport
from modelport.batch import score
from modelport.errors import ValidationError
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings
from tests.serving.conftest import credit_frame

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ROWS = 40
NUMERIC = [f"f{i}" for i in range(4)]


@dataclass(frozen=True)
class Outputs:
    """What one front end answered: labels as Python values, probabilities as float64."""

    predictions: list[Any]
    probabilities: np.ndarray


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """``credit`` (pipeline, strict OneHotEncoder), ``numeric`` (array-trained) and
    ``lenient`` (a pipeline that accepts missing incomes and unseen categories)."""
    settings = Settings(home=tmp_path_factory.mktemp("fronts") / "home", user="tester")
    train, labels = credit_frame(600, seed=1)
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["age", "income"]),
                ("cat", OneHotEncoder(), ["home", "purpose"]),
            ]
        ),
        LogisticRegression(),
    ).fit(train, labels)
    modelport.register(pipeline, "credit", sample=train, settings=settings)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 4))
    array_model = LogisticRegression().fit(X, (X[:, 0] - X[:, 2] > 0).astype(int))
    modelport.register(array_model, "numeric", sample=X, settings=settings)
    # copes with what `credit` refuses: missing incomes, categories it has not seen
    train = train.astype({"income": "float64"})
    train.loc[::7, "income"] = np.nan
    lenient = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), ["home", "purpose"])],
            remainder="passthrough",
        ),
        HistGradientBoostingClassifier(max_iter=20, random_state=0),
    ).fit(train, labels)
    modelport.register(lenient, "lenient", sample=train, settings=settings)
    return settings


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(ServeConfig(auth=False, poll_interval=0.1), settings=settings)) as c:
        yield c


def rows_of(name: str, seed: int = 2) -> pd.DataFrame:
    """Rows the model has never seen, as a frame with the signature's column names.

    For ``lenient`` they hold what it copes with: an unseen category and a missing income.
    """
    if name != "numeric":
        frame, _ = credit_frame(ROWS, seed=seed)
        frame = frame.astype({"income": "float64"})
        if name == "lenient":
            frame.loc[3, "purpose"] = "yacht"
            frame.loc[5, "income"] = np.nan
        return frame
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(ROWS, 4)), columns=NUMERIC)


def _plain(value: Any) -> Any:
    """A JSON value: NumPy scalars as Python ones, NaN as null (JSON has no NaN)."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def v1_body(name: str, frame: pd.DataFrame) -> dict[str, Any]:
    """Records for the pipeline, rows for the array model: each model's natural V1 form."""
    if name != "numeric":
        instances: list[Any] = [
            {k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")
        ]
    else:
        instances = [[_plain(v) for v in row] for row in frame.to_numpy()]
    return {"instances": instances, "parameters": {"probabilities": True}}


def v2_body(name: str, frame: pd.DataFrame) -> dict[str, Any]:
    """One tensor per feature for the pipeline, one 2-D tensor for the array model."""
    if name == "numeric":
        data = [_plain(v) for v in frame.to_numpy().ravel()]
        return {
            "inputs": [
                {"name": "input-0", "shape": list(frame.shape), "datatype": "FP64", "data": data}
            ]
        }
    kinds = {"i": "INT64", "f": "FP64", "O": "BYTES"}
    return {
        "inputs": [
            {
                "name": column,
                "shape": [len(frame)],
                "datatype": kinds[frame[column].dtype.kind],
                "data": [_plain(v) for v in frame[column]],
            }
            for column in frame.columns
        ]
    }


def via_v1(client: TestClient, name: str, frame: pd.DataFrame) -> Outputs:
    r = client.post(f"/v1/models/{name}:predict", json=v1_body(name, frame))
    assert r.status_code == 200, r.text
    body = r.json()
    return Outputs(body["predictions"], np.asarray(body["probabilities"], dtype=np.float64))


def via_v2(client: TestClient, name: str, frame: pd.DataFrame) -> Outputs:
    r = client.post(f"/v2/models/{name}/infer", json=v2_body(name, frame))
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    proba = outputs["predict_proba"]
    return Outputs(
        outputs["predict"]["data"],
        np.asarray(proba["data"], dtype=np.float64).reshape(proba["shape"]),
    )


def python_input(name: str, frame: pd.DataFrame) -> Any:
    """The DataFrame for the pipeline; a bare NumPy array for the array-trained model.

    C order, as decoded JSON is (a Fortran-ordered array gets the same answer: the test
    below pins it).
    """
    return frame if name != "numeric" else np.ascontiguousarray(frame.to_numpy())


def via_python(settings: Settings, name: str, frame: pd.DataFrame) -> Outputs:
    model = modelport.load(name, settings=settings)
    data = python_input(name, frame)
    return Outputs(model.predict(data).tolist(), model.predict_proba(data))


def via_batch(settings: Settings, name: str, frame: pd.DataFrame, tmp: Path) -> pd.DataFrame:
    """The scored rows (``id``, ``prediction``, ``proba_<class>``); rejects go beside them."""
    source = tmp / f"{name}-in.parquet"
    frame.assign(id=np.arange(len(frame))).to_parquet(source, index=False)
    target = tmp / f"{name}-out.parquet"
    summary = score(name, source, target, keep=["id"], workers=1, overwrite=True, settings=settings)
    scored = pd.read_parquet(target)
    assert summary.rows_read == len(frame) and summary.rows_scored == len(scored)
    return scored


@pytest.mark.parametrize("name", ["credit", "numeric", "lenient"])
def test_every_front_end_gives_the_same_predictions_and_probabilities(
    client: TestClient, settings: Settings, tmp_path: Path, name: str
) -> None:
    frame = rows_of(name)
    python = via_python(settings, name, frame)
    assert len(set(python.predictions)) == 2  # both classes occur: a swap would show
    scored = via_batch(settings, name, frame, tmp_path)
    batch = Outputs(
        scored["prediction"].tolist(), scored[["proba_0", "proba_1"]].to_numpy(np.float64)
    )
    assert scored["id"].tolist() == list(range(ROWS))  # input order kept
    for front, got in [
        ("v1", via_v1(client, name, frame)),
        ("v2", via_v2(client, name, frame)),
        ("batch", batch),
    ]:
        assert got.predictions == python.predictions, front
        assert got.probabilities.shape == (ROWS, 2), front
        np.testing.assert_array_equal(got.probabilities, python.probabilities, err_msg=front)


def test_a_fortran_ordered_array_gets_what_http_gives(
    client: TestClient, settings: Settings
) -> None:
    frame = rows_of("numeric")
    fortran = frame.to_numpy()  # what DataFrame.to_numpy() gives: Fortran order
    assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
    python = modelport.load("numeric", settings=settings).predict_proba(fortran)
    np.testing.assert_array_equal(via_v1(client, "numeric", frame).probabilities, python)


BAD_ROW = 7

#: (model, the column made bad in row BAD_ROW, the bad value, the problem kind every front names)
BAD_ROWS = [
    pytest.param("credit", "purpose", "yacht", "category", id="unknown-category"),
    pytest.param("credit", "income", np.nan, "null", id="nan-in-a-frame"),
    pytest.param("numeric", "f1", np.nan, "null", id="nan-in-an-array"),
]


def problems_of(body: dict[str, Any]) -> list[tuple[str, str, str, list[int] | None]]:
    return [(p["field"], p["kind"], p["detail"], p.get("rows")) for p in body["problems"]]


@pytest.mark.parametrize(("name", "column", "value", "kind"), BAD_ROWS)
def test_one_bad_row_is_refused_alike_naming_the_same_field(
    client: TestClient,
    settings: Settings,
    tmp_path: Path,
    name: str,
    column: str,
    value: Any,
    kind: str,
) -> None:
    frame = rows_of(name, seed=4)
    frame[column] = frame[column].astype(object if isinstance(value, str) else np.float64)
    frame.loc[BAD_ROW, column] = value
    with pytest.raises(ValidationError) as info:
        modelport.load(name, settings=settings).predict(python_input(name, frame))
    python = [(p.field, p.kind, p.detail, p.rows) for p in info.value.problems]
    assert [(f, k, rows) for f, k, _, rows in python] == [(column, kind, [BAD_ROW])]
    for front, r in [
        ("v1", client.post(f"/v1/models/{name}:predict", json=v1_body(name, frame))),
        ("v2", client.post(f"/v2/models/{name}/infer", json=v2_body(name, frame))),
    ]:
        assert r.status_code == 422, (front, r.text)
        assert problems_of(r.json()) == python, front
    # batch scoring is the one front end that scores the other rows: it rejects only this one
    scored = via_batch(settings, name, frame, tmp_path)
    assert scored["id"].tolist() == [i for i in range(ROWS) if i != BAD_ROW]
    [rejected] = pd.read_json(tmp_path / f"{name}-out.rejects.jsonl", lines=True).to_dict("records")
    [(field, _, detail, _)] = python
    assert rejected["id"] == BAD_ROW and rejected["_reason"] == f"'{field}': {detail}"


@pytest.mark.parametrize("name", ["credit", "numeric"])
def test_zero_rows_are_refused_alike_by_http_and_the_python_api(
    client: TestClient, settings: Settings, name: str
) -> None:
    empty = rows_of(name).iloc[:0]
    model = modelport.load(name, settings=settings)
    refusals = []
    for method in (model.predict, model.predict_proba):
        with pytest.raises(ValidationError) as info:
            method(python_input(name, empty))
        refusals.append([(p.field, p.kind, p.detail, p.rows) for p in info.value.problems])
    assert refusals[0] == refusals[1] == [("*", "shape", refusals[0][0][2], None)]
    assert "no input rows" in refusals[0][0][2]
    for front, r in [
        ("v1", client.post(f"/v1/models/{name}:predict", json=v1_body(name, empty))),
        ("v2", client.post(f"/v2/models/{name}/infer", json=v2_body(name, empty))),
    ]:
        assert r.status_code == 422, (front, r.text)
        assert problems_of(r.json()) == refusals[0], front
