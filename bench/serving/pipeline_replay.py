"""In process: CPU per call of the bench's Pipeline against its NumPy replay, 1 and 64 rows.

    PYTHONPATH=src python bench/serving/pipeline_replay.py [--repeats 300]

Both from the same validated requests (one V1 record each), as a batch gets them: the
Pipeline on the frame ``LoadedModel.assemble`` built before the replay existed (building it
included), the replay on the object array it builds now (building it included). Thread CPU
time, median of ``--repeats`` calls.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from run import build_models, record

import modelport
from modelport.schema.columns import assemble
from modelport.settings import Settings


def cpu_us(call: Callable[[], Any], repeats: int) -> float:
    spent = []
    for _ in range(repeats):
        started = time.thread_time()
        call()
        spent.append(time.thread_time() - started)
    return statistics.median(spent) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    case = build_models()["pipeline"]
    settings = Settings(home=tempfile.mkdtemp(prefix="modelport-replay-"), user="bench")
    modelport.register(case.model, "pipeline", sample=case.train, settings=settings)
    model = modelport.load("pipeline", settings=settings)
    assert model.on_mixed_arrays is not None, "the replay was not taken"
    pipeline, signature = model.predictor, model.signature
    assert signature is not None
    print("| rows | Pipeline on its frame, us | replay on the object array, us | ratio |")
    print("| ---: | ---: | ---: | ---: |")
    for rows in (1, 64):
        parts = [model.columns([record(case.train, i)]) for i in range(rows)]
        before = cpu_us(
            lambda p=parts: pipeline.predict_proba(assemble(signature, p)), args.repeats
        )
        after = cpu_us(lambda p=parts: model.outputs(model.assemble(p)), args.repeats)
        print(f"| {rows} | {before:,.0f} | {after:,.0f} | {before / after:.1f}x |")


if __name__ == "__main__":
    main()
