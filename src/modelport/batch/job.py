"""Batch scoring as a service: :func:`score` is what the CLI, the demo and users call.

It resolves the model once (an alias that moves mid-job changes nothing), checks
the input, the output's directory and the requested columns before any output
exists, runs an engine, and makes the output final (an input without rows gives a
valid output without rows). Input that turns out unreadable part-way leaves no
output behind, nor does a failure before any part finished; any other
interruption leaves the parts and journal, and running the same job again
continues from them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from modelport.batch.local import ModelSpec, PartResult, run_local
from modelport.batch.scoring import PREDICTION, proba_columns
from modelport.batch.sinks import Output
from modelport.batch.sources import Source
from modelport.errors import DataError, InvalidArgument
from modelport.loaded import LoadedModel, load_model
from modelport.registry import Registry
from modelport.settings import Settings

Engine = Literal["local", "spark"]


@dataclass(frozen=True)
class BatchSummary:
    """What a batch job did."""

    ref: str
    engine: str
    rows_read: int
    rows_scored: int
    rows_rejected: int
    seconds: float
    output: str
    rejects: str | None
    parts: int
    parts_resumed: int

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": round(self.rows_per_second, 1)}


def score(
    ref: str,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    engine: Engine = "local",
    columns: list[str] | None = None,
    keep: list[str] | None = None,
    workers: int | None = None,
    batch_size: int = 100_000,
    input_format: str | None = None,
    output_format: str | None = None,
    probabilities: bool = True,
    overwrite: bool = False,
    trusted: bool | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    settings: Settings | None = None,
    registry: Registry | None = None,
    spark: Any | None = None,
    master: str | None = None,
) -> BatchSummary:
    """Score a Parquet, CSV or JSON Lines file or directory with a registered model.

    The output has the ``keep`` columns, ``prediction`` and, for classifiers,
    ``proba_<class>`` per class, in input order. Rows failing validation go to a
    rejects file with the reason. ``columns`` are the model's input columns
    (default: the signature's features). ``progress(rows_done, rows_total)`` is
    called as rows finish (``rows_total`` is None when unknown, for CSV/JSON).
    ``engine="spark"`` runs on ``spark`` (a SparkSession) or on a session it starts on
    ``master`` (``local[*]`` by default; ``spark://host:7077`` for a standalone cluster).

    >>> from modelport.batch import score
    >>> summary = score("credit-risk@production", "applications.parquet",
    ...                 "scores.parquet", keep=["application_id"])  # doctest: +SKIP
    >>> summary.rows_scored, summary.rejects                           # doctest: +SKIP
    (100000, None)
    """
    started = time.perf_counter()
    if engine not in ("local", "spark"):
        raise InvalidArgument(f"unknown engine {engine!r}", hint="use 'local' or 'spark'")
    if master is not None and engine != "spark":
        raise InvalidArgument(
            f"a Spark master ({master}) is given but the engine is {engine!r}",
            hint="add --engine spark, or leave out --master",
        )
    if batch_size < 1:
        raise InvalidArgument("batch_size must be at least 1", hint="e.g. 100000")
    source = Source(os.fspath(input), input_format)  # unreadable input fails here: no output yet
    sink = Output(os.fspath(output), output_format)
    sink.check_directory()
    owned = registry is None
    registry = registry or Registry(settings or Settings())
    try:
        exact = str(registry.resolve(ref))
        model = load_model(registry, exact, trusted=trusted)
        settings_data = registry.settings.model_dump(mode="json")
        # the dump masks secrets; the workers open the registry, so they need the key itself
        settings_data["artifact_key"] = registry.settings.artifact_key
    finally:
        if owned:
            registry.close()
    keep = list(keep or [])
    features = _features(model, source, columns)
    _check_columns(source, model, features, keep, probabilities)
    spec = ModelSpec(settings_data, exact, trusted, features, keep, probabilities, batch_size)
    fingerprint = {
        "ref": exact,
        "input": source.uri,
        "input_format": source.format,
        "output_format": sink.format,
        "features": features,
        "keep": keep,
        "probabilities": probabilities,
        "batch_size": batch_size,
        "engine": engine,
    }
    done = sink.start(fingerprint, overwrite=overwrite)
    if engine == "spark" and done:  # Spark retries tasks itself but does not resume jobs
        done = sink.start(fingerprint, overwrite=True)
    resumed = len(done)
    total = source.total_rows()
    finished = sum(p["rows"] for p in done.values())
    if progress and finished:
        progress(finished, total)

    def commit(result: PartResult) -> None:
        done[result.index] = result.counts()
        sink.commit(done, fingerprint)

    def advance(rows: int) -> None:
        if progress:
            progress(rows, total)

    try:
        if engine == "spark":
            from modelport.batch.spark import run_spark

            done = run_spark(spec, source, sink, spark=spark, master=master)
        else:
            run_local(
                spec,
                source,
                sink,
                done,
                commit,
                workers=workers or os.cpu_count() or 1,
                progress=advance,
            )
        rows = sum(p["rows"] for p in done.values())
        scored = sum(p["scored"] for p in done.values())
        rejected = rows - scored
        summary = BatchSummary(
            ref=exact,
            engine=engine,
            rows_read=rows,
            rows_scored=scored,
            rows_rejected=rejected,
            seconds=0.0,
            output=sink.uri,
            rejects=sink.rejects_path if rejected else None,
            parts=len(done),
            parts_resumed=resumed,
        )
        sink.finalize(sink.finished_parts(), sink.finished_reject_parts(), summary.to_dict())
    except DataError:
        sink.discard()  # bad input: a rerun cannot help, so leave nothing behind
        raise
    except BaseException:
        if not done:  # no finished part to resume from: keep nothing
            sink.discard()
        raise
    return _with_seconds(summary, time.perf_counter() - started)


def _with_seconds(summary: BatchSummary, seconds: float) -> BatchSummary:
    return BatchSummary(**{**asdict(summary), "seconds": round(seconds, 3)})


def _features(model: LoadedModel, source: Source, columns: list[str] | None) -> list[str]:
    """The model's input columns: those asked for, or the signature's present in the input."""
    if columns:
        return list(columns)
    if model.signature is None:
        raise InvalidArgument(
            f"{model.ref} has no signature, so its input columns are unknown",
            hint="name them with columns=[...] (--columns a,b,c)",
        )
    available = set(source.schema.names)
    missing = [f.name for f in model.signature.inputs if f.name not in available and not f.nullable]
    if missing:
        raise DataError(
            f"{source.uri} lacks the model's features: {', '.join(missing)}",
            hint=f"the input has: {', '.join(source.schema.names[:20])}",
        )
    return [f.name for f in model.signature.inputs if f.name in available]


def _check_columns(
    source: Source, model: LoadedModel, features: list[str], keep: list[str], proba: bool
) -> None:
    names = source.schema.names
    absent = [c for c in [*features, *keep] if c not in names]
    if absent:
        raise DataError(
            f"{source.uri} has no column {', '.join(repr(c) for c in absent)}",
            hint=f"the input has: {', '.join(names[:20])}",
        )
    produced = {PREDICTION, *(proba_columns(model.classes) if proba else [])}
    clash = [c for c in keep if c in produced]
    if clash:
        raise InvalidArgument(
            f"cannot keep {', '.join(clash)}: the output writes a column of that name",
            hint="rename the column in the input or do not keep it",
        )
