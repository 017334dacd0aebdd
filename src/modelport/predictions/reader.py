"""Reading the prediction log and feedback back with DuckDB (a directory or an fsspec URL).

The log is Hive-partitioned Parquet (model=, version=, date=) and feedback is
JSON Lines, so any Parquet engine (Spark, Polars) reads the same files; DuckDB
is the embedded default. On object storage (``s3://`` ...) the files are listed
with fsspec and DuckDB reads them through the same fsspec filesystem (registered
with the connection), so no DuckDB extension has to be fetched.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from modelport.predictions.ids import id_time
from modelport.storage import open_location


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PredictionLogReader:
    """Queries over ``<root>/predictions`` and ``<root>/feedback``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.location = open_location(str(root))

    def _connect(self) -> Any:
        import duckdb  # only where the log is read, not in every server that writes it

        con = duckdb.connect()
        if not self.location.local:
            con.register_filesystem(self.location.fs)
        return con

    def _glob(self, pattern: str) -> list[str]:
        """Files matching ``pattern`` under the root, as paths or URLs DuckDB opens."""
        if self.location.local:
            return sorted(glob.glob(str(self.root / pattern)))
        found = self.location.fs.glob(f"{self.location.root}/{pattern}")
        return sorted(self.location.url(path) for path in found)

    def _files(self, model: str | None, day: str | None = None) -> list[str]:
        partition = f"model={model}" if model else "model=*"
        return self._glob(f"predictions/{partition}/version=*/date={day or '*'}/*.parquet")

    def _feedback_files(self) -> list[str]:
        return self._glob("feedback/date=*/*.jsonl")

    def predictions(
        self,
        model: str,
        *,
        version: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        with_feedback: bool = False,
    ) -> pd.DataFrame:
        """One row per logged prediction, inputs as plain columns, newest last.

        Columns: prediction_id, ts (UTC), version, deployment, key, latency_ms,
        prediction, ``proba`` (an array of class probabilities per row, None where not
        logged; only when some file of the model has it), ``ood_score`` and
        ``ood_features`` (the out-of-distribution score and the offending features; only
        when some file has them, null in the others), then the inputs, and with
        ``with_feedback`` the latest ``label`` (JSON text, None without feedback) and who sent
        it, ``feedback_source`` (None when unknown).
        """
        files = self._files(model)
        if not files:
            return pd.DataFrame()
        where = ["true"]
        if version is not None:
            where.append(f"version = {int(version)}")
        if since is not None:
            where.append(f"ts >= {_sql_str(since.isoformat())}::TIMESTAMPTZ")
        if until is not None:
            where.append(f"ts < {_sql_str(until.isoformat())}::TIMESTAMPTZ")
        source = (
            f"read_parquet([{', '.join(_sql_str(f) for f in files)}], "
            "hive_partitioning = true, union_by_name = true)"
        )
        con = self._connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            # classifiers log class probabilities; other models' files have no such column
            present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            proba = ", proba" if "proba" in present else ""
            # segments written before the out-of-distribution score, or without a profile
            ood = ", ood_score, ood_features" if "ood_score" in present else ""
            query = (
                f"SELECT prediction_id, ts, CAST(version AS INTEGER) AS version, deployment, key, "
                f"latency_ms, prediction{proba}{ood}, unnest(inputs) FROM {source} "
                f"WHERE {' AND '.join(where)}"
            )
            if with_feedback and self._feedback_files():
                con.execute(f"CREATE VIEW feedback AS {self._feedback_sql()}")
                query = (
                    f"SELECT p.*, f.label, f.source AS feedback_source FROM ({query}) p "
                    f"LEFT JOIN feedback f USING (prediction_id)"
                )
            elif with_feedback:
                query = f"SELECT *, NULL AS label, NULL AS feedback_source FROM ({query})"
            frame: pd.DataFrame = con.execute(f"{query} ORDER BY ts, prediction_id").df()
            return frame
        finally:
            con.close()

    def _feedback_sql(self) -> str:
        files = ", ".join(_sql_str(f) for f in self._feedback_files())
        # The latest label for an id wins: feedback can be corrected by sending it again.
        # The source is the latest label's own (arg_max_null: None when that line has none).
        return (
            f"SELECT prediction_id, arg_max(label, ts) AS label, max(ts) AS feedback_ts, "
            f"arg_max_null(source, ts) AS source "
            f"FROM read_json([{files}], format = 'newline_delimited', columns = "
            f"{{prediction_id: 'VARCHAR', label: 'JSON', ts: 'TIMESTAMPTZ', source: 'VARCHAR'}}) "
            f"GROUP BY prediction_id"
        )

    def feedback(self) -> pd.DataFrame:
        if not self._feedback_files():
            return pd.DataFrame(columns=["prediction_id", "label", "feedback_ts", "source"])
        con = self._connect()
        try:
            feedback: pd.DataFrame = con.execute(self._feedback_sql()).df()
            return feedback
        finally:
            con.close()

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are in the log (searching only the day partitions they belong to)."""
        return set(self.locate(ids))

    def locate(self, ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """The (model, version) of each of ``ids`` that is in the log; absent ids are left out.

        Only the day partitions the ids were made on are searched (the day is in the id).
        """
        by_day: dict[str, list[str]] = {}
        for pid in ids:
            when = id_time(pid)
            if when is not None:
                by_day.setdefault(when.strftime("%Y-%m-%d"), []).append(pid)
        found: dict[str, tuple[str, int]] = {}
        if not by_day:
            return found
        con = self._connect()
        try:
            for day, wanted in by_day.items():
                files = self._files(None, day)
                if not files:
                    continue
                con.register("wanted", pd.DataFrame({"prediction_id": wanted}))
                rows = con.execute(
                    f"SELECT DISTINCT p.prediction_id, CAST(p.model AS VARCHAR), "
                    f"CAST(p.version AS INTEGER) FROM read_parquet("
                    f"[{', '.join(_sql_str(f) for f in files)}], hive_partitioning = true, "
                    # a model named 007 must stay "007", not become the number 7
                    f"hive_types_autocast = false, union_by_name = true) p "
                    f"JOIN wanted USING (prediction_id)"
                ).fetchall()
                found.update((pid, (model, int(version))) for pid, model, version in rows)
        finally:
            con.close()
        return found

    def size_bytes(self) -> int:
        if not self.location.local:
            return sum(int(self.location.fs.size(f)) for f in self._files(None))
        return sum(os.path.getsize(f) for f in self._files(None))
