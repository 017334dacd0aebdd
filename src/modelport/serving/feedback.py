"""``POST /api/feedback``: the HTTP front of :class:`~modelport.services.feedback.FeedbackService`.

The service checks every record (shape, prediction id, label against the version's
output schema) and stores all of them durably before the answer, or none if any is
invalid (422 listing every problem); unknown ids are reported, never silently dropped.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from modelport.errors import InvalidArgument
from modelport.services.feedback import FeedbackService
from modelport.serving.protocols.common import load_json, read_body


def add_feedback_route(app: FastAPI, feedback: FeedbackService, max_body_bytes: int) -> None:
    @app.post(
        "/api/feedback",
        tags=["monitoring"],
        summary="Ground truth for logged predictions",
        description=(
            'Body: {"prediction_id": "...", "label": 1} or a list of them (ids come from '
            "the prediction responses: `prediction_ids` in V1, `parameters.prediction_ids` "
            "in V2). Labels must be values the model predicts: one of its classes, or a finite "
            "number for a regressor. Acknowledged records are on disk before the response. "
            'Answer: {"accepted": n, "unknown_ids": [...], "invalid": [...]}; if any record '
            "is invalid, none is stored and the answer is 422 with every problem listed."
        ),
    )
    async def post_feedback(request: Request) -> Response:
        doc = load_json(await read_body(request, max_body_bytes))
        if not isinstance(doc, (dict, list)):
            raise InvalidArgument(
                "feedback must be an object or a list of objects",
                hint='send {"prediction_id": "...", "label": 1}',
            )
        # who sent the labels (the guard's principal; none without auth): a poisoning check
        # compares each source's labels with the others'
        state = request.scope.get("state") or {}
        principal = state.get("principal")
        result = await feedback.record(
            doc, source=principal if isinstance(principal, str) else None
        )
        status = 422 if result.rejected else 200
        return Response(
            orjson.dumps(result.to_dict()), status_code=status, media_type="application/json"
        )
