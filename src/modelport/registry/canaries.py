"""Canaries in the registry: a deployment's rollout plan and its state, which survive restarts.

One canary at a time per deployment: a new one may start only when the last has finished.
Each step's verdict is appended, so ``canary status`` tells the whole story.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from modelport.errors import CanaryNotFound, ConflictError
from modelport.reference import validate_name
from modelport.registry.database import Database
from modelport.registry.tables import CanaryRow

if TYPE_CHECKING:
    # loaded on use: the canary analysis needs NumPy and SciPy, and `models list` does not
    from modelport.deployments.rollout import CanaryPlan, CanaryState


@dataclass(frozen=True, slots=True)
class Canary:
    deployment: str
    plan: CanaryPlan
    state: CanaryState
    step_started_at: datetime
    verdicts: tuple[dict[str, Any], ...]
    started_by: str
    started_at: datetime

    def summary(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "plan": self.plan.to_dict(),
            "state": self.state.to_dict(),
            "candidate_percent": self.state.candidate_percent(self.plan.steps),
            "step_started_at": self.step_started_at.isoformat(),
            "verdicts": list(self.verdicts),
            "started_by": self.started_by,
            "started_at": self.started_at.isoformat(),
        }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class CanaryStore:
    def __init__(self, db: Database, actor: Callable[[], str]) -> None:
        self.db = db
        self.actor = actor

    def start(self, deployment: str, plan: CanaryPlan) -> Canary:
        from modelport.deployments.rollout import FINISHED

        with self.db.write() as session:
            current = self._latest(session, validate_name(deployment, kind="deployment name"))
            if current is not None and current.status not in FINISHED:
                raise ConflictError(
                    f"deployment {deployment!r} already has a canary ({current.status})",
                    hint=f"see `modelport canary status {deployment}`; abort it first",
                )
            now = datetime.now(UTC)
            row = CanaryRow(
                deployment=deployment,
                plan=json.dumps(plan.to_dict()),
                step_index=0,
                status="running",
                step_started_at=now,
                verdicts="[]",
                started_by=self.actor(),
                started_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return _record(row)

    def get(self, deployment: str) -> Canary:
        """The deployment's latest canary (running, paused or finished)."""
        with self.db.read() as session:
            row = self._latest(session, validate_name(deployment, kind="deployment name"))
            if row is None:
                raise CanaryNotFound(
                    f"deployment {deployment!r} has no canary",
                    hint=f"start one: modelport canary start {deployment} --candidate REF",
                )
            return _record(row)

    def update(
        self,
        deployment: str,
        state: CanaryState,
        *,
        verdict: dict[str, Any] | None = None,
        new_step: bool = False,
    ) -> Canary:
        """Record a new state (and the verdict that led to it); a new step restarts the window."""
        with self.db.write() as session:
            row = self._latest(session, deployment)
            if row is None:
                raise CanaryNotFound(f"deployment {deployment!r} has no canary")
            now = datetime.now(UTC)
            row.step_index, row.status, row.updated_at = state.step_index, state.status, now
            if new_step:
                row.step_started_at = now
            if verdict is not None:
                row.verdicts = json.dumps([*json.loads(row.verdicts), verdict])
            return _record(row)

    def _latest(self, session: Any, deployment: str) -> CanaryRow | None:
        row = session.scalar(
            select(CanaryRow)
            .where(CanaryRow.deployment == deployment)
            .order_by(CanaryRow.id.desc())
            .limit(1)
        )
        return row  # type: ignore[no-any-return]


def _record(row: CanaryRow) -> Canary:
    from modelport.deployments.rollout import CanaryPlan, CanaryState

    return Canary(
        deployment=row.deployment,
        plan=CanaryPlan.from_dict(json.loads(row.plan)),
        state=CanaryState(row.step_index, row.status),  # type: ignore[arg-type]
        step_started_at=_aware(row.step_started_at),
        verdicts=tuple(json.loads(row.verdicts)),
        started_by=row.started_by,
        started_at=_aware(row.started_at),
    )
