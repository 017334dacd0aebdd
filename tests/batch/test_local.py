"""The local engine end to end: formats, kept columns, rejects, the process pool, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelport.batch
from modelport.batch import BatchSummary, score
from modelport.errors import ConflictError, DataError, InvalidArgument
from modelport.loaded import LoadedModel
from modelport.settings import Settings
from tests.batch.conftest import expected, make_frame, read, write


def test_exports() -> None:
    assert sorted(modelport.batch.__all__) == ["BatchSummary", "score"]
    assert all(hasattr(modelport.batch, name) for name in modelport.batch.__all__)


def test_parquet_keeps_columns_in_input_order(
    tmp_path: Path, batch_settings: Settings, loaded: LoadedModel
) -> None:
    frame = make_frame(450, seed=1)
    source = write(frame, tmp_path / "in.parquet")
    summary = score(
        "clf",
        source,
        tmp_path / "out.parquet",
        keep=["id", "note"],
        workers=1,
        batch_size=150,
        settings=batch_settings,
    )
    out = read(tmp_path / "out.parquet")
    assert list(out.columns) == ["id", "note", "prediction", "proba_0", "proba_1"]
    assert out["note"].tolist() == frame["note"].tolist()
    pd.testing.assert_frame_equal(out.drop(columns="note"), expected(loaded, frame))
    assert isinstance(summary, BatchSummary)
    assert (summary.rows_read, summary.rows_scored, summary.rows_rejected) == (450, 450, 0)
    assert summary.rejects is None and summary.ref == "clf:1"
    assert summary.parts == 4  # row groups 100,100,100,100,50; parts of whole groups <= 150 rows
    assert not (tmp_path / "out.parquet.parts").exists()


@pytest.mark.parametrize("source_suffix", [".parquet", ".csv", ".jsonl"])
@pytest.mark.parametrize("target_suffix", [".parquet", ".csv", ".jsonl"])
def test_formats_in_and_out(
    tmp_path: Path,
    batch_settings: Settings,
    loaded: LoadedModel,
    source_suffix: str,
    target_suffix: str,
) -> None:
    frame = make_frame(250, seed=2)
    source = write(frame, tmp_path / f"in{source_suffix}")
    target = tmp_path / f"out{target_suffix}"
    score("clf", source, target, keep=["id"], workers=1, batch_size=100, settings=batch_settings)
    out = read(target)
    want = expected(loaded, frame)
    assert out["id"].tolist() == want["id"].tolist()
    assert out["prediction"].tolist() == want["prediction"].tolist()
    np.testing.assert_allclose(out[["proba_0", "proba_1"]], want[["proba_0", "proba_1"]])


def test_rejects_are_split_off_with_their_reason(
    tmp_path: Path, batch_settings: Settings, loaded: LoadedModel
) -> None:
    frame = make_frame(300, seed=3)
    frame["years"] = frame["years"].astype(float)
    frame.loc[5, "income"] = None
    frame.loc[120, "color"] = "purple"
    frame.loc[121, "years"] = 2.5
    frame.loc[299, "color"] = None
    bad = [5, 120, 121, 299]
    source = write(frame, tmp_path / "in.parquet")
    summary = score(
        "clf",
        source,
        tmp_path / "out.parquet",
        keep=["id"],
        workers=1,
        batch_size=100,
        settings=batch_settings,
    )
    assert (summary.rows_read, summary.rows_scored, summary.rows_rejected) == (300, 296, 4)
    assert summary.rejects == str(tmp_path / "out.rejects.jsonl")
    rejects = [json.loads(line) for line in Path(summary.rejects).read_text().splitlines()]
    assert [r["id"] for r in rejects] == frame.loc[bad, "id"].tolist()
    reasons = [r["_reason"] for r in rejects]
    assert "'income': must not be null" in reasons[0]
    assert "'color': unknown category 'purple'" in reasons[1]
    assert "'years': expected a whole number" in reasons[2]
    assert "'color': must not be null" in reasons[3]
    good = frame.drop(index=bad).reset_index(drop=True)
    good["years"] = good["years"].astype("int64")
    pd.testing.assert_frame_equal(read(tmp_path / "out.parquet"), expected(loaded, good))


def test_bad_text_in_a_csv_number_column_is_rejected_not_fatal(
    tmp_path: Path, batch_settings: Settings
) -> None:
    frame = make_frame(50, seed=4).astype({"income": object})
    frame.loc[7, "income"] = "n/a"
    source = write(frame, tmp_path / "in.csv")
    summary = score(
        "clf", source, tmp_path / "out.csv", keep=["id"], workers=1, settings=batch_settings
    )
    assert summary.rows_rejected == 1
    assert "'income'" in Path(str(summary.rejects)).read_text()


def test_directory_output_with_pool_matches_single_process(
    tmp_path: Path, batch_settings: Settings
) -> None:
    frame = make_frame(600, seed=5)
    source = write(frame, tmp_path / "in.parquet")
    one = score(
        "clf",
        source,
        tmp_path / "one.parquet",
        keep=["id"],
        workers=1,
        batch_size=200,
        settings=batch_settings,
    )
    pool = score(
        "clf",
        source,
        tmp_path / "pooled",
        keep=["id"],
        workers=2,
        batch_size=200,
        settings=batch_settings,
    )
    assert pool.parts == one.parts == 3  # two row groups of 100 per part
    names = sorted(p.name for p in (tmp_path / "pooled").iterdir())
    assert names == ["_SUCCESS", "_journal.json", *[f"part-{i:05d}.parquet" for i in range(3)]]
    pd.testing.assert_frame_equal(read(tmp_path / "pooled"), read(tmp_path / "one.parquet"))


def test_directory_input(tmp_path: Path, batch_settings: Settings, loaded: LoadedModel) -> None:
    frame = make_frame(300, seed=6)
    (tmp_path / "in").mkdir()
    write(frame.iloc[:100], tmp_path / "in" / "a.csv")
    write(frame.iloc[100:], tmp_path / "in" / "b.csv")
    (tmp_path / "in" / "_SUCCESS").write_text("")
    score(
        "clf",
        tmp_path / "in",
        tmp_path / "out.parquet",
        keep=["id"],
        workers=1,
        settings=batch_settings,
    )
    out = read(tmp_path / "out.parquet")
    assert out["id"].tolist() == frame["id"].tolist()


def test_missing_input_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, batch_settings: Settings
) -> None:
    with pytest.raises(DataError, match="does not exist"):
        score("clf", tmp_path / "nope.parquet", tmp_path / "out.parquet", settings=batch_settings)
    assert list(tmp_path.iterdir()) == []


def test_unreadable_input_leaves_no_output(tmp_path: Path, batch_settings: Settings) -> None:
    (tmp_path / "in.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match=r"cannot read .*in.parquet as parquet"):
        score("clf", tmp_path / "in.parquet", tmp_path / "out.parquet", settings=batch_settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_input_broken_part_way_removes_the_partial_output(
    tmp_path: Path, batch_settings: Settings
) -> None:
    text = make_frame(400, seed=7).to_csv(index=False).splitlines()
    text[350] = "1,2,3,4,5,6,7,8,9"  # a row with too many fields, after parts were written
    (tmp_path / "in.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match="cannot read"):
        score(
            "clf",
            tmp_path / "in.csv",
            tmp_path / "out",
            keep=["id"],
            workers=1,
            batch_size=100,
            settings=batch_settings,
        )
    assert not (tmp_path / "out").exists()


def test_unknown_columns_are_refused_before_any_output(
    tmp_path: Path, batch_settings: Settings
) -> None:
    source = write(make_frame(10, seed=8).drop(columns="years"), tmp_path / "in.parquet")
    with pytest.raises(DataError, match="lacks the model's features: years"):
        score("clf", source, tmp_path / "out.parquet", settings=batch_settings)
    with pytest.raises(DataError, match="no column 'customer'"):
        score(
            "clf",
            write(make_frame(10, 8), tmp_path / "in2.parquet"),
            tmp_path / "o.parquet",
            keep=["customer"],
            settings=batch_settings,
        )
    with pytest.raises(InvalidArgument, match="unknown engine"):
        score(
            "clf",
            source,
            tmp_path / "out.parquet",
            engine="dask",  # type: ignore[arg-type]
            settings=batch_settings,
        )
    assert not (tmp_path / "out.parquet").exists() and not (tmp_path / "o.parquet").exists()


def test_finished_output_is_not_overwritten_unless_asked(
    tmp_path: Path, batch_settings: Settings
) -> None:
    source = write(make_frame(50, seed=9), tmp_path / "in.parquet")
    target = tmp_path / "out.csv"
    score("clf", source, target, workers=1, settings=batch_settings)
    with pytest.raises(ConflictError, match="already holds output"):
        score("clf", source, target, workers=1, settings=batch_settings)
    again = score("clf", source, target, workers=1, overwrite=True, settings=batch_settings)
    assert again.rows_scored == 50
    assert list(pd.read_csv(target).columns) == ["prediction", "proba_0", "proba_1"]
