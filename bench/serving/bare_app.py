"""The limit to compare against: Starlette on uvicorn parsing the body, answering a constant.

Same stack as modelport serving (uvloop, httptools, orjson), no model, no validation, no
batching, no metrics or logs: what any Python server on this machine can do at best.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = orjson.dumps({"predictions": [0]})


async def predict(request: Request) -> Response:
    orjson.loads(await request.body())
    return Response(ANSWER, media_type="application/json")


async def ready(request: Request) -> Response:
    return Response(b'{"ready": true}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
        Route("/v2/health/ready", ready),
    ]
)
