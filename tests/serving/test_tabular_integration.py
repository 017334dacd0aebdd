"""Over a real server, under concurrent load: V1 answers equal the Python API's for the
array-trained and DataFrame-trained LogisticRegression, the Pipeline with categoricals and
LightGBM on a DataFrame, with refused requests interleaved (422 naming the field)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import modelport
from modelport.settings import Settings
from tests.runtime.tabular_cases import Case, Invalid, register_cases
from tests.runtime.test_batched_answers import CASES, plan_for
from tests.serving.conftest import start_server, stop_server


@pytest.mark.integration
def test_v1_answers_under_concurrent_load_equal_the_python_api(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = Settings(home=tmp_path_factory.mktemp("tabular") / "home", user="tester")
    cases = register_cases(settings, rows=160)
    expected: dict[str, list[tuple[list[Any], np.ndarray]]] = {}
    for name in CASES:
        model = modelport.load(name, settings=settings)
        expected[name] = [
            (model.predict(r).tolist(), model.predict_proba(r)) for r in cases[name].valid
        ]
    log = Path(tmp_path_factory.mktemp("tabular-log")) / "server.log"
    server = start_server(settings.resolved_home(), log, *CASES, "--max-wait-ms", "1")
    plans = {name: plan_for(cases[name], clients=16) for name in CASES}

    async def client(name: str, requests: list[Any], http: httpx.AsyncClient) -> list[Any]:
        got = []
        for data in requests:
            payload = data.data if isinstance(data, Invalid) else data
            body = {"instances": payload, "parameters": {"probabilities": True}}
            r = await http.post(f"/v1/models/{name}:predict", json=body)
            got.append((r.status_code, r.json()))
        return got

    async def main() -> dict[str, list[list[Any]]]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as http:
            jobs = {
                name: asyncio.gather(*(client(name, r, http) for r in plan))
                for name, plan in plans.items()
            }
            return {name: list(await job) for name, job in jobs.items()}

    try:
        answers = asyncio.run(main())
    finally:
        stop_server(server)
    for name in CASES:
        case: Case = cases[name]
        position = {id(r): i for i, r in enumerate(case.valid)}
        for requests, got in zip(plans[name], answers[name], strict=True):
            for data, (status, body) in zip(requests, got, strict=True):
                if isinstance(data, Invalid):
                    assert status == 422, body
                    fields = {(p["field"], p["kind"]) for p in body["problems"]}
                    assert (data.field, data.kind) in fields, body
                    continue
                assert status == 200, body
                labels, proba = expected[name][position[id(data)]]
                assert body["predictions"] == labels, name
                np.testing.assert_allclose(
                    np.asarray(body["probabilities"]), proba, rtol=1e-12, atol=1e-15
                )
