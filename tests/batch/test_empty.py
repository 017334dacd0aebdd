"""Inputs without rows, parts without valid rows, and failures: valid outputs or nothing at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
import modelport.batch.job
import modelport.batch.sinks
from modelport.batch import score
from modelport.errors import DataError, InvalidArgument
from modelport.settings import Settings
from tests.batch.conftest import make_frame, read

COLUMNS = ["id", "prediction", "proba_0", "proba_1"]


def leftovers(folder: Path) -> list[str]:
    """What a job may have left beside its output: staging folders and temporary files."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".parts", ".tmp")))


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_a_zero_row_parquet_input_gives_a_zero_row_output(
    tmp_path: Path, batch_settings: Settings, suffix: str
) -> None:
    source = tmp_path / "in.parquet"
    make_frame(0, seed=0).to_parquet(source, index=False)
    target = tmp_path / f"out{suffix}"
    for overwrite in (False, True):  # a rerun with --overwrite as well
        summary = score(
            "clf", source, target, keep=["id"], workers=1, overwrite=overwrite,
            settings=batch_settings,
        )  # fmt: skip
        assert (summary.rows_read, summary.rows_scored, summary.parts) == (0, 0, 1)
        assert leftovers(tmp_path) == []
    if suffix == ".parquet":
        schema = pq.read_schema(target)
        assert schema.names == COLUMNS
        assert [str(t) for t in schema.types] == ["int64", "int64", "double", "double"]
    elif suffix == ".csv":
        assert target.read_text().splitlines() == [",".join(f'"{c}"' for c in COLUMNS)]
    else:
        assert target.read_text() == ""  # JSON Lines: no rows is no lines


def test_a_header_only_csv_gives_a_parquet_file_with_the_columns(
    tmp_path: Path, batch_settings: Settings
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,income,years,color,note\n")
    target = tmp_path / "out.parquet"
    summary = score("clf", source, target, keep=["id"], workers=2, settings=batch_settings)
    assert summary.rows_read == 0
    assert list(read(target).columns) == COLUMNS and len(read(target)) == 0
    assert leftovers(tmp_path) == []


def test_a_directory_output_of_zero_rows_is_complete(
    tmp_path: Path, batch_settings: Settings
) -> None:
    source = tmp_path / "in.parquet"
    make_frame(0, seed=0).to_parquet(source, index=False)
    target = tmp_path / "out"
    score("clf", source, target, keep=["id"], workers=1, settings=batch_settings)
    assert (target / "_SUCCESS").exists()
    assert list(pd.read_parquet(target).columns) == COLUMNS


def test_a_part_without_valid_rows_does_not_decide_the_column_types(tmp_path: Path) -> None:
    """Text classes: a part whose rows were all rejected once typed its predictions null."""
    settings = Settings(home=tmp_path / "home", user="tester")
    train = make_frame(200, seed=0)
    labels = np.where(train["income"] > 50, "high", "low")
    model = LogisticRegression().fit(train[["income", "years"]], labels)
    modelport.register(model, "text-classes", sample=train[["income", "years"]], settings=settings)
    frame = make_frame(200, seed=3)
    frame.loc[:99, "income"] = np.nan  # the first row group: every row rejected
    source = tmp_path / "in.parquet"
    frame.to_parquet(source, index=False, row_group_size=100)
    target = tmp_path / "out.parquet"
    summary = score(
        "text-classes", source, target, keep=["id"], workers=1, batch_size=100, settings=settings
    )
    assert (summary.rows_scored, summary.rows_rejected) == (100, 100)
    out = read(target)
    assert out["id"].tolist() == frame["id"].iloc[100:].tolist()
    assert set(out["prediction"]) <= {"high", "low"}
    assert leftovers(tmp_path) == []


def test_a_failed_merge_leaves_nothing_behind(
    tmp_path: Path, batch_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fs: object, sources: list[str], target: str) -> None:
        Path(target).write_bytes(b"half a file")
        raise DataError("cannot merge the output parts: disk full", hint="rerun the job")

    monkeypatch.setattr(modelport.batch.sinks, "_merge_parquet", broken)
    source = tmp_path / "in.parquet"
    make_frame(50, seed=0).to_parquet(source, index=False)
    with pytest.raises(DataError, match="disk full"):
        score("clf", source, tmp_path / "out.parquet", workers=1, settings=batch_settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_a_failure_before_any_part_finished_leaves_nothing_behind(
    tmp_path: Path, batch_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the worker died")

    monkeypatch.setattr(modelport.batch.job, "run_local", broken)
    source = tmp_path / "in.parquet"
    make_frame(50, seed=0).to_parquet(source, index=False)
    with pytest.raises(RuntimeError, match="worker died"):
        score("clf", source, tmp_path / "out.parquet", workers=1, settings=batch_settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


@pytest.mark.parametrize("name", ["out.parquet", "out.csv", "outdir"])
def test_an_output_in_a_directory_that_does_not_exist_is_refused(
    tmp_path: Path, batch_settings: Settings, name: str
) -> None:
    source = tmp_path / "in.parquet"
    make_frame(20, seed=0).to_parquet(source, index=False)
    missing = tmp_path / "no" / "such"
    with pytest.raises(InvalidArgument, match=r"directory .*no/such does not exist") as info:
        score("clf", source, missing / name, workers=1, settings=batch_settings)
    assert "mkdir -p" in (info.value.hint or "")
    assert not (tmp_path / "no").exists()
