"""Artifacts, the prediction log and feedback on S3, against a local S3 server (moto).

Everything goes through fsspec (s3fs) exactly as it would to AWS, MinIO or Ceph; only
the endpoint differs (``AWS_ENDPOINT_URL_S3``, set by the ``s3_bucket`` fixture).
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.errors import ArtifactIntegrityError
from modelport.predictions.reader import PredictionLogReader
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.integration
X = np.random.default_rng(0).normal(size=(200, 4))
MODEL = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))


def s3() -> object:
    import s3fs

    return s3fs.S3FileSystem()


def test_artifacts_on_s3_load_anywhere_and_a_changed_object_is_refused(
    s3_bucket: str, tmp_path: Path
) -> None:
    registry_uri = f"sqlite:///{tmp_path / 'registry.db'}"
    artifacts = f"s3://{s3_bucket}/artifacts"
    writer = Settings(home=tmp_path / "a", registry_uri=registry_uri, artifact_uri=artifacts)
    version = modelport.register(MODEL, "m", sample=X, settings=writer)
    assert version.artifact_uri.startswith(f"s3://{s3_bucket}/artifacts/m/")
    fs = s3()
    stored = fs.find(version.artifact_uri)  # type: ignore[attr-defined]
    assert stored, "nothing was written to the bucket"
    # another machine: same registry and bucket, an empty local cache
    reader = Settings(home=tmp_path / "b", registry_uri=registry_uri, artifact_uri=artifacts)
    loaded = modelport.load("m:1", settings=reader)
    np.testing.assert_array_equal(loaded.predict(X[:20]), MODEL.predict(X[:20]))
    # someone changes an object in the bucket: a fresh cache refuses to load it
    target = max(stored, key=lambda key: fs.size(key))  # type: ignore[attr-defined]
    with fs.open(target, "wb") as handle:  # type: ignore[attr-defined]
        handle.write(b"not the model")
    third = Settings(home=tmp_path / "c", registry_uri=registry_uri, artifact_uri=artifacts)
    with pytest.raises(ArtifactIntegrityError):
        modelport.load("m:1", settings=third)


def test_the_prediction_log_and_feedback_of_a_server_land_on_s3(
    s3_bucket: str, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path / "home",
        artifact_uri=f"s3://{s3_bucket}/artifacts",
        log_uri=f"s3://{s3_bucket}/logs",
        user="tester",
    )
    modelport.register(MODEL, "m", sample=X, settings=settings)
    config = ServeConfig(auth=False, refs=("m",), log_flush_interval=0.2)
    with TestClient(create_app(config, settings=settings)) as client:
        answer = client.post("/v1/models/m:predict", json={"instances": X[:5].tolist()})
        assert answer.status_code == 200, answer.text
        ids = answer.json()["prediction_ids"]
        labels = [{"prediction_id": pid, "label": 1} for pid in ids]
        sent = client.post("/api/feedback", json=labels)
        assert sent.status_code == 200, sent.text
        assert sent.json()["accepted"] == 5
    # the server stopped gracefully: the log's segments and the feedback are in the bucket
    fs = s3()
    segments = fs.glob(f"{s3_bucket}/logs/predictions/model=m/version=1/date=*/*.parquet")  # type: ignore[attr-defined]
    assert segments
    logged = pd.concat(
        pq.read_table(io.BytesIO(fs.cat(key))).to_pandas()  # type: ignore[attr-defined]
        for key in segments
    )
    assert sorted(logged["prediction_id"]) == sorted(ids)
    lines = [
        json.loads(line)
        for key in fs.glob(f"{s3_bucket}/logs/feedback/**/*.jsonl")  # type: ignore[attr-defined]
        for line in fs.cat(key).decode().splitlines()  # type: ignore[attr-defined]
        if line
    ]
    assert sorted(line["prediction_id"] for line in lines) == sorted(ids)
    # and read back by the same code that reads a local log (DuckDB through fsspec)
    joined = PredictionLogReader(settings.resolved_log_uri()).predictions("m", with_feedback=True)
    assert sorted(joined["prediction_id"]) == sorted(ids)
    assert joined["label"].notna().all()
