"""The prediction pipeline every transport calls: route, validate, ids, batch, log.

A transport (HTTP V1/V2 today, gRPC and streams later) only decodes its request into the
data a signature validates, and encodes the typed :class:`PredictionResult`. Routing is a
step of its own because a decoder may need the served version first (V2 types tensors by
the signature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.predictions import new_prediction_ids
from modelport.reference import Reference
from modelport.runtime.pool import ModelPool, ServedVersion
from modelport.schema.validation import require_rows


@dataclass(frozen=True)
class PredictionResult:
    """What one request was answered with, by which version."""

    served: ServedVersion
    predictions: np.ndarray
    #: class probabilities (rows x classes) when asked for, else None
    probabilities: np.ndarray | None
    #: the ids under which the predictions were logged (None: this request was not logged)
    prediction_ids: list[str] | None

    @property
    def name(self) -> str:
        return self.served.name

    @property
    def version(self) -> int:
        return self.served.version


class PredictionService:
    """The pipeline over one pool of served versions."""

    def __init__(self, pool: ModelPool) -> None:
        self.pool = pool

    def route(self, ref: Reference) -> ServedVersion:
        """The served version that answers ``ref`` (404 errors name what is served)."""
        return self.pool.route(ref)

    async def predict(
        self,
        served: ServedVersion,
        data: Any,
        *,
        probabilities: bool = False,
        arrived: float = 0.0,
    ) -> PredictionResult:
        """Validate ``data`` against the version's signature and predict through its batcher.

        Between :meth:`route` and the submit below there is no ``await``: an alias swap on
        the event loop cannot retire ``served`` in between.
        """
        prepared = served.prepare(data)
        n_rows = require_rows(prepared)
        ids = new_prediction_ids(n_rows) if served.wants_log() else None
        predictions, probas = await served.predict(
            prepared, proba=probabilities, ids=ids, arrived=arrived
        )
        return PredictionResult(served, predictions, probas, ids)
