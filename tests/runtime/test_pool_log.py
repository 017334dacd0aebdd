"""What a served version hands the prediction log: every logged request's rows, with its ids,
its own latency, deployment and key on each of its rows; unlogged requests left out."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.loaded import load_model
from modelport.predictions import PredictionLogWriter, new_prediction_ids
from modelport.predictions.reader import PredictionLogReader
from modelport.registry import Registry
from modelport.runtime.metrics import Metrics
from modelport.runtime.pool import ServedVersion
from modelport.serving import ServeConfig
from modelport.settings import Settings


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("pool-log") / "home", user="tester")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    modelport.register(LogisticRegression().fit(X, y), "lr", sample=X, settings=settings)
    return settings


def test_logged_requests_read_back_row_by_row(settings: Settings, tmp_path: Path) -> None:
    writer = PredictionLogWriter(str(tmp_path), flush_interval=3600)
    served = ServedVersion(load_model(Registry(settings), "lr"), ServeConfig(), Metrics(), writer)
    rng = np.random.default_rng(1)
    # 40 requests of 1 to 3 rows; every third is not logged (sampled out); every fourth
    # came through a deployment with a sticky key
    requests = [rng.normal(size=(1 + i % 3, 4)) for i in range(40)]
    ids = [new_prediction_ids(len(r)) if i % 3 else None for i, r in enumerate(requests)]
    routes = [("dep", f"user-{i}") if i % 4 == 0 else (None, None) for i in range(40)]

    async def client(i: int) -> None:
        await asyncio.sleep(0.001 * (i % 5))
        deployment, key = routes[i]
        prepared = served.prepare(requests[i].tolist())
        await served.predict(
            prepared, ids=ids[i], arrived=time.perf_counter(), deployment=deployment, key=key
        )

    async def main() -> None:
        try:
            await asyncio.gather(*(client(i) for i in range(40)))
        finally:
            await served.batcher.aclose()

    asyncio.run(main())
    writer.close()
    read = PredictionLogReader(tmp_path).predictions("lr").set_index("prediction_id")
    logged = [i for i in range(40) if ids[i] is not None]
    assert len(read) == sum(len(requests[i]) for i in logged)
    for i in logged:
        rows = read.loc[ids[i]]  # type: ignore[index]
        assert np.allclose(rows[served.feature_names].to_numpy(), requests[i])
        assert rows["latency_ms"].nunique() == 1  # one request, one latency, every row
        deployment, key = routes[i]
        assert [None if pd.isna(v) else v for v in rows["deployment"]] == [deployment] * len(
            requests[i]
        )
        assert [None if pd.isna(v) else v for v in rows["key"]] == [key] * len(requests[i])


def test_a_dropped_version_is_freed_though_its_queue_gauge_stays(settings: Settings) -> None:
    import gc
    import weakref

    metrics = Metrics()
    served = ServedVersion(load_model(Registry(settings), "lr"), ServeConfig(), metrics)
    gone = weakref.ref(served)
    label = 'modelport_queue_depth{model="lr",version="1"} 0.0'
    assert label in metrics.exposition().decode()
    served.batcher._executor.shutdown(wait=True)
    del served
    gc.collect()
    assert gone() is None  # the gauge's reader holds no strong reference
    assert label in metrics.exposition().decode()  # and reads 0 for a version that is gone
