"""The writer's conversion: many batches of one flush as one table, the schema readers know,
values given per batch, per request or per row read back per row."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelport.predictions import LoggedBatch, PredictionLogWriter, new_prediction_ids
from modelport.predictions.reader import PredictionLogReader
from modelport.predictions.writer import batches_table

TS = 1_796_000_000.0
FEATURES = ["f0", "f1"]

#: what every reader (DuckDB, Spark, the monitor, feedback joins) was written against
SCHEMA = pa.schema(
    [
        ("prediction_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("deployment", pa.string()),
        ("key", pa.string()),
        ("latency_ms", pa.float32()),
        ("inputs", pa.struct([("f0", pa.float64()), ("f1", pa.float64())])),
        ("prediction", pa.int64()),
        ("ood_score", pa.float32()),
        ("ood_features", pa.string()),
        ("proba", pa.list_(pa.field("element", pa.float64()), 2)),
    ]
)


def array_batch(n: int, start: float, **fields: object) -> LoggedBatch:
    return LoggedBatch(
        model="m",
        version=1,
        ids=new_prediction_ids(n, TS),
        inputs=np.arange(start, start + 2 * n, dtype=np.float64).reshape(n, 2),
        feature_names=FEATURES,
        predictions=np.arange(n, dtype=np.int64) % 2,
        ts=TS,
        **fields,  # type: ignore[arg-type]
    )


def rows_of(root: Path) -> list[tuple[object, ...]]:
    files = sorted(str(p) for p in root.rglob("*.parquet"))
    return duckdb.sql(
        f"SELECT prediction_id, deployment, key, latency_ms, inputs.f0, prediction, ood_score, "
        f"ood_features, proba FROM read_parquet({files}) ORDER BY prediction_id"
    ).fetchall()


def test_batches_of_one_flush_keep_the_schema_and_every_value_per_row(tmp_path: Path) -> None:
    batches = [
        # the server's common case: one row per request, nothing routed
        array_batch(
            3,
            0,
            latency_ms=[1.0, 2.0, 3.0],
            proba=np.full((3, 2), 0.5),
            ood_score=np.zeros(3),
            ood_features=[None] * 3,
        ),
        # two requests of 2 and 1 rows: latency, deployment and key given per request
        array_batch(
            3,
            10,
            latency_ms=[4.0, 5.0],
            deployment=["dep", None],
            keys=["k1", "k2"],
            request_rows=[2, 1],
            ood_score=np.array([0.5, 0.0, 0.25]),
            ood_features=["f0", None, "f1"],
        ),
        # one value for the whole batch; no probabilities asked; a version without a profile
        array_batch(2, 20, latency_ms=6.0, deployment="dep/shadow"),
    ]
    ids = [i for b in batches for i in b.ids]
    writer = PredictionLogWriter(str(tmp_path))
    for batch in batches:
        writer.append(batch)
    assert writer.flush() == 8 and writer.segments == 1
    (path,) = tmp_path.rglob("*.parquet")
    assert pq.read_schema(path).remove_metadata() == SCHEMA
    half = [0.5, 0.5]
    assert rows_of(tmp_path) == [
        (ids[0], None, None, 1.0, 0.0, 0, 0.0, None, half),
        (ids[1], None, None, 2.0, 2.0, 1, 0.0, None, half),
        (ids[2], None, None, 3.0, 4.0, 0, 0.0, None, half),
        (ids[3], "dep", "k1", 4.0, 10.0, 0, 0.5, "f0", None),
        (ids[4], "dep", "k1", 4.0, 12.0, 1, 0.0, None, None),
        (ids[5], None, "k2", 5.0, 14.0, 0, 0.25, "f1", None),
        (ids[6], "dep/shadow", None, 6.0, 20.0, 0, None, None, None),
        (ids[7], "dep/shadow", None, 6.0, 22.0, 1, None, None, None),
    ]


def test_per_request_values_of_data_frame_inputs(tmp_path: Path) -> None:
    frame = pd.DataFrame({"income": [1.0, 2.0, 3.0], "home": pd.Categorical(["own", None, "rent"])})
    writer = PredictionLogWriter(str(tmp_path))
    for _ in range(2):
        writer.append(
            LoggedBatch(
                "credit",
                3,
                new_prediction_ids(3, TS),
                frame,
                ["income", "home"],
                np.array(["no", "yes", "no"], dtype=object),
                latency_ms=[7.0, 8.0],
                keys=["a", "b"],
                request_rows=[1, 2],
                ts=TS,
            )
        )
    writer.flush()
    read = PredictionLogReader(tmp_path).predictions("credit")
    assert read["latency_ms"].tolist() == [7.0, 8.0, 8.0] * 2
    assert read["key"].tolist() == ["a", "b", "b"] * 2
    assert [None if pd.isna(v) else v for v in read["home"]] == ["own", None, "rent"] * 2
    assert read["prediction"].tolist() == ["no", "yes", "no"] * 2


@pytest.mark.parametrize(
    "odd",
    [
        ["short", "é" * 32, "x" * 40],
        ["y" * 31, "z" * 33],  # 64 ASCII characters for two ids, but not 32 each
    ],
)
def test_ids_of_another_shape_are_written_as_given(odd: list[str]) -> None:
    n = len(odd)
    table = batches_table([LoggedBatch("m", 1, odd, np.zeros((n, 1)), ["x"], np.zeros(n), ts=TS)])
    assert table.column("prediction_id").to_pylist() == odd


@pytest.mark.parametrize("n", [1, 64])
def test_a_batch_without_time_gets_the_flushs(n: int) -> None:
    batch = LoggedBatch("m", 1, new_prediction_ids(n), np.zeros((n, 1)), ["x"], np.zeros(n))
    table = batches_table([batch])
    when = table.column("ts").to_pylist()
    assert len(set(when)) == 1 and when[0].year >= 2024


def test_batches_go_to_the_partition_of_their_utc_day(tmp_path: Path) -> None:
    midnight = 1_796_342_400.0  # 2026-12-04 00:00:00 UTC
    writer = PredictionLogWriter(str(tmp_path))
    for ts in (midnight - 0.1, midnight + 0.1, midnight + 86_399.9):
        writer.append(
            LoggedBatch("m", 1, new_prediction_ids(1, ts), np.zeros((1, 1)), ["x"], [0], ts=ts)
        )
    writer.flush()
    days = sorted(p.parent.name for p in tmp_path.rglob("*.parquet"))
    assert days == ["date=2026-12-03", "date=2026-12-04"]
    assert len(list(tmp_path.rglob("date=2026-12-04/*.parquet"))) == 1  # one segment a day
