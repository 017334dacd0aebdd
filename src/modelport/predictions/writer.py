"""The prediction log writer: buffer in memory, flush Parquet segments in the background.

The serving hot path only appends a reference to a batch it already has (no
copy, no I/O). A background thread turns the buffer into one Parquet segment
per (model, version, day) every ``flush_interval`` seconds, written under a
temporary name and renamed, so readers never see half a file. Each process
writes its own files (the pid is in the name), so server workers never contend.

On ``close()`` everything buffered is written; after ``kill -9`` at most one
flush interval of records is lost. If the disk falls so far behind that the
buffer passes ``max_buffered_rows``, new records are dropped and counted rather
than slowing responses.

Versions with a reference profile add ``ood_score`` (float32, the share of features unlike
training: :mod:`modelport.monitoring.outliers`) and ``ood_features`` (the offending
feature names, comma-separated; null where none); readers must not expect them in older
segments or from versions without a profile.

Layout (Hive-partitioned, read by DuckDB or Spark):
    <root>/predictions/model=<name>/version=<v>/date=<YYYY-MM-DD>/<time>-<pid>-<seq>.parquet
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from modelport.storage import open_location


@dataclass(slots=True)
class LoggedBatch:
    """Predictions made together: validated inputs, outputs, and their ids."""

    model: str
    version: int
    ids: list[str]
    inputs: Any  # the validated model input: DataFrame or 2-D array
    feature_names: list[str]
    predictions: Any
    proba: Any | None = None
    latency_ms: float | list[float] = 0.0
    #: epoch seconds: one for the batch, or one per row (after :func:`merge`)
    ts: float | list[float] = 0.0
    #: the deployment that routed the request: one for the batch, or one per row
    deployment: str | list[str | None] | None = None
    keys: list[str | None] | None = None
    #: per row, the out-of-distribution score (None: the version has no profile)
    ood_score: Any | None = None
    #: per row, the features unlike training joined by commas (None where there are none)
    ood_features: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.ids)


class PredictionLogWriter:
    """Appends are O(1) and thread-safe; a daemon thread writes Parquet segments."""

    def __init__(
        self,
        root_uri: str,
        *,
        flush_interval: float = 1.0,
        max_buffered_rows: int = 1_000_000,
    ) -> None:
        self.root_uri = root_uri.rstrip("/")
        location = open_location(self.root_uri)
        self.fs, self.root, self.local = location.fs, location.root, location.local
        self.flush_interval = flush_interval
        self.max_buffered_rows = max_buffered_rows
        self.written_rows = 0
        self.dropped_rows = 0
        self.segments = 0
        self._buffer: list[LoggedBatch] = []
        self._buffered_rows = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0

    # -- the hot path ---------------------------------------------------------------

    def append(self, batch: LoggedBatch) -> None:
        with self._lock:
            if self._buffered_rows + len(batch) > self.max_buffered_rows:
                self.dropped_rows += len(batch)
                return
            self._buffer.append(batch)
            self._buffered_rows += len(batch)

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> PredictionLogWriter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and write everything still buffered."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def __enter__(self) -> PredictionLogWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except Exception:  # keep logging alive; the next flush retries the buffer
                import logging

                logging.getLogger("modelport.predictions").exception("prediction log flush failed")

    # -- writing --------------------------------------------------------------------

    def flush(self) -> int:
        """Write what is buffered now; returns the number of rows written."""
        with self._flush_lock:
            with self._lock:
                batches, self._buffer = self._buffer, []
                self._buffered_rows = 0
            if not batches:
                return 0
            groups: dict[tuple[str, int, str], list[LoggedBatch]] = defaultdict(list)
            for batch in batches:
                when = batch.ts if isinstance(batch.ts, (int, float)) else batch.ts[0]
                day = datetime.fromtimestamp(when or time.time(), UTC).strftime("%Y-%m-%d")
                groups[(batch.model, batch.version, day)].append(batch)
            written = 0
            try:
                for (model, version, day), members in groups.items():
                    table = batch_table(merge(members))
                    self._write(model, version, day, table)
                    written += table.num_rows
            except BaseException:
                with self._lock:  # put it back: the next flush tries again
                    self._buffer[:0] = batches
                    self._buffered_rows += sum(len(b) for b in batches)
                raise
            self.written_rows += written
            return written

    def _write(self, model: str, version: int, day: str, table: pa.Table) -> None:
        # Parquet's writer is loaded by the first write, not by every server's start-up
        # (pyarrow itself comes with pandas).
        import pyarrow.parquet as pq

        self._seq += 1
        directory = f"{self.root}/predictions/model={model}/version={version}/date={day}"
        name = f"{int(time.time() * 1000)}-{os.getpid()}-{self._seq:06d}.parquet"
        if self.local:
            os.makedirs(directory, exist_ok=True)
            tmp = f"{directory}/.{name}.tmp"
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, f"{directory}/{name}")
        else:
            with self.fs.open(f"{directory}/{name}", "wb") as fh:
                pq.write_table(table, fh, compression="zstd")
        self.segments += 1


def merge(batches: list[LoggedBatch]) -> LoggedBatch:
    """Many small batches of one model version as one: a single conversion per flush.

    The server logs every model call (often a handful of rows); converting each to
    Arrow separately would cost more than the predictions did.
    """
    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    if isinstance(first.inputs, pd.DataFrame):
        inputs: Any = pd.concat([b.inputs for b in batches], ignore_index=True)
    else:
        inputs = np.concatenate([np.asarray(b.inputs) for b in batches])
    probas = [b.proba for b in batches]
    proba = None
    if any(p is not None for p in probas):
        width = next(np.asarray(p).shape[1] for p in probas if p is not None)
        proba = np.concatenate(
            [
                np.asarray(p, dtype=np.float64)
                if p is not None
                else np.full((len(b), width), np.nan)
                for p, b in zip(probas, batches, strict=True)
            ]
        )
    return LoggedBatch(
        model=first.model,
        version=first.version,
        ids=[i for b in batches for i in b.ids],
        inputs=inputs,
        feature_names=first.feature_names,
        predictions=np.concatenate([np.asarray(b.predictions) for b in batches]),
        proba=proba,
        latency_ms=np.concatenate([_per_row(b.latency_ms, len(b)) for b in batches]).tolist(),
        ts=np.concatenate([_per_row(b.ts or time.time(), len(b)) for b in batches]).tolist(),
        deployment=[d for b in batches for d in _deployments(b)],
        keys=[k for b in batches for k in (b.keys or [None] * len(b))],
        ood_score=_ood_scores(batches),
        ood_features=_ood_features(batches),
    )


def _ood_scores(batches: list[LoggedBatch]) -> np.ndarray | None:
    if all(b.ood_score is None for b in batches):
        return None
    return np.concatenate(
        [_per_row(np.nan if b.ood_score is None else b.ood_score, len(b)) for b in batches]
    )


def _ood_features(batches: list[LoggedBatch]) -> list[str | None] | None:
    if all(b.ood_features is None for b in batches):
        return None
    return [f for b in batches for f in (b.ood_features or [None] * len(b))]


def _deployments(batch: LoggedBatch) -> list[str | None]:
    if isinstance(batch.deployment, list):
        return batch.deployment
    return [batch.deployment] * len(batch)


def _per_row(value: Any, n: int) -> np.ndarray:
    if isinstance(value, (list, np.ndarray)):
        return np.asarray(value, dtype=np.float64)
    return np.full(n, value, dtype=np.float64)


def _column(values: Any) -> pa.Array:
    if isinstance(values, pd.Categorical):
        values = np.asarray(values.astype(object))
    array = np.asarray(values)
    if array.dtype == object:
        return pa.array([None if _missing(v) else v for v in array.tolist()], from_pandas=True)
    return pa.array(array)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def batch_table(batch: LoggedBatch) -> pa.Table:
    """One logged batch as an Arrow table (inputs as a struct column)."""
    n = len(batch.ids)
    if isinstance(batch.inputs, pd.DataFrame):
        children = [_column(batch.inputs[name].array) for name in batch.feature_names]
    else:
        matrix = np.asarray(batch.inputs)
        children = [pa.array(matrix[:, i]) for i in range(matrix.shape[1])]
    inputs = pa.StructArray.from_arrays(children, names=list(batch.feature_names))
    latency = batch.latency_ms
    latency_col = (
        pa.array(latency, pa.float32())
        if isinstance(latency, list)
        else pa.array(np.full(n, latency, dtype=np.float32))
    )
    columns: dict[str, Any] = {
        "prediction_id": pa.array(batch.ids, pa.string()),
        "ts": pa.array((_per_row(batch.ts or time.time(), n) * 1e6).astype(np.int64)).cast(
            pa.timestamp("us", tz="UTC")
        ),
        "deployment": pa.array(_deployments(batch), pa.string()),
        "key": pa.array(batch.keys if batch.keys is not None else [None] * n, pa.string()),
        "latency_ms": latency_col,
        "inputs": inputs,
        "prediction": _column(batch.predictions),
    }
    if batch.ood_score is not None:
        # NaN where a batch of another version had no score: null, not a number
        score = np.asarray(batch.ood_score, dtype=np.float32)
        columns["ood_score"] = pa.array(score, pa.float32(), mask=np.isnan(score))
        features = batch.ood_features if batch.ood_features is not None else [None] * n
        columns["ood_features"] = pa.array(features, pa.string())
    if batch.proba is not None:
        proba = np.asarray(batch.proba, dtype=np.float64)
        rows_missing = np.isnan(proba).all(axis=1)  # requests that did not ask for them
        columns["proba"] = pa.FixedSizeListArray.from_arrays(
            pa.array(proba.ravel()),
            proba.shape[1],
            mask=pa.array(rows_missing) if rows_missing.any() else None,
        )
    return pa.table(columns)
