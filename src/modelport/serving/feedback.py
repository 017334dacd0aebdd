"""``POST /api/feedback``: ground truth for logged predictions, durable before the answer.

Well-formed records whose prediction ids are in the log are appended to the feedback
journal (fsync'ed, group-committed across concurrent requests) before the response is
sent; unknown ids and malformed records are reported back, never silently dropped.

An id can be younger than the last flush of the prediction log: this process's own
buffer is flushed first, and ids made in the last two flush intervals (perhaps by
another worker) get one more look after that long.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from modelport.errors import InvalidArgument, PayloadTooLarge
from modelport.predictions import FeedbackResult, FeedbackStore, PredictionLogWriter
from modelport.predictions.feedback import check_feedback
from modelport.predictions.ids import id_time
from modelport.predictions.reader import PredictionLogReader
from modelport.serving.protocols.common import load_json


class Feedback:
    """The endpoint's work: check, find unknown ids, store durably."""

    def __init__(
        self, root: str, writer: PredictionLogWriter | None, flush_interval: float
    ) -> None:
        self.store = FeedbackStore(root)
        self.reader = PredictionLogReader(root)
        self.writer = writer
        self.flush_interval = flush_interval

    async def record(self, records: Any) -> FeedbackResult:
        good, bad = check_feedback(records)
        result = FeedbackResult(invalid=bad)
        if not good:
            return result
        ids = [r["prediction_id"] for r in good]
        known = await asyncio.to_thread(self.reader.existing_ids, ids)
        young = [i for i in ids if i not in known and _age(i) < 2 * self.flush_interval]
        if young and self.writer is not None:
            # flush only when an id may still be in this process's buffer: flushing on
            # every feedback request would litter the log with tiny segments
            await asyncio.to_thread(self.writer.flush)
            known |= await asyncio.to_thread(self.reader.existing_ids, young)
            young = [i for i in young if i not in known]
        if young:  # perhaps another worker's, not flushed yet
            await asyncio.sleep(2 * self.flush_interval)
            known |= await asyncio.to_thread(self.reader.existing_ids, young)
        accepted = [r for r in good if r["prediction_id"] in known]
        result.unknown_ids = [r["prediction_id"] for r in good if r["prediction_id"] not in known]
        result.accepted = await self.store.submit(accepted)
        return result

    def close(self) -> None:
        self.store.close()


def _age(prediction_id: str) -> float:
    import time

    made = id_time(prediction_id)
    return float("inf") if made is None else time.time() - made.timestamp()


def add_feedback_route(app: FastAPI, feedback: Feedback, max_body_bytes: int) -> None:
    @app.post(
        "/api/feedback",
        tags=["monitoring"],
        summary="Ground truth for logged predictions",
        description=(
            'Body: {"prediction_id": "...", "label": 1} or a list of them (ids come from '
            "the prediction responses: `prediction_ids` in V1, `parameters.prediction_ids` "
            "in V2). Acknowledged records are on disk before the response. Answer: "
            '{"accepted": n, "unknown_ids": [...], "invalid": [...]}; 422 if nothing was '
            "accepted and something was invalid."
        ),
    )
    async def post_feedback(request: Request) -> Response:
        body = await request.body()
        if len(body) > max_body_bytes:
            raise PayloadTooLarge(f"the body exceeds {max_body_bytes} bytes")
        doc = load_json(body)
        if not isinstance(doc, (dict, list)):
            raise InvalidArgument(
                "feedback must be an object or a list of objects",
                hint='send {"prediction_id": "...", "label": 1}',
            )
        result = await feedback.record(doc)
        status = 422 if result.invalid and not result.accepted and not result.unknown_ids else 200
        return Response(
            orjson.dumps(result.to_dict()), status_code=status, media_type="application/json"
        )
