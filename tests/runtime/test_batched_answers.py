"""Batched answers equal in-process ``modelport.load(...).predict`` for every kind of model.

Many concurrent clients send requests of 1 to 3 rows through a real served version (its
real batcher and batch thread), valid ones interleaved with invalid ones. Every valid
request must get exactly the predictions (and the probabilities) the Python API gives for
the same rows alone; every invalid one its own error naming the field, kind and row.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

import modelport
from modelport.errors import ValidationError
from modelport.loaded import load_model
from modelport.registry import Registry
from modelport.runtime.metrics import Metrics
from modelport.runtime.pool import ServedVersion
from modelport.serving import ServeConfig
from modelport.settings import Settings
from tests.runtime.tabular_cases import Case, Invalid, register_cases

CASES = ("array-lr", "frame-lr", "pipeline", "lightgbm")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("batched") / "home", user="tester")


@pytest.fixture(scope="module")
def cases(settings: Settings) -> dict[str, Case]:
    return register_cases(settings)


def plan_for(case: Case, clients: int) -> list[list[Any]]:
    """Each client's requests in order: valid ones dealt round-robin, an invalid one among
    every other client's, so that refused and answered requests interleave."""
    plan: list[list[Any]] = [[] for _ in range(clients)]
    for i, request in enumerate(case.valid):
        plan[i % clients].append(request)
    for k in range(0, clients, 2):
        bad = case.invalid[(k // 2) % len(case.invalid)]
        plan[k].insert(len(plan[k]) // 2, bad)
    return plan


def assert_refused(error: object, bad: Invalid) -> None:
    assert isinstance(error, ValidationError), error
    fields = {(p.field, p.kind) for p in error.problems}
    assert (bad.field, bad.kind) in fields, error.problems
    if bad.field != "*":
        problem = next(p for p in error.problems if p.field == bad.field)
        expected_row = next(
            (i for i, r in enumerate(bad.data) if _is_bad_row(r, bad)), 0
        )  # the row named is the bad one, not its neighbour
        assert problem.rows is None or expected_row in problem.rows, problem


def _is_bad_row(row: Any, bad: Invalid) -> bool:
    if isinstance(row, dict):
        value = row.get(bad.field, "absent")
        return value == "absent" or not isinstance(value, float) or value is True
    return any(isinstance(v, str) for v in row)


@pytest.mark.parametrize("on_loop", [False, True], ids=["thread", "loop"])
@pytest.mark.parametrize("name", CASES)
def test_batched_answers_equal_in_process_predictions(
    name: str, on_loop: bool, cases: dict[str, Case], settings: Settings
) -> None:
    case = cases[name]
    model = modelport.load(name, settings=settings)
    expected = [(model.predict(r), model.predict_proba(r)) for r in case.valid]
    registry = Registry(settings)
    metrics = Metrics()
    served = ServedVersion(load_model(registry, name), ServeConfig(), metrics)
    served.warm()
    # every batch in the batcher's thread, or on the event loop once measured (fast models)
    served.batcher.inline_seconds = 60.0 if on_loop else 0.0
    if on_loop:  # as if 8 heavy batches had been measured fast (the policy has its own tests)
        served.batcher._runs.extend([(0.0, 1_000_000)] * 8)
    plan = plan_for(case, clients=24)

    async def client(requests: list[Any]) -> list[object]:
        answers: list[object] = []
        for data in requests:
            payload = data.data if isinstance(data, Invalid) else data
            try:
                prepared = served.prepare(payload)
                answers.append(await served.predict(prepared, proba=True))
            except ValidationError as exc:
                answers.append(exc)
            await asyncio.sleep(0)  # come back one turn later, as over a network
        return answers

    async def main() -> list[list[object]]:
        try:
            return list(await asyncio.gather(*(client(r) for r in plan)))
        finally:
            await served.batcher.aclose()

    answers = asyncio.run(main())
    registry.close()
    position = {id(r): i for i, r in enumerate(case.valid)}
    answered = 0
    for requests, got in zip(plan, answers, strict=True):
        for data, answer in zip(requests, got, strict=True):
            if isinstance(data, Invalid):
                assert_refused(answer, data)
                continue
            assert isinstance(answer, tuple), answer
            labels, proba = answer
            want_labels, want_proba = expected[position[id(data)]]
            assert labels.tolist() == want_labels.tolist()
            assert proba is not None
            # the same rows in a batch of 64 go through other BLAS kernels than alone:
            # the last bit of a probability may differ, never more
            np.testing.assert_allclose(proba, want_proba, rtol=1e-12, atol=1e-15)
            answered += 1
    assert answered == len(case.valid)
    labels = {"model": name, "version": "1"}
    batches = metrics.registry.get_sample_value("modelport_batch_size_count", labels)
    bucket = {**labels, "le": "1.0"}
    alone = metrics.registry.get_sample_value("modelport_batch_size_bucket", bucket)
    assert batches is not None and alone is not None
    assert batches > alone  # requests really were batched together
    assert batches < len(case.valid)
    assert (served.batcher.inline_batches > 0) == on_loop
