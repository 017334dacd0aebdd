"""Canaries: move a deployment's traffic to a candidate step by step, judged at every step.

The one workflow behind ``modelport canary ...`` and the server's canary controller. A step's
evidence (the two arms' windows) comes from whoever watched the traffic; this service turns
the verdict of :func:`modelport.deployments.canary.analyse_step` into the next state and its
consequences: new weights (audited in the deployment's history), a rollback alert in the
alert journal, or a promotion that moves the stable arm's alias to the candidate. At the
100% step the stable arm is a shadow of every request, so that the candidate's answers are
compared with its answers to the same requests until the verdict.
"""

from __future__ import annotations

from datetime import UTC, datetime

from modelport.deployments.canary import ArmWindow, CanaryThresholds, PairedWindow, analyse_step
from modelport.deployments.rollout import (
    CanaryPlan,
    CanaryState,
    Command,
    apply_command,
    next_state,
)
from modelport.deployments.spec import Arm, DeploymentSpec, Shadow
from modelport.errors import InvalidArgument
from modelport.monitoring.actions import AlertJournal
from modelport.reference import parse
from modelport.registry import Registry
from modelport.registry.canaries import Canary


class CanaryService:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def start(
        self,
        deployment: str,
        candidate: str,
        steps: tuple[float, ...],
        interval_seconds: float,
        *,
        thresholds: CanaryThresholds | None = None,
    ) -> Canary:
        """Begin: the candidate takes the first step's share, the stable arm the rest.

        The stable arm is the deployment's arm of highest weight now.
        """
        current = self.registry.deployments.get(deployment).spec
        stable = max(current.arms, key=lambda arm: arm.weight).ref
        plan = CanaryPlan(
            candidate, stable, steps, interval_seconds, thresholds or CanaryThresholds()
        )
        self.registry.deployments.check_refs([candidate])
        canary = self.registry.canaries.start(deployment, plan)
        self._weights(current, plan, plan.steps[0], f"canary of {candidate}: step 1")
        return canary

    def status(self, deployment: str) -> Canary:
        return self.registry.canaries.get(deployment)

    def command(self, deployment: str, command: Command) -> Canary:
        """pause, resume, abort (weights back to the stable arm) or promote (by a person)."""
        canary = self.registry.canaries.get(deployment)
        state = apply_command(canary.state, command)
        # weights first, then the state: a failure in between leaves the canary to retry
        self._consequences(canary, state, f"canary {command} by {self.registry.settings.actor()}")
        return self.registry.canaries.update(
            deployment, state, verdict={"command": command, "at": _now()}, new_step=True
        )

    def judge(
        self,
        deployment: str,
        stable: ArmWindow,
        candidate: ArmWindow,
        paired: PairedWindow | None = None,
    ) -> Canary:
        """One step's verdict on the evidence, and what follows from it."""
        canary = self.registry.canaries.get(deployment)
        if canary.state.status != "running":
            return canary
        steps = canary.plan.steps
        verdict = analyse_step(
            stable,
            candidate,
            paired,
            canary.plan.thresholds,
            step_index=canary.state.step_index,
            steps=steps,
        )
        state = next_state(canary.state, verdict.verdict, steps=len(steps))
        record = {**verdict.to_dict(), "at": _now()}
        moved = state != canary.state
        if moved:  # weights first, then the state (see command)
            reason = f"canary step {state.step_index + 1}: {verdict.verdict}"
            if verdict.reasons:
                reason += " (" + "; ".join(verdict.reasons) + ")"
            self._consequences(canary, state, reason)
        return self.registry.canaries.update(deployment, state, verdict=record, new_step=moved)

    def _consequences(self, canary: Canary, state: CanaryState, reason: str) -> None:
        spec = self.registry.deployments.get(canary.deployment).spec
        plan = canary.plan
        if state.status == "promoted":
            self._promote(spec, plan, reason)
            return
        self._weights(spec, plan, state.candidate_percent(plan.steps), reason)
        if state.status == "rolled_back":
            AlertJournal(self.registry.settings.alert_journal_path()).append(
                {
                    "rule": "canary",
                    "model": canary.deployment,
                    "metric": "canary",
                    "values": {},
                    "at": _now(),
                    "actions": ["rollback"],
                    "outcomes": [{"action": "rollback", "ok": True, "reason": reason}],
                }
            )

    def _weights(self, spec: DeploymentSpec, plan: CanaryPlan, percent: float, reason: str) -> None:
        """Stable and candidate share the traffic as ``percent`` says; other arms are dropped.

        At 100% the stable arm becomes a shadow of every request instead: the candidate's
        answers are then compared with its answers to the same requests (agreement, and
        the shift check on the same traffic). A shadow costs the stable arm the work it did
        before the canary, off the response path. Any other share takes the shadow away.
        """
        arms: tuple[Arm, ...] = (Arm(plan.stable, 100.0 - percent), Arm(plan.candidate, percent))
        shadows = _without(spec.shadows, plan.stable)
        if percent >= 100.0:
            arms = (Arm(plan.candidate, 100.0),)
            shadows = (*shadows, Shadow(plan.stable, 100.0))
        self.registry.deployments.set(
            DeploymentSpec(spec.name, arms, spec.sticky, shadows), reason=reason
        )

    def _promote(self, spec: DeploymentSpec, plan: CanaryPlan, reason: str) -> None:
        """The candidate becomes the stable arm: its alias moves (when it is one), it takes 100%."""
        stable = parse(plan.stable)
        arms = (Arm(plan.candidate, 100.0),)
        if stable.alias is not None:
            self.registry.set_alias(plan.candidate, stable.alias, reason=reason, action="promote")
            arms = (Arm(plan.stable, 100.0),)
        # the stable arm's shadow of the 100% step has nothing left to compare with
        shadows = _without(_without(spec.shadows, plan.candidate), plan.stable)
        self.registry.deployments.set(
            DeploymentSpec(spec.name, arms, spec.sticky, shadows), reason=reason
        )


def _without(shadows: tuple[Shadow, ...], ref: str) -> tuple[Shadow, ...]:
    return tuple(s for s in shadows if s.ref != ref)


def parse_interval(text: str) -> float:
    """``60s``, ``5min``: seconds (a unit is required, as everywhere else)."""
    from modelport.monitoring.durations import parse_duration

    try:
        return float(parse_duration(text).total_seconds())
    except ValueError as exc:
        raise InvalidArgument(f"interval {exc}", hint="e.g. --interval 60s or 5min") from None


def _now() -> str:
    return datetime.now(UTC).isoformat()


__all__ = ["CanaryService", "parse_interval"]
