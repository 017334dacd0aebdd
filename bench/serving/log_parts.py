"""The prediction log's parts in process, this tree against an older one, interleaved.

    PYTHONPATH=src python bench/serving/log_parts.py --baseline <older tree's src/> [--rows 48]

On a shared machine the server's CPU per request moves by more than the log costs, so this
times each part the log adds to a request, in one process, the older tree's code and this
tree's one after the other, as CPU time of the calling thread (the best of 5 repeats):
the id made on the event loop, the batch function's hand-over (``ServedVersion._log``, for a
batch of ``--rows`` one-row requests of the bench's LR, with its out-of-distribution scores
and ``feature_text``, each tree's own),
and the writer thread's flush of a second of such batches (9,120 rows), with the Parquet
bytes per 100,000 rows. The rows are distinct rows of the training data (the server bench
sends one row again and again, which compresses far better than real traffic).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys
import tempfile
import textwrap
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.loaded import load_model
from modelport.monitoring import outliers
from modelport.predictions import PredictionLogWriter, ids, writer
from modelport.registry import Registry
from modelport.runtime import pool
from modelport.runtime.metrics import Metrics
from modelport.serving import ServeConfig
from modelport.settings import Settings

BATCHES = 190  # a second of batches at 64 connections (about 9,000 requests)


def module_from(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def method_from(path: Path, cls: str, name: str, namespace: dict[str, Any]) -> Any:
    """One method of a class in an older tree's file, compiled in ``namespace``."""
    source = path.read_text()
    tree = ast.parse(source)
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls).body
    node = next(n for n in body if isinstance(n, ast.FunctionDef) and n.name == name)
    scope = dict(namespace)
    exec(textwrap.dedent(ast.get_source_segment(source, node) or ""), scope)
    return scope[name]


def cpu_us(fn: Callable[[], object], number: int, per: int) -> float:
    """CPU microseconds of the calling thread per ``per`` units of one call (best of 5)."""
    best = min(timeit.repeat(fn, number=number, repeat=5, timer=time.thread_time))
    return best / number / per * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the older tree's src/")
    parser.add_argument("--rows", type=int, default=48, help="requests per batch")
    args = parser.parse_args()
    old_ids = module_from(args.baseline / "modelport/predictions/ids.py", "baseline_ids")
    old_writer = module_from(args.baseline / "modelport/predictions/writer.py", "baseline_writer")
    old_log = method_from(
        args.baseline / "modelport/runtime/pool.py",
        "ServedVersion",
        "_log",
        {**vars(pool), "LoggedBatch": old_writer.LoggedBatch},
    )
    feature_text = {
        "baseline": method_from(
            args.baseline / "modelport/monitoring/outliers.py",
            "OutlierScores",
            "feature_text",
            vars(outliers),
        ),
        "current": outliers.OutlierScores.feature_text,
    }

    settings = Settings(home=tempfile.mkdtemp(prefix="modelport-logparts-"), user="bench")
    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    modelport.register(
        LogisticRegression(max_iter=1000).fit(X, y), "lr", sample=X, settings=settings
    )
    log_writer = PredictionLogWriter(tempfile.mkdtemp(), flush_interval=3600)
    served = pool.ServedVersion(
        load_model(Registry(settings), "lr"), ServeConfig(), Metrics(), log_writer
    )
    n = args.rows

    def batch_items(first: int) -> tuple[list[Any], Any, Any, Any, Any]:
        now = time.perf_counter()
        items = [
            (served.loaded.columns([X[first + i].tolist()]), False, ids.new_prediction_ids(1),
             now - 0.001 * i, None, None, now)
            for i in range(n)
        ]  # fmt: skip
        batch = served.loaded.assemble([item[0] for item in items])
        predictions, probas = served.loaded.outputs(batch, proba=True)
        return items, batch, predictions, probas, served._score(batch, count=False)

    batches = [batch_items((k * n) % (len(X) - n)) for k in range(BATCHES)]
    lengths = [1] * n

    def hand_over(log: Any, target: Any) -> Callable[[], None]:
        def run() -> None:
            served.log_writer = target
            for items, batch, predictions, probas, scores in batches:
                log(served, items, lengths, batch, predictions, probas, set(), scores)
            target._buffer.clear()
            target._buffered_rows = 0

        return run

    results: dict[str, dict[str, float]] = {}
    old_target = old_writer.PredictionLogWriter(tempfile.mkdtemp(), flush_interval=3600)
    trees: dict[str, tuple[Any, Any, Any, Any]] = {
        "baseline": (old_ids.new_prediction_ids, old_log, old_target, old_writer),
        "current": (ids.new_prediction_ids, pool.ServedVersion._log, log_writer, writer),
    }
    for tag, (make_ids, log, target, module) in trees.items():
        outliers.OutlierScores.feature_text = feature_text[tag]  # type: ignore[method-assign]
        results[tag] = {
            "id per request (event loop)": cpu_us(lambda f=make_ids: f(1), 20000, 1),
            "_log per request (batch thread)": cpu_us(hand_over(log, target), 3, BATCHES * n),
        }
        # the writer thread: a second's batches, converted and written as one segment
        flushes: list[float] = []
        sizes: list[float] = []
        for _ in range(5):
            root = tempfile.mkdtemp(prefix="modelport-logparts-")
            flushing = module.PredictionLogWriter(root, flush_interval=3600)
            served.log_writer = flushing
            for items, batch, predictions, probas, scores in batches:
                log(served, items, lengths, batch, predictions, probas, set(), scores)
            started = time.thread_time()
            rows = flushing.flush()
            flushes.append((time.thread_time() - started) / rows * 1e6)
            size = sum(p.stat().st_size for p in Path(root).rglob("*.parquet"))
            sizes.append(size / rows * 1e5)
        results[tag]["flush per row (writer thread)"] = min(flushes)
        results[tag]["bytes per 100k rows"] = min(sizes)
    served.log_writer = log_writer
    outliers.OutlierScores.feature_text = feature_text["current"]  # type: ignore[method-assign]

    print(f"LR, batches of {n} one-row requests, {BATCHES} batches per flush; pid {os.getpid()}")
    print("| part | baseline | current |")
    print("| --- | ---: | ---: |")
    for part in results["baseline"]:
        unit = "" if part.startswith("bytes") else " us"
        print(
            f"| {part} | {results['baseline'][part]:,.2f}{unit} | "
            f"{results['current'][part]:,.2f}{unit} |"
        )
    cpu = [p for p in results["baseline"] if not p.startswith("bytes")]
    for tag in trees:
        print(f"{tag}: {sum(results[tag][p] for p in cpu):.2f} us per logged one-row request")


if __name__ == "__main__":
    main()
