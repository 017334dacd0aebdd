"""Prediction log and feedback: durability on graceful stop and on kill -9, and reading back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelport.predictions import (
    FeedbackStore,
    LoggedBatch,
    PredictionLogWriter,
    new_prediction_ids,
)
from modelport.predictions.feedback import check_feedback
from modelport.predictions.ids import id_time
from modelport.predictions.reader import PredictionLogReader


def frame_batch(n: int, version: int = 1, ts: float | None = None) -> LoggedBatch:
    frame = pd.DataFrame(
        {
            "income": np.linspace(1, 2, n),
            "home": pd.Categorical(["own", "rent"] * (n // 2) + ["own"] * (n % 2)),
            "age": np.arange(n, dtype=np.int64),
        }
    )
    return LoggedBatch(
        model="credit",
        version=version,
        ids=new_prediction_ids(n),
        inputs=frame,
        feature_names=list(frame.columns),
        predictions=np.arange(n) % 2,
        proba=np.column_stack([np.full(n, 0.3), np.full(n, 0.7)]),
        latency_ms=1.5,
        ts=ts or time.time(),
    )


def test_ids_are_time_ordered_and_parse_back() -> None:
    first = new_prediction_ids(3, now=1_700_000_000.0)
    later = new_prediction_ids(1, now=1_700_000_001.0)
    assert len(set(first)) == 3 and all(len(i) == 32 for i in first)
    assert max(first) < later[0]
    assert id_time(first[0]).timestamp() == pytest.approx(1_700_000_000.0)
    assert id_time("nope") is None and id_time("z" * 32) is None and id_time("f" * 32) is None


def test_graceful_close_writes_everything_and_reads_back(tmp_path: Path) -> None:
    writer = PredictionLogWriter(str(tmp_path), flush_interval=60).start()
    batches = [frame_batch(5), frame_batch(3, version=2), frame_batch(4)]
    for b in batches:
        writer.append(b)
    writer.close()
    assert writer.written_rows == 12 and writer.dropped_rows == 0
    reader = PredictionLogReader(tmp_path)
    rows = reader.predictions("credit")
    assert len(rows) == 12
    assert set(rows["version"]) == {1, 2}
    assert {"income", "home", "age", "prediction", "latency_ms"} <= set(rows.columns)
    assert set(rows["prediction_id"]) == {i for b in batches for i in b.ids}
    assert reader.predictions("credit", version=2)["prediction_id"].tolist() == sorted(
        batches[1].ids
    )
    assert reader.predictions("other").empty
    assert reader.existing_ids([*batches[0].ids, "0" * 32, "bogus"]) == set(batches[0].ids)
    # no temporary files are left behind
    assert not [p for p in tmp_path.rglob(".*.tmp")]


def test_array_inputs_and_time_windows(tmp_path: Path) -> None:
    writer = PredictionLogWriter(str(tmp_path))
    now = time.time()
    writer.append(
        LoggedBatch(
            "arr",
            1,
            new_prediction_ids(2, now - 7200),
            np.ones((2, 3)),
            ["f0", "f1", "f2"],
            np.array([0.5, 0.25]),
            ts=now - 7200,
        )
    )
    writer.append(
        LoggedBatch(
            "arr",
            1,
            new_prediction_ids(1, now),
            np.zeros((1, 3)),
            ["f0", "f1", "f2"],
            np.array([1.0]),
            ts=now,
        )
    )
    writer.flush()
    reader = PredictionLogReader(tmp_path)
    from datetime import UTC, datetime

    recent = reader.predictions("arr", since=datetime.fromtimestamp(now - 60, UTC))
    assert recent["f0"].tolist() == [0.0]
    assert len(reader.predictions("arr")) == 3


def test_full_buffer_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    writer = PredictionLogWriter(str(tmp_path), max_buffered_rows=6)
    writer.append(frame_batch(5))
    writer.append(frame_batch(5))
    assert writer.dropped_rows == 5
    assert writer.flush() == 5


def test_feedback_is_checked_written_and_joined(tmp_path: Path) -> None:
    writer = PredictionLogWriter(str(tmp_path))
    batch = frame_batch(4)
    writer.append(batch)
    writer.flush()
    good, bad = check_feedback(
        [
            {"prediction_id": batch.ids[0], "label": 1},
            {"prediction_id": batch.ids[1], "label": 0},
            {"prediction_id": 5, "label": 1},
            {"prediction_id": "x"},
            {"prediction_id": "y", "label": float("nan")},
            {"prediction_id": "z", "label": [1]},
            {"prediction_id": "w", "label": 1, "extra": 2},
            "text",
        ]
    )
    assert len(good) == 2 and [b["index"] for b in bad] == [2, 3, 4, 5, 6, 7]
    store = FeedbackStore(str(tmp_path))
    assert store.write(good) == 2
    assert store.write([{"prediction_id": batch.ids[0], "label": 0}]) == 1  # a correction
    store.close()
    reader = PredictionLogReader(tmp_path)
    joined = reader.predictions("credit", with_feedback=True).set_index("prediction_id")
    assert json.loads(joined.loc[batch.ids[0], "label"]) == 0
    assert json.loads(joined.loc[batch.ids[1], "label"]) == 0
    assert joined["label"].isna().sum() == 2


def test_feedback_group_commits_concurrent_writers(tmp_path: Path) -> None:
    import asyncio

    store = FeedbackStore(str(tmp_path))

    async def many() -> list[int]:
        return await asyncio.gather(
            *(store.submit([{"prediction_id": f"{i:032x}", "label": i % 2}]) for i in range(200))
        )

    assert sum(asyncio.run(many())) == 200
    store.close()
    assert store.commits < 200  # syncs were shared
    lines = [
        line
        for f in (tmp_path / "feedback").rglob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert len(lines) == 200


def test_feedback_on_object_storage_is_one_object_per_commit() -> None:
    import uuid

    import fsspec

    root = f"memory://feedback-{uuid.uuid4().hex}"
    store = FeedbackStore(root)
    try:
        assert store.write([{"prediction_id": "a", "label": 1}]) == 1
        assert (
            store.write([{"prediction_id": "b", "label": 0}, {"prediction_id": "c", "label": 1}])
            == 2
        )
    finally:
        store.close()
    fs = fsspec.filesystem("memory")
    objects = sorted(fs.glob(f"{root.removeprefix('memory://')}/feedback/date=*/*.jsonl"))
    assert len(objects) == 2  # no append on object storage: each commit stands alone
    lines = [json.loads(line) for key in objects for line in fs.cat(key).decode().splitlines()]
    assert [line["prediction_id"] for line in lines] == ["a", "b", "c"]
    assert all("ts" in line for line in lines)


CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from modelport.predictions import (
        FeedbackStore, LoggedBatch, PredictionLogWriter, new_prediction_ids
    )
    root = sys.argv[1]
    writer = PredictionLogWriter(root, flush_interval=0.2).start()
    store = FeedbackStore(root)
    i = 0
    while True:
        ids = new_prediction_ids(1)
        now = time.time()
        x = np.array([[float(i)]])
        writer.append(LoggedBatch("k", 1, ids, x, ["x"], np.array([i]), ts=now))
        store.write([{"prediction_id": ids[0], "label": i}])
        print(f"{ids[0]} {now}", flush=True)  # acknowledged
        i += 1
        time.sleep(0.002)
    """
)


#: the child's flush interval, and the scheduling slack allowed on top of it
FLUSH, SLACK = 0.2, 1.0


@pytest.mark.integration
def test_kill_9_loses_at_most_the_flush_interval(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    acknowledged: list[tuple[str, float]] = []
    # generous: the child may take long to start on a loaded machine; the loop ends as
    # soon as the condition holds, not after a number of seconds
    deadline = time.time() + 300
    assert proc.stdout is not None
    age = FLUSH + SLACK

    def old_enough() -> int:
        now = time.time()
        return sum(1 for _, ts in acknowledged if ts < now - age)

    # wait for the condition the assertions need: acknowledged records older than a
    # flush interval plus slack (a count of them, however slowly they came)
    while old_enough() < 50 and time.time() < deadline:
        line = proc.stdout.readline()
        if not line:  # the child died: its error is on stderr
            break
        pid, ts = line.split()
        acknowledged.append((pid, float(ts)))
    assert old_enough() >= 50, "the child did not acknowledge old enough records in time"
    os.kill(proc.pid, signal.SIGKILL)
    killed_at = time.time()
    proc.wait()
    for line in proc.stdout:  # acknowledgements already in the pipe count too
        pid, ts = line.split()
        acknowledged.append((pid, float(ts)))
    reader = PredictionLogReader(tmp_path)
    logged = set(reader.predictions("k")["prediction_id"])
    feedback = set(reader.feedback()["prediction_id"])
    # every acknowledged feedback record survived
    assert {pid for pid, _ in acknowledged} <= feedback
    # predictions older than one flush interval (plus scheduling slack) survived
    old = {pid for pid, ts in acknowledged if ts < killed_at - age}
    assert len(old) >= 50 and old <= logged


def test_locate_says_which_model_version_made_each_id(tmp_path: Path) -> None:
    writer = PredictionLogWriter(str(tmp_path))
    first, second = frame_batch(3), frame_batch(2, version=2)
    odd = LoggedBatch("007", 4, new_prediction_ids(1), np.zeros((1, 1)), ["x"], np.zeros(1))
    for batch in (first, second, odd):
        writer.append(batch)
    writer.flush()
    where = PredictionLogReader(tmp_path).locate([*first.ids, *second.ids, *odd.ids, "0" * 32])
    assert where == {
        **dict.fromkeys(first.ids, ("credit", 1)),
        **dict.fromkeys(second.ids, ("credit", 2)),
        odd.ids[0]: ("007", 4),  # a name that looks like a number stays a name
    }


def test_labels_are_checked_against_the_output_schema() -> None:
    from modelport.predictions.feedback import check_label

    classes = {"kind": "class", "classes": [0, 1]}
    assert check_label(1.0, classes) == (1, None)
    for label in ("banana", "yes", "1", True, 2):
        value, problem = check_label(label, classes)
        assert value is None and problem is not None and "expected one of 0, 1" in problem
    words = {"kind": "class", "classes": ["no", "yes"]}
    assert check_label("yes", words) == ("yes", None)
    assert check_label(1, words)[1] is not None
    numbers = {"kind": "value"}
    assert check_label(2.5, numbers) == (2.5, None)
    for label in ("14.2", True, float("inf")):
        assert check_label(label, numbers)[1] is not None
    assert check_label("anything", None) == ("anything", None)  # no schema to check against
    _, bad = check_feedback([{"prediction_id": "a", "label": None}])
    assert bad[0]["problem"] == "label is null"
