"""An interrupted job continues from its journal: finished parts are not recomputed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from modelport.batch import score
from modelport.errors import ConflictError
from modelport.settings import Settings
from tests.batch.conftest import make_frame, read, write


class Crash(Exception):
    """Stands in for a crash part-way through a job."""


def _crash_after(rows: int):  # type: ignore[no-untyped-def]
    seen = 0

    def progress(done: int, total: int | None) -> None:
        nonlocal seen
        seen += done
        if seen > rows:
            raise Crash

    return progress


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_rerun_after_crash_continues_and_equals_a_clean_run(
    tmp_path: Path, batch_settings: Settings, suffix: str
) -> None:
    frame = make_frame(500, seed=11)
    frame.loc[420, "income"] = None  # a reject in a part done after the crash
    source = write(frame, tmp_path / f"in{suffix}")
    clean = score(
        "clf",
        source,
        tmp_path / "clean.parquet",
        keep=["id"],
        workers=1,
        batch_size=100,
        settings=batch_settings,
    )
    target = tmp_path / "out.parquet"
    with pytest.raises(Crash):
        score(
            "clf",
            source,
            target,
            keep=["id"],
            workers=1,
            batch_size=100,
            settings=batch_settings,
            progress=_crash_after(250),
        )
    staging = tmp_path / "out.parquet.parts"
    assert not target.exists(), "an unfinished output must not look final"
    journal = json.loads((staging / "_journal.json").read_text())
    assert sorted(journal["parts"]) == ["0", "1"]
    assert sorted(p.name for p in staging.glob("part-*")) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]

    seen_parts: list[int] = []
    resumed = score(
        "clf",
        source,
        target,
        keep=["id"],
        workers=1,
        batch_size=100,
        settings=batch_settings,
        progress=lambda rows, total: seen_parts.append(rows),
    )
    assert resumed.parts_resumed == 2 and resumed.parts == 5
    assert seen_parts[0] == 200  # the finished rows, reported once up front
    assert sum(seen_parts[1:]) == 300  # only the remaining parts were scored
    assert (resumed.rows_read, resumed.rows_rejected) == (clean.rows_read, clean.rows_rejected)
    pd.testing.assert_frame_equal(read(target), read(tmp_path / "clean.parquet"))
    assert Path(str(resumed.rejects)).read_text() == Path(str(clean.rejects)).read_text()
    assert not staging.exists()


def test_finished_parts_are_not_rewritten(tmp_path: Path, batch_settings: Settings) -> None:
    source = write(make_frame(400, seed=12), tmp_path / "in.parquet")
    target = tmp_path / "out"
    with pytest.raises(Crash):
        score(
            "clf",
            source,
            target,
            workers=1,
            batch_size=100,
            settings=batch_settings,
            progress=_crash_after(150),
        )
    first = (target / "part-00000.parquet").stat().st_mtime_ns
    assert not (target / "_SUCCESS").exists()
    time.sleep(0.01)
    score("clf", source, target, workers=1, batch_size=100, settings=batch_settings)
    assert (target / "part-00000.parquet").stat().st_mtime_ns == first
    assert (target / "_SUCCESS").exists()


def test_a_different_job_does_not_resume_foreign_parts(
    tmp_path: Path, batch_settings: Settings
) -> None:
    source = write(make_frame(300, seed=13), tmp_path / "in.parquet")
    with pytest.raises(Crash):
        score(
            "clf",
            source,
            tmp_path / "out",
            workers=1,
            batch_size=100,
            settings=batch_settings,
            progress=_crash_after(150),
        )
    with pytest.raises(ConflictError, match="different job"):
        score(
            "clf",
            source,
            tmp_path / "out",
            keep=["id"],
            workers=1,
            batch_size=100,
            settings=batch_settings,
        )


SCRIPT = """
import sys
from modelport.batch import score
from modelport.settings import Settings
if __name__ == "__main__":
    score("clf", sys.argv[1], sys.argv[2], keep=["id"], workers=2, batch_size=100,
          settings=Settings(home=sys.argv[3]))
"""


def test_killed_pool_run_resumes(tmp_path: Path, batch_settings: Settings) -> None:
    source = write(make_frame(3000, seed=14), tmp_path / "in.parquet")
    target = tmp_path / "out"
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), str(source), str(target), str(batch_settings.home)],
        start_new_session=True,
    )
    journal = target / "_journal.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and len(json.loads(journal.read_text() or "{}").get("parts", {})) >= 3:
            break
        time.sleep(0.02)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)  # the run and its workers, as a crash would
    process.wait()
    done = len(json.loads(journal.read_text())["parts"])
    summary = score(
        "clf", source, target, keep=["id"], workers=2, batch_size=100, settings=batch_settings
    )
    assert summary.parts_resumed == done and summary.parts == 30
    clean = score(
        "clf",
        source,
        tmp_path / "clean",
        keep=["id"],
        workers=1,
        batch_size=100,
        settings=batch_settings,
    )
    assert clean.parts == 30
    pd.testing.assert_frame_equal(read(target), read(tmp_path / "clean"))
