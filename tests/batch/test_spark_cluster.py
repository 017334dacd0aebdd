"""``modelport batch --engine spark --master spark://...`` on a real standalone cluster.

The test starts a Spark standalone master and one worker from pyspark's own scripts
(``$SPARK_HOME/bin/spark-class``, SPARK_HOME being the pyspark package), runs the real CLI
against the master in a subprocess, and compares its output with the local engine's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import modelport
from modelport.batch import score
from modelport.settings import Settings
from tests.batch.conftest import make_frame, read, write
from tests.serving.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.spark]
#: the modelport being tested, for the executors' Python (the worker's environment)
SOURCE = str(Path(modelport.__file__).resolve().parents[1])


@dataclass
class Cluster:
    master_url: str
    ui: str
    processes: list[subprocess.Popen[bytes]]

    def state(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.ui}/json/", timeout=5, follow_redirects=True)
        state: dict[str, Any] = answer.json()
        return state


def spark_home() -> Path:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: pip install 'modelport[spark]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (17+): no java on PATH and no JAVA_HOME")
    import pyspark

    return Path(pyspark.__file__).parent


def wait_until(check: Any, what: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"a Spark daemon exited while waiting for {what}"
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = spark_home()
    root = tmp_path_factory.mktemp("spark-cluster")
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(root / "logs"),
        "PYTHONPATH": SOURCE,  # executors inherit the worker's environment
    }
    spark_class = str(home / "bin" / "spark-class")
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def daemon(name: str, *args: str) -> None:
        log = (root / f"{name}.log").open("wb")
        processes.append(
            subprocess.Popen([spark_class, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        )

    try:
        daemon(
            "master",
            "org.apache.spark.deploy.master.Master",
            *("--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui_port)),
        )
        running = Cluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}", processes)
        wait_until(lambda: running.state()["status"] == "ALIVE", "the master", processes)
        daemon(
            "worker",
            "org.apache.spark.deploy.worker.Worker",
            running.master_url,
            *("--host", "127.0.0.1", "--webui-port", str(worker_ui)),
            *("--cores", "2", "--memory", "2g", "--work-dir", str(root / "work")),
        )

        def registered() -> bool:
            workers = running.state()["workers"]
            return any(w["state"] == "ALIVE" for w in workers)

        wait_until(registered, "the worker to register", processes)
        yield running
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_cli_on_a_standalone_cluster_writes_what_the_local_engine_writes(
    cluster: Cluster, batch_settings: Settings, tmp_path: Path
) -> None:
    frame = make_frame(900, seed=33)
    frame["years"] = frame["years"].astype(float)
    frame.loc[7, "color"] = "purple"  # rejected by the model's encoder: on both engines
    source = write(frame, tmp_path / "in.parquet")
    local = score(
        "clf",
        source,
        tmp_path / "local.parquet",
        keep=["id", "note"],
        workers=1,
        batch_size=250,
        settings=batch_settings,
    )
    env = {
        **os.environ,
        "MODELPORT_HOME": str(batch_settings.resolved_home()),
        "PYTHONPATH": SOURCE,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",  # where the executors reach the driver
    }
    out = tmp_path / "cluster.parquet"
    argv = [sys.executable, "-m", "modelport", "batch", "clf", str(source), str(out)]
    argv += ["--engine", "spark", "--master", cluster.master_url, "--keep", "id,note"]
    argv += ["--batch-size", "250", "--json"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["engine"] == "spark"
    assert (
        (summary["rows_read"], summary["rows_scored"], summary["rows_rejected"])
        == (
            local.rows_read,
            local.rows_scored,
            local.rows_rejected,
        )
        == (900, 899, 1)
    )
    pd.testing.assert_frame_equal(read(out), read(tmp_path / "local.parquet"))
    rejected = pd.read_json(summary["rejects"], lines=True)
    assert rejected["id"].tolist() == [1007]
    assert local.rejects is not None
    pd.testing.assert_frame_equal(rejected, pd.read_json(local.rejects, lines=True))
    # it ran on the cluster: the master lists the finished application and its executor
    apps = cluster.state()["completedapps"]
    assert any(app["name"] == "modelport-batch" for app in apps), apps


def test_a_master_without_the_spark_engine_is_refused(
    batch_settings: Settings, tmp_path: Path
) -> None:
    from modelport.errors import InvalidArgument

    source = write(make_frame(10, seed=1), tmp_path / "in.parquet")
    with pytest.raises(InvalidArgument, match="--engine spark"):
        score(
            "clf",
            source,
            tmp_path / "out.parquet",
            master="spark://127.0.0.1:7077",
            settings=batch_settings,
        )
