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

import itertools
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

#: zstd at its default level; dictionaries only for the columns that repeat a few values.
#: Ids, times, latencies and real inputs are nearly all distinct: a dictionary page was
#: built for each, found too large and thrown away, which cost a third to two thirds of the
#: write and left the files larger (distinct rows of the bench's LR: 21.5 MB per 100k rows
#: with dictionaries everywhere, 17.4 MB without; zstd level 3 is slower and no smaller).
_PARQUET: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["deployment", "key", "ood_features"],
}


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
    #: one for the batch, or one per row (per request with ``request_rows``)
    latency_ms: float | list[float] | np.ndarray = 0.0
    #: epoch seconds: one for the batch, or one per row
    ts: float | list[float] = 0.0
    #: the deployment that routed the request: one for the batch, or one per row (per
    #: request with ``request_rows``)
    deployment: str | list[str | None] | None = None
    #: the sticky key per row (per request with ``request_rows``)
    keys: list[str | None] | None = None
    #: per row, the out-of-distribution score (None: the version has no profile)
    ood_score: Any | None = None
    #: per row, the features unlike training joined by commas (None where there are none)
    ood_features: list[str | None] | None = None
    #: the rows of each request, when latency, deployment and keys are given per request:
    #: the writer repeats them per row when it converts, off the predict thread
    request_rows: list[int] | None = None

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
            days: dict[int, str] = {}  # the day's name, made once per day, not per batch
            for batch in batches:
                when = batch.ts if isinstance(batch.ts, (int, float)) else batch.ts[0]
                number = int((when or time.time()) // 86400)
                day = days.get(number)
                if day is None:
                    day = days[number] = datetime.fromtimestamp(number * 86400, UTC).strftime(
                        "%Y-%m-%d"
                    )
                groups[(batch.model, batch.version, day)].append(batch)
            written = 0
            try:
                for (model, version, day), members in groups.items():
                    table = batches_table(members)
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
            pq.write_table(table, tmp, **_PARQUET)
            os.replace(tmp, f"{directory}/{name}")
        else:
            with self.fs.open(f"{directory}/{name}", "wb") as fh:
                pq.write_table(table, fh, **_PARQUET)
        self.segments += 1


def _rows(batch: LoggedBatch, values: Any) -> Any:
    """One batch's per-request values (a list, with ``request_rows``) repeated per row."""
    if batch.request_rows is None or len(batch.request_rows) == len(batch):
        return values
    if isinstance(values, np.ndarray):
        return np.repeat(values, batch.request_rows)
    return [v for v, n in zip(values, batch.request_rows, strict=True) for _ in range(n)]


def _numbers(
    batches: list[LoggedBatch], values: list[Any], dtype: type, *, per_request: bool = False
) -> np.ndarray:
    """One number per row from each batch's value: a scalar is repeated, a list or array
    is per row (per request with ``per_request`` where the batch has ``request_rows``)."""
    if not any(isinstance(v, (list, np.ndarray)) for v in values):
        return np.repeat(np.asarray(values, dtype=dtype), [len(b) for b in batches])
    parts: list[np.ndarray] = []
    for b, v in zip(batches, values, strict=True):
        if not isinstance(v, (list, np.ndarray)):
            parts.append(np.full(len(b), v, dtype=dtype))
        elif per_request:
            parts.append(_rows(b, np.asarray(v, dtype=dtype)))
        else:
            parts.append(np.asarray(v, dtype=dtype))
    return np.concatenate(parts)


def _texts(batches: list[LoggedBatch], n: int, per_row: Any) -> pa.Array:
    """A string column from every batch's ``per_row(batch)`` (None: the batch has none)."""
    parts = [per_row(b) for b in batches]
    if all(part is None or part.count(None) == len(part) for part in parts):
        return pa.nulls(n, pa.string())  # the common case, without a list of n Nones
    return pa.array(
        [v for b, part in zip(batches, parts, strict=True) for v in (part or [None] * len(b))],
        pa.string(),
    )


def _deployments(batch: LoggedBatch) -> list[str | None] | None:
    if isinstance(batch.deployment, list):
        return _rows(batch, batch.deployment)  # type: ignore[no-any-return]
    return None if batch.deployment is None else [batch.deployment] * len(batch)


def _keys(batch: LoggedBatch) -> list[str | None] | None:
    return None if batch.keys is None else _rows(batch, batch.keys)


def _ids(batches: list[LoggedBatch], n: int) -> pa.Array:
    """The ids as one string array; ours (32 ASCII characters each) from one buffer."""
    ids = list(itertools.chain.from_iterable(b.ids for b in batches))
    text = "".join(ids)
    # ids of another shape, or more than 32-bit offsets can address: one by one
    if set(map(len, ids)) != {32} or not text.isascii() or len(text) >= 2**31:
        return pa.array(ids, pa.string())
    offsets = np.arange(0, 32 * n + 1, 32, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text.encode("ascii"))]
    )


def _inputs(batches: list[LoggedBatch]) -> pa.StructArray:
    names = list(batches[0].feature_names)
    if isinstance(batches[0].inputs, pd.DataFrame):
        frame = (
            batches[0].inputs
            if len(batches) == 1
            else pd.concat([b.inputs for b in batches], ignore_index=True)
        )
        children = [_column(frame[name].array) for name in names]
    else:
        matrix = np.concatenate([np.asarray(b.inputs) for b in batches])
        # one copy into feature-major order, so each column is a contiguous buffer
        columns = np.ascontiguousarray(matrix.T)
        children = [pa.array(columns[i]) for i in range(columns.shape[0])]
    return pa.StructArray.from_arrays(children, names=names)


def _proba(batches: list[LoggedBatch]) -> pa.FixedSizeListArray | None:
    probas = [b.proba for b in batches]
    if all(p is None for p in probas):
        return None
    width = next(np.asarray(p).shape[1] for p in probas if p is not None)
    proba = np.concatenate(
        [
            np.asarray(p, dtype=np.float64) if p is not None else np.full((len(b), width), np.nan)
            for p, b in zip(probas, batches, strict=True)
        ]
    )
    rows_missing = np.isnan(proba).all(axis=1)  # requests that did not ask for them
    return pa.FixedSizeListArray.from_arrays(
        pa.array(proba.ravel()),
        proba.shape[1],
        mask=pa.array(rows_missing) if rows_missing.any() else None,
    )


def _column(values: Any) -> pa.Array:
    if isinstance(values, pd.Categorical):
        values = np.asarray(values.astype(object))
    array = np.asarray(values)
    if array.dtype == object:
        return pa.array([None if _missing(v) else v for v in array.tolist()], from_pandas=True)
    return pa.array(array)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def batches_table(batches: list[LoggedBatch]) -> pa.Table:
    """Batches of one model version as one Arrow table (inputs as a struct column).

    The server logs every model call (often a handful of rows), so a flush holds hundreds
    of batches: each column is built once for all of them, from their arrays, and values
    given once per batch or per request are repeated here, off the predict thread.
    """
    n = sum(len(b) for b in batches)
    now = time.time()  # for a batch without a time
    ts = _numbers(batches, [b.ts or now for b in batches], np.float64)
    latency = _numbers(batches, [b.latency_ms for b in batches], np.float32, per_request=True)
    columns: dict[str, Any] = {
        "prediction_id": _ids(batches, n),
        "ts": pa.array((ts * 1e6).astype(np.int64)).cast(pa.timestamp("us", tz="UTC")),
        "deployment": _texts(batches, n, _deployments),
        "key": _texts(batches, n, _keys),
        "latency_ms": pa.array(latency, pa.float32()),
        "inputs": _inputs(batches),
        "prediction": _column(np.concatenate([np.asarray(b.predictions) for b in batches])),
    }
    if any(b.ood_score is not None for b in batches):
        # null, not a number, where a batch of another version had no score
        score = np.concatenate(
            [
                np.full(len(b), np.nan, np.float32)
                if b.ood_score is None
                else np.asarray(b.ood_score, dtype=np.float32)
                for b in batches
            ]
        )
        columns["ood_score"] = pa.array(score, pa.float32(), mask=np.isnan(score))
        columns["ood_features"] = _texts(batches, n, lambda b: b.ood_features)
    proba = _proba(batches)
    if proba is not None:
        columns["proba"] = proba
    return pa.table(columns)
