"""The prediction pipeline every transport calls: route, validate, ids, batch, log.

A transport (HTTP V1/V2 today, gRPC and streams later) only decodes its request into the
data a signature validates, and encodes the typed :class:`PredictionResult`. Routing is a
step of its own because a decoder may need the served version first (V2 types tensors by
the signature).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.deployments.spec import DeploymentSpec
from modelport.errors import ModelportError, PayloadTooLarge
from modelport.predictions import new_prediction_ids
from modelport.reference import Reference
from modelport.runtime.arm_windows import ArmWindows
from modelport.runtime.deployments import DeploymentRouter, Routed
from modelport.runtime.metrics import Metrics
from modelport.runtime.pool import ModelPool, ServedVersion
from modelport.schema.validation import require_rows

log = logging.getLogger("modelport.serving")


@dataclass(frozen=True)
class PredictionResult:
    """What one request was answered with, by which version."""

    served: ServedVersion
    predictions: np.ndarray
    #: class probabilities (rows x classes) when asked for, else None
    probabilities: np.ndarray | None
    #: the ids under which the predictions were logged (None: this request was not logged)
    prediction_ids: list[str] | None
    #: the deployment that routed the request (None: the model was called directly)
    deployment: str | None = None

    @property
    def name(self) -> str:
        return self.served.name

    @property
    def version(self) -> int:
        return self.served.version


def _no_key(spec: DeploymentSpec) -> str | None:
    return None


def _arm(served: ServedVersion) -> str:
    return f"{served.name}:{served.version}"


def _answers_classes(served: ServedVersion, predictions: np.ndarray) -> bool:
    """Whether the answer is a class (a classifier's, or any answer that is not a float)."""
    return served.classes is not None or np.asarray(predictions).dtype.kind != "f"


class PredictionService:
    """The pipeline over one pool of served versions and the deployments routed to them."""

    def __init__(
        self,
        pool: ModelPool,
        deployments: DeploymentRouter,
        metrics: Metrics | None = None,
        windows: ArmWindows | None = None,
        *,
        max_rows: int = 100_000,
    ) -> None:
        self.pool = pool
        #: rows per request at most (a cap per request, on top of the body size limit)
        self.max_rows = max_rows
        self.deployments = deployments
        self.metrics = metrics
        #: where a deployment's arms report their predictions (for canary steps)
        self.windows = windows
        self._pending: set[asyncio.Future[Any]] = set()  # shadow copies not yet answered
        self._same: dict[tuple[str, int, str, int], bool] = {}

    def route(
        self, ref: Reference, key_of: Callable[[DeploymentSpec], str | None] = _no_key
    ) -> Routed:
        """What answers ``ref``: a served version, or a deployment's arm (404s name what is
        served). ``key_of`` reads the request's sticky key when a deployment wants one."""
        return self.deployments.route(ref, key_of)

    async def predict(
        self,
        routed: Routed,
        data: Any,
        *,
        probabilities: bool = False,
        arrived: float = 0.0,
    ) -> PredictionResult:
        """Validate ``data`` against the version's signature and predict through its batcher.

        Between :meth:`route` and the submit below there is no ``await``: an alias swap on
        the event loop cannot retire the version in between. Shadows get their copy after
        the answer is computed, in tasks of their own: their latency and failures never
        reach the caller.
        """
        served = routed.served
        prepared = served.prepare(data)
        n_rows = require_rows(prepared)
        if n_rows > self.max_rows:
            raise PayloadTooLarge(
                f"{n_rows} rows in one request; this server takes at most {self.max_rows}",
                hint="split the rows over several requests, or use batch scoring "
                "(modelport batch) for large files",
            )
        ids = new_prediction_ids(n_rows) if served.wants_log() else None
        predictions, probas = await served.predict(
            prepared,
            proba=probabilities,
            ids=ids,
            arrived=arrived,
            deployment=routed.deployment,
            key=routed.key,
        )
        if routed.deployment is not None and self.windows is not None:
            self.windows.observe_predictions(
                routed.deployment,
                _arm(served),
                predictions,
                prediction_id=ids[0] if ids else None,
                classes=_answers_classes(served, predictions),
            )
        for shadow in routed.shadows:
            self._copy(
                shadow,
                prepared if self._same_inputs(served, shadow) else None,
                data,
                routed,
                arrived,
                predictions,
            )
        return PredictionResult(served, predictions, probas, ids, routed.deployment)

    async def drain(self) -> None:
        """Wait for the shadow copies still queued (a graceful stop logs them too)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _same_inputs(self, served: ServedVersion, shadow: ServedVersion) -> bool:
        """Whether both versions take the same input (compared once per pair of versions)."""
        # versions are immutable: their names and numbers identify their signatures for good
        key = (served.name, served.version, shadow.name, shadow.version)
        same = self._same.get(key)
        if same is None:
            same = served.signature is not None and (
                served.signature.inputs == (shadow.signature.inputs if shadow.signature else None)
                and served.signature.input_kind == shadow.signature.input_kind  # type: ignore[union-attr]
            )
            self._same[key] = same
        return same

    def _copy(
        self,
        shadow: ServedVersion,
        prepared: Any | None,
        data: Any,
        routed: Routed,
        arrived: float,
        answered: np.ndarray,
    ) -> None:
        """Queue a copy of the request for a shadow, logged with its outputs, never raised.

        Synchronous: the copy waits in the shadow's own batcher, and its outcome is counted
        when its future completes, so the caller's answer never waits for the shadow.
        ``answered`` is the arm's answer, compared with the shadow's then (a canary's
        agreement check).
        """
        assert routed.deployment is not None
        try:
            if prepared is None:  # another signature: validate the request for the shadow
                prepared = shadow.prepare(data)
            ids = new_prediction_ids(len(prepared)) if shadow.wants_log() else None
            future = shadow.copy(
                prepared,
                ids=ids,
                arrived=arrived,
                deployment=f"{routed.deployment}/shadow",
                key=routed.key,
            )
        except ModelportError as exc:
            self._count_shadow(routed, shadow, "failed")
            log.warning(
                "shadow %s:%d of %s refused the request: %s",
                shadow.name,
                shadow.version,
                routed.deployment,
                exc.message,
            )
            return
        self._pending.add(future)
        future.add_done_callback(lambda done: self._copied(done, shadow, routed, answered))

    def _copied(
        self,
        done: asyncio.Future[Any],
        shadow: ServedVersion,
        routed: Routed,
        answered: np.ndarray,
    ) -> None:
        self._pending.discard(done)
        failure = None if done.cancelled() else done.exception()
        if failure is None and not done.cancelled():
            self._count_shadow(routed, shadow, "ok")
            if self.windows is not None and routed.deployment is not None:
                copied, _ = done.result()
                self.windows.observe_pair(
                    routed.deployment,
                    _arm(routed.served),
                    _arm(shadow),
                    answered,
                    copied,
                    classes=_answers_classes(routed.served, answered)
                    or _answers_classes(shadow, copied),
                )
            return
        self._count_shadow(routed, shadow, "failed")
        log.warning(
            "shadow %s:%d of %s failed: %s",
            shadow.name,
            shadow.version,
            routed.deployment,
            failure or "cancelled",
        )

    def _count_shadow(self, routed: Routed, shadow: ServedVersion, outcome: str) -> None:
        if self.metrics is not None and routed.deployment is not None:
            label = f"{shadow.name}:{shadow.version}"
            self.metrics.shadow_requests.labels(routed.deployment, label, outcome).inc()
