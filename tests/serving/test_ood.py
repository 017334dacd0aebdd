"""Out-of-distribution scores in the server: logged, exported, and the reject policy.

``risk`` is a python-flavor model on a DataFrame (two numbers, one category), registered
with ``allow_unknown_categories=True``: validation lets an unseen category through, and
only the out-of-distribution policy can refuse it.
"""

from __future__ import annotations

import asyncio
import os
import re
import warnings
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.errors import InvalidArgument, OutOfDistribution
from modelport.loaded import load_model
from modelport.monitoring.monitor import run_monitor
from modelport.predictions import LoggedBatch, PredictionLogWriter
from modelport.predictions.reader import PredictionLogReader
from modelport.registry import Registry
from modelport.runtime.config import BatchConfig, ServeConfig, parse_ood_policy
from modelport.runtime.metrics import Metrics
from modelport.runtime.pool import ServedVersion
from modelport.serving import __main__ as entry
from modelport.serving import create_app
from modelport.settings import Settings
from tests.serving.conftest import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]


def risk(batch: pd.DataFrame) -> np.ndarray:
    """A score from the numbers; the category only shifts it."""
    return np.asarray(batch["age"] * 0.01 + batch["debt"] * 0.1 + (batch["city"] == "paris"))


def training(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.uniform(18, 90, n).round(1),
            "debt": rng.normal(10, 2, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
        }
    )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("ood")
    settings = Settings(home=home / "home", log_uri=str(home / "logs"), user="tester")
    modelport.register(
        risk, "risk", sample=training(), allow_unknown_categories=True, settings=settings
    )
    return settings


@pytest.fixture
def isolated(settings: Settings, tmp_path: Path) -> Settings:
    """The module's registry, with a prediction log of this test's own."""
    return Settings(home=settings.home, log_uri=str(tmp_path / "logs"), user="tester")


def serve(settings: Settings, **options: object) -> TestClient:
    config = ServeConfig(auth=False, refs=("risk",), **options)  # type: ignore[arg-type]
    return TestClient(create_app(config, settings=settings))


GOOD = {"age": 40.0, "debt": 10.0, "city": "lyon"}
HUGE = {"age": 9e9, "debt": 10.0, "city": "lyon"}
#: two of three features unlike training: a score of 2/3
HOSTILE = {"age": 9e9, "debt": 10.0, "city": "crypto"}


def metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'{name}{{model="risk",version="1"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# -- options -------------------------------------------------------------------------------


def test_the_policy_option_sets_every_model_or_one() -> None:
    assert parse_ood_policy("reject") == ("*", "reject")
    assert parse_ood_policy("credit-risk=reject") == ("credit-risk", "reject")
    config = ServeConfig.from_settings(
        Settings(home=Path("unused")),
        model_ood_policy=dict(parse_ood_policy(s) for s in ["reject", "a=flag"]),
    )
    assert config.ood_policy == "reject" and config.model_ood_policy == {"a": "flag"}
    assert config.ood_policy_for("a") == "flag" and config.ood_policy_for("b") == "reject"
    assert ServeConfig().ood_policy_for("a") == "flag"


def test_both_entry_points_read_the_policy_alike() -> None:
    config = entry.config_from_args(
        ["--ood-policy", "a=reject", "--ood-policy", "flag", "--ood-threshold", "0.2"],
        Settings(home=Path("unused")),
    )
    assert config == ServeConfig(
        model_ood_policy={"a": "reject"}, ood_policy="flag", ood_threshold=0.2
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ood_policy": "drop"}, "policy 'drop' for '*' is not one of flag, reject"),
        ({"model_ood_policy": {"a": "block"}}, "policy 'block' for 'a'"),
        ({"ood_threshold": 1.5}, "ood_threshold 1.5 is not between 0 and 1"),
    ],
)
def test_bad_policies_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        ServeConfig(**options)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="invalid --ood-policy"):
        parse_ood_policy("=reject")


# -- flag: scored per batch, logged, exported ------------------------------------------------


def test_flag_answers_logs_the_score_and_counts_rows_above_the_threshold(
    isolated: Settings,
) -> None:
    with serve(isolated) as client:
        r = client.post("/v1/models/risk:predict", json={"instances": [GOOD, HUGE, HOSTILE]})
        assert r.status_code == 200, r.text
        assert metric(client, "modelport_ood_scored_rows_total") == 3
        assert metric(client, "modelport_ood_rows_total") == 1  # 2/3 > 0.5; 1/3 is not
    logged = PredictionLogReader(isolated.resolved_log_uri()).predictions("risk")
    by_age = logged.sort_values("age")
    assert by_age["ood_score"].tolist() == pytest.approx([0.0, 1 / 3, 2 / 3])
    assert pd.isna(by_age["ood_features"].iloc[0])
    assert by_age["ood_features"].tolist()[1:] == ["age", "age,city"]
    registry = Registry(isolated)
    try:
        report = run_monitor(registry, PredictionLogReader(isolated.resolved_log_uri()), "risk")
    finally:
        registry.close()
    assert (
        "out of distribution: 1 of 3 scored rows (33.3%) above 0.5; "
        "features most often unlike training: age (2), city (1)"
    ) in report.versions[0].notes


def test_old_segments_without_the_columns_still_read(tmp_path: Path) -> None:
    def batch(ids: list[str], scored: bool) -> LoggedBatch:
        n = len(ids)
        return LoggedBatch(
            model="m",
            version=1,
            ids=ids,
            inputs=np.zeros((n, 1)),
            feature_names=["x"],
            predictions=np.zeros(n),
            ts=1.7e9,
            ood_score=np.full(n, 0.25) if scored else None,
            ood_features=["x"] * n if scored else None,
        )

    writer = PredictionLogWriter(str(tmp_path))
    writer.append(batch(["a"], scored=False))
    writer.flush()  # a segment as older servers wrote it
    reader = PredictionLogReader(tmp_path)
    assert "ood_score" not in reader.predictions("m").columns
    writer.append(batch(["b", "c"], scored=True))
    writer.append(batch(["d"], scored=False))  # merged with a scored batch: nulls
    writer.flush()
    logged = reader.predictions("m").set_index("prediction_id")
    assert logged["ood_score"].isna().tolist() == [True, False, False, True]
    assert logged.loc["b", "ood_score"] == 0.25 and logged.loc["c", "ood_features"] == "x"


# -- reject ------------------------------------------------------------------------------------


def test_reject_refuses_with_one_problem_per_feature(isolated: Settings) -> None:
    with serve(isolated, model_ood_policy={"risk": "reject"}) as client:
        r = client.post("/v1/models/risk:predict", json={"instances": [GOOD, HOSTILE]})
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "out_of_distribution"
        problems = {p["field"]: p for p in body["problems"]}
        assert set(problems) == {"age", "city"}
        assert problems["age"]["detail"].startswith(
            "value 9e+09 is above everything seen in training (max 90"
        )
        assert problems["city"]["detail"] == "category 'crypto' was never seen in training"
        assert problems["age"]["rows"] == [1] and problems["age"]["kind"] == "out_of_distribution"
        # below the threshold, or like training: answered
        for rows in ([GOOD], [HUGE]):
            ok = client.post("/v1/models/risk:predict", json={"instances": rows})
            assert ok.status_code == 200, ok.text
        v2 = client.post(
            "/v2/models/risk/infer",
            json={
                "inputs": [
                    {"name": "age", "shape": [1], "datatype": "FP64", "data": [9e9]},
                    {"name": "debt", "shape": [1], "datatype": "FP64", "data": [10.0]},
                    {"name": "city", "shape": [1], "datatype": "BYTES", "data": ["crypto"]},
                ]
            },
        )
        assert v2.status_code == 422 and "never seen in training" in v2.text
        assert metric(client, "modelport_ood_rows_total") == 2  # both refused requests' rows
        assert metric(client, "modelport_ood_scored_rows_total") == 5


def test_the_threshold_decides_what_reject_refuses(isolated: Settings) -> None:
    with serve(isolated, ood_policy="reject", ood_threshold=0.2) as client:
        r = client.post("/v1/models/risk:predict", json={"instances": [HUGE]})
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == "age"


def test_under_reject_one_hostile_request_never_fails_its_batch(settings: Settings) -> None:
    registry = Registry(settings)
    metrics = Metrics()
    config = ServeConfig(model_ood_policy={"risk": "reject"}, batch=BatchConfig(max_wait_ms=2.0))
    served = ServedVersion(load_model(registry, "risk"), config, metrics)
    plan = [
        [training(int(n), seed=10 * c + k) for k, n in enumerate([1, 3, 2, 4])] for c in range(16)
    ]
    for rows in plan[0]:
        rows.loc[len(rows) - 1, ["age", "city"]] = [1e12, "crypto"]

    async def client(frames: list[pd.DataFrame]) -> list[object]:
        answers: list[object] = []
        for rows in frames:
            try:
                data = rows.to_dict(orient="records")
                predictions, _ = await served.predict(served.prepare(data))
                answers.append(predictions)
            except OutOfDistribution as exc:
                answers.append(exc)
            await asyncio.sleep(0)
        return answers

    async def main() -> list[list[object]]:
        try:
            return list(await asyncio.gather(*(client(frames) for frames in plan)))
        finally:
            await served.batcher.aclose()

    answers = asyncio.run(main())
    registry.close()
    for k, (frames, got) in enumerate(zip(plan, answers, strict=True)):
        for rows, answer in zip(frames, got, strict=True):
            if k == 0:
                assert isinstance(answer, OutOfDistribution)
                assert {p.field for p in answer.problems} == {"age", "city"}
            else:
                assert isinstance(answer, np.ndarray), answer
                np.testing.assert_allclose(answer, risk(rows))
    labels = {"model": "risk", "version": "1"}
    batches = metrics.registry.get_sample_value("modelport_batch_size_count", labels)
    alone = metrics.registry.get_sample_value(
        "modelport_batch_size_bucket", {**labels, "le": "1.0"}
    )
    assert batches is not None and alone is not None and batches > alone


@pytest.mark.integration
def test_a_real_server_under_reject_answers_every_request_but_the_hostile_ones(
    settings: Settings, tmp_path: Path
) -> None:
    # the server imports the model function from this test module by name
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    server = start_server(
        settings.resolved_home(),
        tmp_path / "server.log",
        "risk",
        "--ood-policy",
        "risk=reject",
        "--max-wait-ms",
        "2",
        env={"PYTHONPATH": path},
    )
    plan = [[training(1 + (c + k) % 3, seed=100 * c + k) for k in range(10)] for c in range(16)]
    for rows in plan[0]:
        rows.loc[len(rows) - 1, ["age", "city"]] = [1e12, "crypto"]

    async def client(frames: list[pd.DataFrame], http: httpx.AsyncClient) -> list[object]:
        answers: list[object] = []
        for rows in frames:
            r = await http.post(
                "/v1/models/risk:predict", json={"instances": rows.to_dict(orient="records")}
            )
            answers.append((r.status_code, r.json()))
        return answers

    async def main() -> list[list[object]]:
        limits = httpx.Limits(max_connections=len(plan))
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as http:
            return list(await asyncio.gather(*(client(frames, http) for frames in plan)))

    try:
        answers = asyncio.run(main())
        metrics = httpx.get(f"{server.url}/metrics").text
    finally:
        stop_server(server)
    for k, (frames, got) in enumerate(zip(plan, answers, strict=True)):
        for rows, (status, body) in zip(frames, got, strict=True):
            if k == 0:
                assert status == 422 and body["code"] == "out_of_distribution", body
                assert {p["field"] for p in body["problems"]} == {"age", "city"}
            else:
                assert status == 200, body
                np.testing.assert_allclose(body["predictions"], risk(rows))
    assert 'modelport_ood_rows_total{model="risk",version="1"} 10.0' in metrics
