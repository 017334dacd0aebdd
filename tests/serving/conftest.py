"""A registry with two small real models, shared by the serving tests.

``numeric``: LogisticRegression on a NumPy array (4 float features, classes 0/1), versions
1 and 2 (a different C), ``production`` -> 1. ``credit``: the demo's scikit-learn pipeline
on a DataFrame with numeric and categorical features, ``production`` -> 1.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelport
from modelport.settings import Settings


@dataclass
class Models:
    settings: Settings
    X: np.ndarray
    numeric_v1: LogisticRegression
    numeric_v2: LogisticRegression
    credit_test: pd.DataFrame
    credit_model: object


def credit_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A small credit-like table: integer and float numbers, two categorical columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": np.round(rng.lognormal(10.8, 0.4, n), 2),
            "home": rng.choice(["rent", "own", "mortgage"], n),
            "purpose": rng.choice(["car", "education", "medical"], n),
        }
    )
    score = (frame["age"] - 45) / 15 - np.log(frame["income"] / 50_000) + (frame["home"] == "rent")
    return frame, (score + rng.normal(0, 1, n) > 0.5).astype(int).to_numpy()


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    settings = Settings(home=tmp_path_factory.mktemp("serving") / "home", user="tester")
    X, y = make_classification(
        n_samples=2000, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    v1 = LogisticRegression().fit(X, y)
    v2 = LogisticRegression(C=0.001).fit(X, y)
    modelport.register(v1, "numeric", sample=X, settings=settings)
    modelport.register(v2, "numeric", sample=X, settings=settings)
    train, labels = credit_frame(2000, seed=1)
    credit = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["age", "income"]),
                ("cat", OneHotEncoder(), ["home", "purpose"]),  # strict: unknowns refused
            ]
        ),
        LogisticRegression(),
    ).fit(train, labels)
    modelport.register(credit, "credit", sample=train, settings=settings)
    test, _ = credit_frame(300, seed=2)
    modelport.set_alias("numeric:1", "production", settings=settings)
    modelport.set_alias("credit:1", "production", settings=settings)
    return Models(settings, X, v1, v2, test, credit)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_server(
    home: Path,
    log: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 90.0,
    tls_ca: Path | None = None,
) -> RunningServer:
    """``python -m modelport.serving`` in a subprocess; returns once /v2/health/ready is 200.

    Without ``--auth`` among ``args`` it runs ``--no-auth`` (on loopback): these tests are
    about serving; tests/serving/test_security_integration.py is about credentials.
    """
    if "--auth" not in args:
        args = (*args, "--no-auth")
    port = free_port()
    full_env = {**os.environ, "MODELPORT_HOME": str(home), **(env or {})}
    out = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "modelport.serving", *args, "--port", str(port)],
        env=full_env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"{'https' if tls_ca else 'http'}://127.0.0.1:{port}"
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=str(tls_ca)) if tls_ca is not None else True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}: {log.read_text()}")
        try:
            ready = httpx.get(f"{url}/v2/health/ready", timeout=1, verify=verify)
            if ready.status_code == 200:
                return RunningServer(url, port, process, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server not ready in {timeout}s: {log.read_text()}")


def stop_server(server: RunningServer) -> int:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            return server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return int(server.process.returncode)


@pytest.fixture(scope="module")
def server(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real server for all registered models, shared by a module's integration tests."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    running = start_server(
        models.settings.resolved_home(), log, "--max-body-bytes", "100000", "--poll-interval", "0.2"
    )
    yield running
    stop_server(running)
