"""The serving runtime: what a server runs, outside any transport.

:class:`ServingRuntime` owns the served-model pool and its alias follower, the deployments
it serves (followed on the same poll) and their canary controller, the prediction log writer,
the feedback service, the background monitor and the prediction pipeline, and starts and
stops them in order. The HTTP app (and later gRPC, streams) is built around one
runtime and only adapts requests to :attr:`ServingRuntime.predictions` and
:attr:`ServingRuntime.feedback`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import TYPE_CHECKING

from modelport.predictions import PredictionLogWriter
from modelport.registry import Registry
from modelport.runtime.arm_windows import ArmWindows
from modelport.runtime.canary import CanaryController
from modelport.runtime.config import ServeConfig
from modelport.runtime.deployments import DeploymentRouter
from modelport.runtime.metrics import Metrics
from modelport.runtime.monitor import start_monitor
from modelport.runtime.pool import ModelPool
from modelport.runtime.prediction import PredictionService
from modelport.services.access import AccessControl
from modelport.services.feedback import FeedbackService

log = logging.getLogger("modelport.serving")

if TYPE_CHECKING:
    from modelport.monitoring.background import BackgroundMonitor


class ServingRuntime:
    """One server's pool, log, feedback, monitor and prediction pipeline."""

    def __init__(self, config: ServeConfig, registry: Registry, *, owns_registry: bool) -> None:
        self.config = config
        self.registry = registry
        self.owns_registry = owns_registry
        self.metrics = Metrics(config.shared_metrics_dir())
        self.log_root = registry.settings.resolved_log_uri()
        logging_on = config.log_sample_rate > 0 or any(config.model_log_rate.values())
        self.writer = (
            PredictionLogWriter(self.log_root, flush_interval=config.log_flush_interval)
            if logging_on
            else None
        )
        self.pool = ModelPool(registry, config, self.metrics, self.writer)
        self.deployments = DeploymentRouter(registry, self.pool, config.deployments)
        #: what each deployment arm did since the current canary step began
        self.windows = ArmWindows()
        self.predictions = PredictionService(
            self.pool, self.deployments, self.metrics, self.windows, max_rows=config.max_rows
        )
        self.canaries = (
            CanaryController(
                registry,
                self.pool,
                self.windows,
                config.deployments,
                registry.settings.canary_lock_path(),
                metrics=self.metrics,
            )
            if config.deployments
            else None
        )
        self._canary_task: asyncio.Task[None] | None = None
        self.feedback = FeedbackService(
            registry,
            self.log_root,
            writer=self.writer,
            flush_interval=config.log_flush_interval,
            on_labels=self.windows.observe_labels,
        )
        self.monitor: BackgroundMonitor | None = None
        self._follower: asyncio.Task[None] | None = None
        #: who may call what, within which limits: every front end asks it first
        self.access = access_control(config, registry)
        self.metrics.watch_access(self.access, config)

    @property
    def ready(self) -> bool:
        return self.pool.ready

    async def start(self) -> None:
        """Load and warm every model, then follow aliases, write the log and monitor."""
        await asyncio.to_thread(lambda: self.pool.load(self.deployments.refs()))
        await asyncio.to_thread(self.access.refresh)
        if self.access.enabled and self.access.tokens is None and not self.access.has_keys():
            log.warning(
                "authentication is on and no API key exists: every request but /v2/health "
                "will be refused 401; create one with `modelport keys create --role predict`"
            )
        # Everything loaded so far (libraries, models) lives as long as the process: move it
        # out of the collector's sight, so full collections stay short instead of pausing
        # every request for tens of milliseconds now and then.
        gc.collect()
        gc.freeze()
        self._follower = asyncio.create_task(self._follow(), name="alias-follower")
        if self.writer is not None:
            self.writer.start()
        if self.canaries is not None:
            self._canary_task = asyncio.create_task(
                self.canaries.run(self.config.poll_interval), name="canary-controller"
            )
        self.monitor = start_monitor(
            self.registry, self.config, self.pool, self.metrics, self.log_root
        )

    async def _follow(self) -> None:
        """Poll the registry: aliases and latest, then deployments' policies."""
        while True:
            await asyncio.sleep(self.config.poll_interval)
            try:
                await self.pool.poll_once()
                await self.deployments.poll_once()
                await asyncio.to_thread(self.access.refresh)
                await asyncio.to_thread(self.access.flush)
                self.metrics.sync_access()
            except Exception:  # a registry hiccup must not stop the follower
                log.exception("checking the registry for changes failed")

    async def stop(self) -> None:
        """Graceful: in-flight batches finish and are logged, then nothing buffered is lost."""
        if self._canary_task is not None:
            self._canary_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._canary_task
            self._canary_task = None
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
        await self.predictions.drain()  # shadows already given a request finish it
        await asyncio.to_thread(self.access.flush)
        await self.pool.aclose()
        if self.monitor is not None:
            await asyncio.to_thread(self.monitor.close)
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close)
        self.feedback.close()
        if self.owns_registry:
            self.registry.close()


def access_control(config: ServeConfig, registry: Registry) -> AccessControl:
    """The guard ``config`` asks for: keys from the registry, tokens from a JWKS, limits."""
    tokens = None
    if config.jwks is not None:
        from pathlib import Path

        from modelport.security.tokens import TokenPolicy, TokenVerifier

        remote = config.jwks.startswith("https://")
        tokens = TokenVerifier(
            TokenPolicy(
                jwks_file=None if remote else Path(config.jwks),
                jwks_url=config.jwks if remote else None,
                issuer=config.jwt_issuer,
                audience=config.jwt_audience,
                roles_claim=config.jwt_roles_claim,
            )
        )
    rate = None
    if config.rate_limit is not None:
        from modelport.security.limits import parse_rate

        rate = parse_rate(config.rate_limit)
    return AccessControl(
        registry,
        enabled=config.auth,
        tokens=tokens,
        rate=rate,
        max_concurrency=config.max_concurrency,
    )
