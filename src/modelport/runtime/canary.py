"""The server's canary controller: judges each running canary of a served deployment.

Every poll it reads the canaries of the deployments this server serves (their state is in
the registry, so a restart picks them up where they were). When a step's interval has
passed, the candidate and the stable arm are compared over the traffic this process saw
since the step began (:class:`~modelport.runtime.arm_windows.ArmWindows`: counts, latencies,
predictions, the rows both arms answered when one shadows the other, labels from feedback),
at most once per interval, and :class:`~modelport.services.canary.CanaryService` does what
the verdict says.
With several workers one of them judges at a time (a lock file); it sees its own share of
the traffic, a random sample of the whole.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from modelport.errors import CanaryNotFound, ModelportError
from modelport.reference import parse
from modelport.registry import Registry
from modelport.registry.canaries import Canary
from modelport.runtime.arm_windows import ArmWindows
from modelport.runtime.metrics import Metrics
from modelport.runtime.pool import ModelPool
from modelport.services.canary import CanaryService

log = logging.getLogger("modelport.canary")


class CanaryController:
    def __init__(
        self,
        registry: Registry,
        pool: ModelPool,
        windows: ArmWindows,
        deployments: tuple[str, ...],
        lock_path: Path | None = None,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.service = CanaryService(registry)
        self.registry = registry
        self.pool = pool
        self.windows = windows
        self.deployments = deployments
        self.lock = FileLock(str(lock_path)) if lock_path else None
        self.metrics = metrics
        self._steps: dict[str, datetime] = {}  # when the step whose window we hold began
        self._judged: dict[str, datetime] = {}

    async def run(self, poll_interval: float) -> None:
        while True:
            await asyncio.sleep(poll_interval)
            try:
                await asyncio.to_thread(self.check_once)
            except Exception:  # one bad pass must not stop the controller
                log.exception("canary check failed")

    def check_once(self, now: datetime | None = None) -> None:
        if self.lock is not None:
            try:
                self.lock.acquire(timeout=0)
            except Timeout:
                return  # another worker judges this round
        try:
            for name in self.deployments:
                self._check(name, now or datetime.now(UTC))
        finally:
            if self.lock is not None:
                self.lock.release()

    def _check(self, name: str, now: datetime) -> None:
        try:
            canary = self.service.status(name)
        except CanaryNotFound:
            return
        self._export(name, canary)
        if canary.state.finished:
            if name in self._steps:  # ended since the last look: nothing more to count
                self.windows.forget(name)
                del self._steps[name]
            return
        if self._steps.get(name) != canary.step_started_at:
            # a new step (or a canary new to this process): its window starts empty now
            self.windows.reset(name)
            self._steps[name] = canary.step_started_at
            self._judged[name] = max(canary.step_started_at, now)
            return
        if canary.state.status != "running":
            return
        interval = canary.plan.interval_seconds
        if (now - self._judged.get(name, canary.step_started_at)).total_seconds() < interval:
            return
        try:
            stable = self.pool.route(parse(canary.plan.stable))
            candidate = self.pool.route(parse(canary.plan.candidate))
        except ModelportError as exc:
            log.warning("canary of %s: an arm is not served: %s", name, exc.message)
            return
        percent = canary.state.candidate_percent(canary.plan.steps)
        a, b, paired = self.windows.windows(
            name,
            f"{stable.name}:{stable.version}",
            f"{candidate.name}:{candidate.version}",
            stable_answers=percent < 100.0,
        )
        self._judged[name] = now
        updated = self.service.judge(name, a, b, paired)
        self._export(name, updated)
        last = updated.verdicts[-1] if updated.verdicts else {}
        log.info("canary of %s: %s -> %s", name, last.get("verdict"), updated.state.status)

    def _export(self, name: str, canary: Canary) -> None:
        """The canary's state as gauges (so a dashboard shows every step and its outcome)."""
        if self.metrics is None:
            return
        plan, state = canary.plan, canary.state
        self.metrics.canary_percent.labels(name, plan.stable, plan.candidate).set(
            state.candidate_percent(plan.steps)
        )
        self.metrics.canary_step.labels(name).set(state.step_index)
        for status in CANARY_STATUSES:
            self.metrics.canary_status.labels(name, status).set(
                1.0 if state.status == status else 0.0
            )


#: every status a canary can be in (one gauge series each, 1 for the current one)
CANARY_STATUSES = ("running", "paused", "promoted", "rolled_back", "aborted")
