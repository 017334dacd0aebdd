"""The local engine: score parts in a pool of worker processes on this machine.

Each worker loads the model once (process initializer) and then scores whole
parts: it reads the rows (Parquet parts it reads itself, so data never crosses
a pipe; CSV/JSON rows arrive from the coordinator), validates, predicts and
writes the part file. The coordinator only hands out parts, records finished
ones in the journal and reports progress. With one worker everything runs in
this process, which is quicker for small inputs and simpler to debug.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from modelport.batch.scoring import Scorer
from modelport.batch.sinks import Output
from modelport.batch.sources import ParquetPart, Source
from modelport.loaded import load_model
from modelport.registry import Registry
from modelport.settings import Settings


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to load the model and score: plain, picklable data."""

    settings: dict[str, Any]
    ref: str  # exact name:version, so moving an alias mid-job changes nothing
    trusted: bool | None
    features: list[str]
    keep: list[str]
    probabilities: bool
    batch_size: int

    def scorer(self) -> Scorer:
        registry = Registry(Settings(**self.settings))
        try:
            model = load_model(registry, self.ref, trusted=self.trusted)
        finally:
            registry.close()
        return Scorer(model, self.features, self.keep, probabilities=self.probabilities)


@dataclass(frozen=True)
class PartResult:
    index: int
    rows: int
    scored: int
    rejected: int

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "scored": self.scored, "rejected": self.rejected}


Progress = Callable[[int], None]

# -- worker side: one Scorer per process -----------------------------------------------------

_scorer: Scorer | None = None
_progress: Any = None
_batch_size = 100_000


def _init_worker(spec: ModelSpec, progress: Any) -> None:
    global _scorer, _progress
    _scorer = spec.scorer()
    _progress = progress


def _score_batches(
    index: int, batches: Iterator[pa.RecordBatch], output: Output, schema: pa.Schema
) -> PartResult:
    """Score a part's batches into its file; ``schema`` (the input columns') types a part
    without rows, which must still be a file with the output's columns."""
    assert _scorer is not None, "worker not initialised"
    rows = scored = 0
    rejects: list[pd.DataFrame] = []
    with output.part_writer(index) as writer:
        for batch in batches:
            chunk = _scorer.score(batch.to_pandas())
            writer.write(chunk.scored)
            if len(chunk.rejected):
                rejects.append(chunk.rejected)
            rows += batch.num_rows
            scored += len(chunk.scored)
            _report(batch.num_rows)
        if not writer.rows:
            writer.write(_scorer.score(schema.empty_table().to_pandas()).scored)
    output.write_rejects(
        index, pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame()
    )
    return PartResult(index, rows, scored, rows - scored)


def _report(rows: int) -> None:
    if callable(_progress):
        _progress(rows)
    elif _progress is not None:
        _progress.put(rows)


def _score_parquet_part(source: Source, part: ParquetPart, output: Output) -> PartResult:
    assert _scorer is not None, "worker not initialised"
    columns = list(dict.fromkeys([*_scorer.keep, *_scorer.features]))
    batches = source.read_part(part, columns, _batch_size)
    return _score_batches(part.index, batches, output, _input_schema(source, columns))


def _score_rows(index: int, batch: pa.RecordBatch, output: Output) -> PartResult:
    return _score_batches(index, iter([batch]), output, batch.schema)


def _score_nothing(source: Source, columns: list[str], output: Output) -> PartResult:
    """The one part of an input without rows: a valid, empty output, not a missing one."""
    return _score_batches(0, iter(()), output, _input_schema(source, columns))


def _input_schema(source: Source, columns: list[str]) -> pa.Schema:
    return pa.schema([source.schema.field(c) for c in columns if c in source.schema.names])


def _set_batch_size(size: int) -> None:
    global _batch_size
    _batch_size = size


# -- coordinator side -------------------------------------------------------------------------


def run_local(
    spec: ModelSpec,
    source: Source,
    output: Output,
    done: dict[int, dict[str, int]],
    commit: Callable[[PartResult], None],
    *,
    workers: int,
    progress: Progress | None = None,
) -> None:
    """Score every part not in ``done``; ``commit`` is called as each part finishes."""
    if workers <= 1:
        _init_worker(spec, progress)
        _set_batch_size(spec.batch_size)
        for function, *args in _tasks(spec, source, output, done):
            commit(function(*args))
        return
    context = _context()
    reports = context.Queue()
    # forked workers inherit a model loaded here once; spawned ones load their own
    inherited = spec.scorer() if context.get_start_method() == "fork" else None
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_pool_worker,
        initargs=(spec, reports, inherited),
    ) as pool:
        pending: set[Future[PartResult]] = set()
        try:
            for function, *args in _tasks(spec, source, output, done):
                pending.add(pool.submit(function, *args))
                while len(pending) >= workers * 2:  # bounded: CSV/JSON rows are in flight
                    pending = _collect(pending, commit, reports, progress)
            while pending:
                pending = _collect(pending, commit, reports, progress)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        _drain(reports, progress)


def _context() -> Any:
    """``fork`` where there is one: a worker then starts with the libraries already imported
    (importing scikit-learn and skops costs seconds per process); else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _init_pool_worker(spec: ModelSpec, reports: Any, inherited: Scorer | None) -> None:
    global _scorer, _progress
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # the pool is the parallelism: one BLAS/OpenMP thread per worker
    _set_batch_size(spec.batch_size)
    _scorer = inherited or spec.scorer()
    _progress = reports


def _collect(
    pending: set[Future[PartResult]],
    commit: Callable[[PartResult], None],
    reports: Any,
    progress: Progress | None,
) -> set[Future[PartResult]]:
    finished, rest = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
    _drain(reports, progress)
    for future in sorted(finished, key=lambda f: f.result().index):
        commit(future.result())
    return rest


def _drain(reports: Any, progress: Progress | None) -> None:
    while True:
        try:
            rows = reports.get_nowait()
        except queue.Empty:
            return
        if progress is not None:
            progress(rows)


def _tasks(
    spec: ModelSpec, source: Source, output: Output, done: dict[int, dict[str, int]]
) -> Iterator[tuple[Any, ...]]:
    """The parts still to do, in input order, as ``(function, *args)`` for here or the pool."""
    columns = list(dict.fromkeys([*spec.keep, *spec.features]))
    parts = 0
    if source.format == "parquet":
        for part in source.plan(spec.batch_size):
            parts += 1
            if part.index not in done:
                yield _score_parquet_part, source, part, output
    else:
        for index, batch in enumerate(source.stream(columns, spec.batch_size, spec.features)):
            parts += 1
            if index not in done:  # CSV/JSON: finished parts are still read, but not scored
                yield _score_rows, index, batch, output
    if not parts and 0 not in done:
        yield _score_nothing, source, columns, output
