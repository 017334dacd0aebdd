"""The Spark engine: the same job on Apache Spark, with ``mapInPandas``.

The verified artifact directory is packed once on the driver and broadcast; each
Python worker unpacks and loads it on first use and keeps it for later tasks, so
executors never need the registry. Every partition is scored by the same
:class:`~modelport.batch.scoring.Scorer` as the local engine, and Spark's part
files are then finalized by the same :class:`~modelport.batch.sinks.Output`, so
both engines give the same output row for row. pyspark is imported lazily: it is
the optional extra ``spark``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from modelport.archives import extract_archive
from modelport.batch.local import ModelSpec
from modelport.batch.scoring import PREDICTION, Scorer
from modelport.batch.sinks import Output
from modelport.batch.sources import Source
from modelport.errors import DataError, InvalidArgument, MissingExtraError
from modelport.flavors import get_flavor
from modelport.loaded import LoadedModel
from modelport.registry import ModelVersion, Registry
from modelport.settings import Settings

_ROW = "_modelport_reject"  # the rejected row's input values as JSON, on the output stream
_loaded: dict[str, Scorer] = {}  # per Python worker: broadcast id -> Scorer


def spark_session(master: str | None = None) -> Any:
    """The active SparkSession, or a new one on ``master`` using this Python for workers.

    ``master`` is any Spark master URL: ``local[*]`` (the default), a standalone cluster
    ``spark://host:7077``, ``yarn``, ``k8s://https://host:443``. On a cluster every
    executor runs the Python at this interpreter's path (``PYSPARK_PYTHON`` overrides it)
    and imports modelport there, and the input and output must be paths every executor
    can reach (shared storage, s3://, hdfs://).
    """
    active = _active_session()
    if active is not None:
        running = active.sparkContext.master
        if master is not None and running != master:
            raise InvalidArgument(
                f"this process already runs a Spark session on {running}, not {master}",
                hint="stop that session first, or leave out the master to use it",
            )
        return active
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master or "local[*]").appName("modelport-batch")
    return builder.getOrCreate()


def _active_session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise MissingExtraError("pyspark", "spark") from exc
    return SparkSession.getActiveSession()


def run_spark(
    spec: ModelSpec,
    source: Source,
    output: Output,
    *,
    spark: Any | None = None,
    master: str | None = None,
) -> dict[int, dict[str, int]]:
    """Score ``source`` into ``output``'s staging area; returns counts per Spark part.

    ``spark`` is a session to use; without one a session on ``master`` is started (see
    :func:`spark_session`), and stopped at the end if this job started it.
    """
    owned = spark is None and _active_session() is None
    session = spark or spark_session(master)
    try:
        return _run(spec, source, output, session)
    finally:
        if owned:
            session.stop()  # a cluster's executors are freed for the next application


def _run(
    spec: ModelSpec, source: Source, output: Output, session: Any
) -> dict[int, dict[str, int]]:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    version, packed = _pack(spec)
    # the driver decrypted the artifact: executors need no artifact key (nor to store it)
    keyless = dataclasses.replace(spec, settings={**spec.settings, "artifact_key": None})
    shipped = session.sparkContext.broadcast((version, packed, keyless))
    scorer = _scorer(shipped.value)  # on the driver: the output schema, and fail fast
    frame = _read(session, source, [*dict.fromkeys([*spec.keep, *spec.features])])
    sample = scorer.score(frame.limit(0).toPandas()).scored
    fields = [f for f in frame.schema.fields if f.name in spec.keep]
    fields.append(T.StructField(PREDICTION, _spark_type(sample[PREDICTION], scorer, T)))
    fields += [T.StructField(c, T.DoubleType()) for c in scorer.proba_columns]
    fields.append(T.StructField(_ROW, T.StringType()))
    schema = T.StructType(fields)
    ship_id = uuid.uuid4().hex

    def score_partition(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        local = _worker_scorer(ship_id, shipped)
        for chunk in chunks:
            result = local.score(chunk)
            out = result.scored.copy()
            out[_ROW] = None
            yield out
            if len(result.rejected):
                rejects = pd.DataFrame({c: [None] * len(result.rejected) for c in schema.names})
                rejects[_ROW] = result.rejected.to_json(orient="records", lines=True).splitlines()
                yield rejects

    key = "spark.sql.execution.arrow.maxRecordsPerBatch"  # rows per chunk given to the model
    previous = session.conf.get(key, None)
    session.conf.set(key, str(spec.batch_size))
    scored = frame.mapInPandas(score_partition, schema).persist()
    try:
        staging = f"{output.staging}/_spark"
        good = scored.where(F.col(_ROW).isNull()).drop(_ROW)
        bad = scored.where(F.col(_ROW).isNotNull()).select(_ROW)
        writer = good.write.mode("overwrite")
        if output.format == "csv":
            writer.option("header", True).csv(f"{staging}/scored")
        elif output.format == "json":
            writer.option("ignoreNullFields", False).json(f"{staging}/scored")
        else:
            writer.parquet(f"{staging}/scored")
        bad.write.mode("overwrite").text(f"{staging}/rejected")
    except Exception as exc:
        if type(exc).__name__ in ("AnalysisException", "Py4JJavaError"):
            raise DataError(
                f"Spark could not score {source.uri}: {exc}", hint="check the input"
            ) from exc
        raise
    finally:
        scored.unpersist()
        shipped.unpersist()
        if previous is None:
            session.conf.unset(key)
        else:
            session.conf.set(key, previous)
    scored_rows, rejected = _adopt(output, staging)
    return {0: {"rows": scored_rows + rejected, "scored": scored_rows, "rejected": rejected}}


def _pack(spec: ModelSpec) -> tuple[ModelVersion, bytes]:
    """The version record and its verified artifact directory as tar bytes."""
    registry = Registry(Settings(**spec.settings))
    try:
        version = registry.get(spec.ref)
        directory = registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256)
    finally:
        registry.close()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(directory, arcname=".")
    return version, buffer.getvalue()


def _scorer(shipped: tuple[ModelVersion, bytes, ModelSpec]) -> Scorer:
    version, packed, spec = shipped
    target = tempfile.mkdtemp(prefix="modelport-spark-")
    extract_archive(packed, Path(target))
    trusted = Settings(**spec.settings).trust_pickles if spec.trusted is None else spec.trusted
    try:
        predictor = get_flavor(version.flavor).load(
            Path(target), version.flavor_options, trusted=trusted
        )
    finally:
        shutil.rmtree(target, ignore_errors=True)  # the model is in memory now
    model = LoadedModel(version, predictor, 0.0)
    return Scorer(model, spec.features, spec.keep, probabilities=spec.probabilities)


def _worker_scorer(ship_id: str, shipped: Any) -> Scorer:
    scorer = _loaded.get(ship_id)
    if scorer is None:  # first task in this Python worker: load once, keep for the next ones
        scorer = _loaded[ship_id] = _scorer(shipped.value)
    return scorer


def _read(session: Any, source: Source, columns: list[str]) -> Any:
    paths = [source.fs.unstrip_protocol(f) if not source.local else f for f in source.files]
    reader = session.read
    if source.format == "csv":
        frame = reader.option("header", True).option("inferSchema", True).csv(paths)
    elif source.format == "json":
        frame = reader.json(paths)
    else:
        frame = reader.parquet(*paths)
    return frame.select(*columns)


def _spark_type(values: pd.Series, scorer: Scorer, T: Any) -> Any:
    classes = scorer.model.classes
    if classes is None or pd.api.types.is_float_dtype(values.dtype):
        return T.DoubleType()
    if pd.api.types.is_bool_dtype(values.dtype):
        return T.BooleanType()
    if pd.api.types.is_integer_dtype(values.dtype):
        return T.LongType()
    return T.StringType()


def _adopt(output: Output, staging: str) -> tuple[int, int]:
    """Move Spark's part files into the staging area as ``part-NNNNN``, in Spark's order.

    Returns the scored and rejected row counts, read from the files (cheaper than
    asking Spark to count, which would be another job).
    """
    fs = output.fs
    names = sorted(
        n
        for n in fs.ls(f"{staging}/scored", detail=False)
        if n.rsplit("/", 1)[-1].startswith("part-")
    )
    scored = 0
    for index, name in enumerate(names):
        fs.mv(name, output.part_path(index))
        scored += _count_rows(fs, output.part_path(index), output.format)
    rejected = sorted(
        n
        for n in fs.ls(f"{staging}/rejected", detail=False)
        if n.rsplit("/", 1)[-1].startswith("part-")
    )
    index = total_rejected = 0
    for name in rejected:
        with fs.open(name, "rb") as handle:
            lines = [json.loads(line) for line in handle.read().decode().splitlines() if line]
        if lines:
            output.write_rejects(index, pd.DataFrame(lines))
            index += 1
            total_rejected += len(lines)
    fs.rm(staging, recursive=True)
    return scored, total_rejected


def _count_rows(fs: Any, path: str, fmt: str) -> int:
    with fs.open(path, "rb") as handle:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(handle).metadata.num_rows)
        lines: int = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 22), b""))
        return lines - 1 if fmt == "csv" else lines
