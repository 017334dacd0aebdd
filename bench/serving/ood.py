"""The cost of the out-of-distribution score on the serving hot path (bench/serving/OOD.md).

In-process, no sockets: 64 concurrent clients send single-row V1 requests straight into the
ASGI app (auth off, logging on, default settings otherwise), and the CPU time of the whole
process (every thread: event loop, batcher, log writer) is divided by the requests answered.
Each round measures the same app twice, interleaved: as served (policy ``flag``: every batch
scored and logged with its score) and with the scorer taken away (``served.ood = None``:
what a build without scoring runs). Also the scorer alone on a batch of 64.

    PYTHONPATH=src .venv/bin/python bench/serving/ood.py [--rounds 5] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelport
from modelport.monitoring.outliers import OutlierScorer
from modelport.monitoring.profile import build_profile
from modelport.runtime.config import ServeConfig
from modelport.serving import create_app
from modelport.settings import Settings

CLIENTS = 64


def credit(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": np.round(rng.lognormal(10.8, 0.4, n), 2),
            "home": rng.choice(["rent", "own", "mortgage"], n),
            "purpose": rng.choice(["car", "education", "medical"], n),
        }
    )
    return frame, (frame["age"] > 45).astype(int).to_numpy()


def register(settings: Settings) -> tuple[np.ndarray, pd.DataFrame]:
    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    modelport.register(LogisticRegression().fit(X, y), "lr", sample=X, settings=settings)
    frame, labels = credit(5000, 1)
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["age", "income"]),
                ("cat", OneHotEncoder(), ["home", "purpose"]),
            ]
        ),
        LogisticRegression(),
    ).fit(frame, labels)
    modelport.register(pipeline, "credit", sample=frame, settings=settings)
    return X, frame


class Driver:
    """Requests into an ASGI app, and its lifespan, without a server."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def start(self) -> None:
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self.app(scope, self._inbox.get, self._outbox.put))
        await self._inbox.put({"type": "lifespan.startup"})
        message = await self._outbox.get()
        assert message["type"] == "lifespan.startup.complete", message

    async def stop(self) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._outbox.get()
        await self._task

    async def post(self, path: str, body: bytes) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), (b"host", b"bench")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


async def cpu_per_request(driver: Driver, path: str, bodies: list[bytes], total: int) -> float:
    per_client = total // CLIENTS

    async def client(k: int) -> None:
        for i in range(per_client):
            status = await driver.post(path, bodies[(k * per_client + i) % len(bodies)])
            assert status == 200, status

    started = time.process_time()
    await asyncio.gather(*(client(k) for k in range(CLIENTS)))
    return (time.process_time() - started) / (per_client * CLIENTS) * 1e6


async def measure(settings: Settings, X: np.ndarray, frame: pd.DataFrame, args: Any) -> None:
    config = ServeConfig(auth=False, refs=("lr", "credit"), access_log=False)
    app = create_app(config, settings=settings)
    driver = Driver(app)
    await driver.start()
    pool = app.state.pool
    cases = {
        "lr (20 numbers, ndarray)": (
            "/v1/models/lr:predict",
            [
                orjson.dumps({"instances": [row]}, option=orjson.OPT_SERIALIZE_NUMPY)
                for row in X[:512]
            ],
            pool.route(modelport.reference.parse("lr")),
        ),
        "credit (2 numbers + 2 categories, DataFrame)": (
            "/v1/models/credit:predict",
            [orjson.dumps({"instances": [r]}) for r in frame.head(512).to_dict(orient="records")],
            pool.route(modelport.reference.parse("credit")),
        ),
    }
    for name, (_, bodies, served) in cases.items():
        batch_function(name, served, bodies)
    for name, (path, bodies, served) in cases.items():
        scorer = served.ood
        assert scorer is not None
        await cpu_per_request(driver, path, bodies, 4096)  # warm up
        on: list[float] = []
        off: list[float] = []
        for _ in range(args.rounds):
            served.ood = scorer
            on.append(await cpu_per_request(driver, path, bodies, args.requests))
            served.ood = None
            off.append(await cpu_per_request(driver, path, bodies, args.requests))
        served.ood = scorer
        labels = {"model": served.name, "version": str(served.version)}
        metrics = app.state.metrics.registry
        total = metrics.get_sample_value("modelport_batch_size_sum", labels)
        batches = metrics.get_sample_value("modelport_batch_size_count", labels)
        diffs = [a - b for a, b in zip(on, off, strict=True)]
        print(
            f"{name}: flag {statistics.median(on):.1f} us/request, without scoring "
            f"{statistics.median(off):.1f}; difference median {statistics.median(diffs):+.2f} us "
            f"(rounds: {', '.join(f'{d:+.2f}' for d in diffs)}); "
            f"{total / batches:.1f} requests per model call"
        )
    await driver.stop()


def batch_function(name: str, served: Any, bodies: list[bytes]) -> None:
    """The batch function on 64 single-row requests (each logged), with and without the
    scorer, interleaved: the extra CPU of scoring and logging the score, per request."""
    from modelport.predictions import new_prediction_ids
    from modelport.predictions.writer import batch_table, merge

    items = [
        (
            served.prepare(orjson.loads(b)["instances"]),
            False,
            new_prediction_ids(1),
            0.0,
            None,
            None,
        )
        for b in bodies[:64]
    ]
    scorer = served.ood
    on: list[float] = []
    off: list[float] = []
    for i in range(3000):
        served.ood = scorer if i % 2 else None
        started = time.thread_time()
        served._predict_batch(items)
        (on if i % 2 else off).append(time.thread_time() - started)
    served.ood = scorer
    # what the log writer does more at flush time: two columns, per batch of 64 rows
    writer = served.log_writer
    writer.flush()
    served._predict_batch(items)
    logged = list(writer._buffer)
    writer.flush()
    bare = [
        type(b)(
            **{**{f: getattr(b, f) for f in b.__slots__}, "ood_score": None, "ood_features": None}
        )
        for b in logged * 50
    ]
    scored = logged * 50
    flush = {}
    for label, batches in (("with", scored), ("without", bare)):
        times = []
        for _ in range(20):
            started = time.thread_time()
            batch_table(merge(batches))
            times.append(time.thread_time() - started)
        flush[label] = statistics.median(times) / (64 * len(batches)) * 1e6
    # the added work alone, on the batch the function builds: score, count, the log's text
    inputs = [item[0] for item in items]
    batch = (
        pd.concat(inputs, ignore_index=True)
        if isinstance(inputs[0], pd.DataFrame)
        else (np.concatenate(inputs))
    )
    parts = []
    for _ in range(3000):
        started = time.thread_time()
        scores = served._score(batch, count=True)
        scores.feature_text()
        parts.append(time.thread_time() - started)
    added = statistics.median(parts) / 64 * 1e6
    extra = (statistics.median(on) - statistics.median(off)) / 64 * 1e6
    print(
        f"{name}: scoring, counting and the log's text on the real batch of 64: "
        f"{statistics.median(parts) * 1e6:.1f} us, {added:.2f} us per request"
    )
    print(
        f"{name}: batch function of 64 requests {statistics.median(off) * 1e6:.0f} us without "
        f"scoring, {statistics.median(on) * 1e6:.0f} us with: {extra:+.2f} us per request; "
        f"log flush {flush['with'] - flush['without']:+.2f} us per row"
    )


def scorer_alone(X: np.ndarray, frame: pd.DataFrame) -> None:
    from modelport.schema import infer_signature, validate

    for name, sample, batch in [
        ("lr, 64 rows x 20", X, X[:64]),
        ("credit, 64 rows x 4", frame, frame.head(64)),
    ]:
        columns = [
            str(c)
            for c in (
                sample.columns
                if isinstance(sample, pd.DataFrame)
                else [f"f{i}" for i in range(sample.shape[1])]
            )
        ]
        profile = build_profile(pd.DataFrame(sample, columns=columns))
        scorer = OutlierScorer.from_profile(profile, columns)
        prepared = validate(infer_signature(sample), batch)
        for _ in range(200):
            scorer.score(prepared).feature_text()
        times = []
        for _ in range(2000):
            started = time.perf_counter()
            scorer.score(prepared).feature_text()
            times.append(time.perf_counter() - started)
        median = statistics.median(times) * 1e6
        print(f"scorer alone, {name}: {median:.1f} us per batch, {median / 64:.2f} us per row")


def main() -> None:
    cli = argparse.ArgumentParser()
    cli.add_argument("--rounds", type=int, default=5)
    cli.add_argument("--requests", type=int, default=20000)
    args = cli.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home", user="bench")
        X, frame = register(settings)
        scorer_alone(X, frame)
        asyncio.run(measure(settings, X, frame, args))


if __name__ == "__main__":
    main()
