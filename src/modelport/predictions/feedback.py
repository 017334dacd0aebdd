"""Ground-truth feedback: durable before it is acknowledged, group-committed under load.

Feedback is appended to a JSON Lines journal per process and day
(``<root>/feedback/date=<day>/<pid>.jsonl``) and fsync'ed before the caller
is answered, so an acknowledged label survives ``kill -9`` and power loss.
Concurrent submissions are gathered by one writer thread into a single
write + fsync (a group commit): under load the cost of the sync is shared.

On object storage (``s3://`` ...), which has no append and no fsync, each group
commit is one object of its own (``<root>/feedback/date=<day>/<pid>-<ms>-<seq>.jsonl``),
acknowledged once the store acknowledged the write: a stored object is durable.
DuckDB reads the journals directly for monitoring.

A journal line is ``{"prediction_id": "...", "label": 1, "ts": "<ISO 8601 UTC>"}`` plus,
when the sender is known, ``"source": "<key id or token subject>"`` (lines written before
it have none and read back as an unknown source).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from modelport.errors import ConfigurationError
from modelport.storage import open_location


@dataclass
class FeedbackResult:
    """What happened to each submitted record.

    A submission with any invalid record stores nothing (``rejected``): bad input
    changes nothing stored, and every problem is listed so that one resend can fix
    them all. Unknown ids are not an error (the prediction may not have been logged,
    e.g. under sampling): they are listed and the rest is stored.
    """

    accepted: int = 0
    unknown_ids: list[str] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return bool(self.invalid)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.rejected:  # the error shape every 4xx has, with the details beside it
            doc = {
                "error": "invalid_feedback",
                "message": f"{len(self.invalid):,} feedback record(s) are invalid; "
                "nothing was stored",
                "hint": "fix the records listed under 'invalid' and send them all again",
            }
        return doc | {
            "accepted": self.accepted,
            "unknown_ids": self.unknown_ids,
            "invalid": self.invalid,
        }


def check_label(label: Any, outputs: Mapping[str, Any] | None) -> tuple[Any, str | None]:
    """The label as the model's own output value, or a problem saying what is expected.

    ``outputs`` is the ``outputs`` section of the version's signature: a classifier's
    label must be one of its classes (``1.0`` is class ``1``; ``True`` is not, and
    neither is the text ``"1"``), a regressor's a finite number. Without a known
    output schema any scalar is taken as it is.
    """
    kind = (outputs or {}).get("kind")
    if kind == "value":
        if isinstance(label, bool) or not isinstance(label, int | float):
            return None, f"label {label!r} is not a number; the model predicts numbers"
        if not math.isfinite(label):
            return None, f"label {label!r} is not a finite number"
        return label, None
    classes = (outputs or {}).get("classes")
    if kind != "class" or not classes:
        return label, None
    for value in classes:
        if _same_kind(label, value) and label == value:
            return value, None
    shown = ", ".join(repr(c) for c in classes[:20]) + (" ..." if len(classes) > 20 else "")
    return None, f"label {label!r} is not a class of the model; expected one of {shown}"


def _same_kind(a: Any, b: Any) -> bool:
    """Booleans, numbers and text never stand for each other (``True == 1`` in Python)."""

    def family(v: Any) -> str:
        if isinstance(v, bool):
            return "bool"
        return "number" if isinstance(v, int | float) else type(v).__name__

    return family(a) == family(b)


def check_feedback(records: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split submitted records into well-formed ones and problems (pure; no I/O)."""
    good, bad = check_feedback_indexed(records)
    return [record for _, record in good], bad


def check_feedback_indexed(
    records: Any,
) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """:func:`check_feedback` with each well-formed record's position in the submission."""
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list):
        return [], [{"index": None, "problem": "expected an object or a list of objects"}]
    good: list[tuple[int, dict[str, Any]]] = []
    bad: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            bad.append({"index": index, "problem": "not an object"})
            continue
        pid = record.get("prediction_id")
        if not isinstance(pid, str) or not pid:
            bad.append({"index": index, "problem": "prediction_id must be a non-empty string"})
            continue
        if "label" not in record:
            bad.append({"index": index, "prediction_id": pid, "problem": "label is missing"})
            continue
        label = record["label"]
        if label is None:
            bad.append({"index": index, "prediction_id": pid, "problem": "label is null"})
            continue
        if isinstance(label, float) and not math.isfinite(label):
            bad.append({"index": index, "prediction_id": pid, "problem": "label is not finite"})
            continue
        if not isinstance(label, (str, int, float, bool)):
            bad.append(
                {
                    "index": index,
                    "prediction_id": pid,
                    "problem": "label must be a number, string or boolean",
                }
            )
            continue
        unknown = set(record) - {"prediction_id", "label"}
        if unknown:
            bad.append(
                {
                    "index": index,
                    "prediction_id": pid,
                    "problem": f"unknown fields: {', '.join(sorted(unknown))}",
                }
            )
            continue
        good.append((index, {"prediction_id": pid, "label": label}))
    return good, bad


class FeedbackStore:
    """Durable, group-committed append of feedback records."""

    def __init__(self, root_uri: str) -> None:
        location = open_location(root_uri)
        #: None on object storage: each commit is then an object of its own
        self._remote = None if location.local else location
        self.directory = Path(location.root) / "feedback"
        self._objects = 0
        self._queue: queue.Queue[tuple[list[dict[str, Any]], concurrent.futures.Future[int]]] = (
            queue.Queue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.commits = 0

    def write(self, records: list[dict[str, Any]]) -> int:
        """Append well-formed records durably; returns how many. Blocks until synced."""
        if not records:
            return 0
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._ensure_thread()
        self._queue.put((records, future))
        return future.result()

    async def submit(self, records: list[dict[str, Any]]) -> int:
        """The same for the event loop: waits without blocking other requests."""
        if not records:
            return 0
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._ensure_thread()
        self._queue.put((records, future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(([], concurrent.futures.Future()))  # wake and stop
                self._thread.join()
                self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="feedback-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            pending = [self._queue.get()]
            while True:  # everything that queued while we waited joins this commit
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(not records for records, _ in pending)
            work = [(r, f) for r, f in pending if r]
            if work:
                try:
                    self._commit([rec for records, _ in work for rec in records])
                except BaseException as exc:
                    for _, future in work:
                        future.set_exception(exc)
                else:
                    for records, future in work:
                        future.set_result(len(records))
            if stop:
                return

    def _commit(self, records: list[dict[str, Any]]) -> None:
        now = time.time()
        day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
        stamp = datetime.fromtimestamp(now, UTC).isoformat()
        lines = b"".join(orjson.dumps({**r, "ts": stamp}) + b"\n" for r in records)
        if self._remote is not None:
            self._objects += 1
            name = f"{os.getpid()}-{int(now * 1000)}-{self._objects:06d}.jsonl"
            key = f"{self._remote.root}/feedback/date={day}/{name}"
            try:
                self._remote.fs.pipe_file(key, lines)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot store feedback at {self._remote.url(key)}: {exc}",
                    hint="check that the log location (MODELPORT_LOG_URI) exists and is "
                    "writable with these credentials",
                ) from exc
            self.commits += 1
            return
        directory = self.directory / f"date={day}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{os.getpid()}.jsonl"
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(lines)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new directory entry must be durable too
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self.commits += 1
