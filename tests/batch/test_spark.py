"""The Spark engine (local[2] with this machine's Java) writes what the local engine writes."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelport.batch import score
from modelport.settings import Settings
from tests.batch.conftest import make_frame, read, write

pytestmark = [
    pytest.mark.integration,
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: pip install 'modelport[spark]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (17+): no java on PATH and no JAVA_HOME")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("modelport-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_spark_and_local_outputs_are_identical(
    tmp_path: Path, batch_settings: Settings, spark: Any, suffix: str
) -> None:
    frame = make_frame(700, seed=21)
    frame["years"] = frame["years"].astype(float)
    frame.loc[10, "income"] = None
    frame.loc[500, "color"] = "purple"
    frame.loc[501, "years"] = 0.5
    source = write(frame, tmp_path / "in.parquet")
    local = score(
        "clf",
        source,
        tmp_path / f"local{suffix}",
        keep=["id", "note"],
        workers=1,
        batch_size=200,
        settings=batch_settings,
    )
    on_spark = score(
        "clf",
        source,
        tmp_path / f"spark{suffix}",
        keep=["id", "note"],
        engine="spark",
        spark=spark,
        settings=batch_settings,
    )
    assert on_spark.engine == "spark"
    assert (on_spark.rows_read, on_spark.rows_scored, on_spark.rows_rejected) == (700, 697, 3)
    pd.testing.assert_frame_equal(
        read(tmp_path / f"spark{suffix}"), read(tmp_path / f"local{suffix}")
    )
    spark_rejects = pd.read_json(str(on_spark.rejects), lines=True)
    local_rejects = pd.read_json(str(local.rejects), lines=True)
    pd.testing.assert_frame_equal(spark_rejects, local_rejects)


def test_a_session_on_another_master_is_refused_not_silently_reused(spark: Any) -> None:
    from modelport.batch.spark import spark_session
    from modelport.errors import InvalidArgument

    assert spark_session().sparkContext.master == "local[2]"  # the running one, as asked
    with pytest.raises(InvalidArgument, match="already runs a Spark session on local"):
        spark_session("spark://127.0.0.1:7077")
