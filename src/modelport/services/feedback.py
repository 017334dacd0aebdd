"""Recording ground truth: one implementation for ``POST /api/feedback`` and ``modelport feedback``.

A submission is checked in full before anything is written:

1. each record's shape (:func:`~modelport.predictions.feedback.check_feedback`);
2. its prediction id is looked up in the log, which also says the model version;
   an id younger than two flush intervals may still be in a writer's buffer, so it
   gets a second look (after flushing this process's writer, if there is one, and
   otherwise after waiting that long: another worker or server may hold it);
3. its label is checked against that version's output schema
   (:func:`~modelport.predictions.feedback.check_label`) and stored as the model's
   own class value.

If any record is invalid, nothing is stored and every problem is reported; ids that
are not in the log are reported as unknown and the rest is stored durably. What was stored
is then reported to ``on_labels`` when given (a server's canary counts the labels of the
requests it saw).

Each stored record names its ``source`` when the caller is known (the key id or token subject
of an HTTP submission), so the feedback check of :mod:`modelport.monitoring.labels` can tell
one sender's labels from the others'.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from modelport.errors import NotFoundError
from modelport.predictions.feedback import (
    FeedbackResult,
    FeedbackStore,
    check_feedback_indexed,
    check_label,
)
from modelport.predictions.ids import id_time
from modelport.predictions.reader import PredictionLogReader
from modelport.reference import Reference

if TYPE_CHECKING:
    from modelport.predictions.writer import PredictionLogWriter
    from modelport.registry import Registry

log = logging.getLogger("modelport.feedback")


class FeedbackService:
    """Check, locate, validate and durably store feedback records."""

    def __init__(
        self,
        registry: Registry,
        log_root: str,
        *,
        writer: PredictionLogWriter | None = None,
        flush_interval: float = 1.0,
        on_labels: Callable[[list[tuple[str, Any]]], None] | None = None,
    ) -> None:
        self.registry = registry
        #: told (prediction id, label) of every stored record, after it is durable
        self.on_labels = on_labels
        self.store = FeedbackStore(log_root)
        self.reader = PredictionLogReader(log_root)
        self.writer = writer
        self.flush_interval = flush_interval
        # a version's signature never changes once registered
        self._outputs: dict[tuple[str, int], Mapping[str, Any] | None] = {}

    async def record(self, records: Any, *, source: str | None = None) -> FeedbackResult:
        """Store ``records`` (one object or a list) unless any is invalid; say what happened.

        ``source``: who sent them (a principal id), stored with each record when given.
        """
        good, bad = check_feedback_indexed(records)
        where = await self._locate([r["prediction_id"] for _, r in good])
        schemas = await asyncio.to_thread(self._outputs_of, set(where.values()))
        checked: list[dict[str, Any]] = []
        unknown: list[str] = []
        for index, record in good:
            pid = record["prediction_id"]
            if pid not in where:
                unknown.append(pid)
                continue
            model, version = where[pid]
            label, problem = check_label(record["label"], schemas[model, version])
            if problem is not None:
                bad.append(
                    {
                        "index": index,
                        "prediction_id": pid,
                        "problem": f"{problem} ({model}:{version})",
                    }
                )
            else:
                checked.append(
                    {"prediction_id": pid, "label": label}
                    | ({} if source is None else {"source": source})
                )
        bad.sort(key=lambda p: -1 if p.get("index") is None else p["index"])
        result = FeedbackResult(unknown_ids=unknown, invalid=bad)
        if not result.rejected:
            result.accepted = await self.store.submit(checked)
            if self.on_labels is not None and checked:
                try:
                    self.on_labels([(r["prediction_id"], r["label"]) for r in checked])
                except Exception:  # stored already: the caller's answer is that it was
                    log.exception("reporting labels to the canary windows failed")
        return result

    def record_now(self, records: Any, *, source: str | None = None) -> FeedbackResult:
        """The same from synchronous code (the CLI): runs its own event loop."""
        return asyncio.run(self.record(records, source=source))

    def close(self) -> None:
        self.store.close()

    async def _locate(self, ids: list[str]) -> dict[str, tuple[str, int]]:
        where = await asyncio.to_thread(self.reader.locate, ids)
        young = [i for i in ids if i not in where and _age(i) < 2 * self.flush_interval]
        if young and self.writer is not None:
            # flush only when an id may still be in this process's buffer: flushing on
            # every feedback request would litter the log with tiny segments
            await asyncio.to_thread(self.writer.flush)
            where |= await asyncio.to_thread(self.reader.locate, young)
            young = [i for i in young if i not in where]
        if young:  # perhaps another process's, not flushed yet
            await asyncio.sleep(2 * self.flush_interval)
            where |= await asyncio.to_thread(self.reader.locate, young)
        return where

    def _outputs_of(
        self, versions: set[tuple[str, int]]
    ) -> dict[tuple[str, int], Mapping[str, Any] | None]:
        """The output schema of each version (from the registry, once per version)."""
        for model, version in versions - set(self._outputs):
            try:
                signature = self.registry.get(Reference(model, version=version)).signature
            except NotFoundError:  # logged, then deleted: nothing to check the label against
                signature = None
            self._outputs[model, version] = (signature or {}).get("outputs")
        return {key: self._outputs[key] for key in versions}


def _age(prediction_id: str) -> float:
    made = id_time(prediction_id)
    return float("inf") if made is None else time.time() - made.timestamp()
