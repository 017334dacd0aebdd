"""A canary's plan and its state machine: the steps, and where each verdict takes it.

The analysis of one step is :mod:`.canary`; this is what happens between steps. A finished
canary (rolled back, promoted, aborted) never changes again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from modelport.deployments.canary import CanaryThresholds, Verdict, is_number, validate_steps
from modelport.deployments.sequences import finite
from modelport.errors import ConflictError, InvalidArgument, InvalidReference
from modelport.reference import parse

Status = Literal["running", "paused", "rolled_back", "promoted", "aborted"]
Command = Literal["pause", "resume", "abort", "promote"]
FINISHED: frozenset[str] = frozenset({"rolled_back", "promoted", "aborted"})


# -- the plan -------------------------------------------------------------------------------


def parse_steps(text: str) -> tuple[float, ...]:
    """``"5,25,50,100"``: the percents of traffic at each step."""
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise InvalidArgument("no canary steps given", hint="--steps 5,25,50,100")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise InvalidArgument(
                f"step {part!r} in {text!r} is not a number", hint="--steps 5,25,50,100"
            ) from None
        if not math.isfinite(value):
            raise InvalidArgument(f"step {part!r} in {text!r} is not a finite number")
        values.append(value)
    return validate_steps(values)


@dataclass(frozen=True)
class CanaryPlan:
    """What a canary does: the candidate's share at each step, for ``interval_seconds`` each,
    judged by ``thresholds`` against the stable arm."""

    candidate: str
    stable: str
    steps: tuple[float, ...]
    interval_seconds: float
    thresholds: CanaryThresholds = field(default_factory=CanaryThresholds)

    def __post_init__(self) -> None:
        candidate, stable = (
            _reference(self.candidate, "candidate"),
            _reference(self.stable, "stable"),
        )
        if candidate == stable:
            raise InvalidArgument(
                f"the candidate {self.candidate} is the stable arm",
                hint="a canary compares a new version with the one serving now",
            )
        object.__setattr__(self, "steps", validate_steps(self.steps))
        if not (is_number(self.interval_seconds) and self.interval_seconds > 0):
            raise InvalidArgument(
                f"interval {self.interval_seconds!r} s is not a positive number", hint="e.g. 60"
            )
        if not isinstance(self.thresholds, CanaryThresholds):
            raise InvalidArgument("thresholds must be CanaryThresholds")

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "stable": self.stable,
            "steps": [finite(s) for s in self.steps],
            "interval_seconds": finite(self.interval_seconds),
            "thresholds": self.thresholds.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CanaryPlan:
        return cls(
            candidate=data["candidate"],
            stable=data["stable"],
            steps=tuple(float(s) for s in data["steps"]),
            interval_seconds=float(data["interval_seconds"]),
            thresholds=CanaryThresholds.from_dict(data.get("thresholds", {})),
        )


# -- the state machine ----------------------------------------------------------------------


@dataclass(frozen=True)
class CanaryState:
    """Where a canary is: the step it is on and whether it runs, waits for a person or ended."""

    step_index: int = 0
    status: Status = "running"

    def __post_init__(self) -> None:
        if self.status not in ("running", "paused", "rolled_back", "promoted", "aborted"):
            raise InvalidArgument(
                f"canary status {self.status!r} is unknown",
                hint="running, paused, rolled_back, promoted or aborted",
            )
        if isinstance(self.step_index, bool) or not isinstance(self.step_index, int):
            raise InvalidArgument(f"step_index {self.step_index!r} is not an integer")
        if self.step_index < 0:
            raise InvalidArgument(f"step_index {self.step_index} is negative")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CanaryState:
        return cls(step_index=data["step_index"], status=data["status"])

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def candidate_percent(self, steps: Sequence[float]) -> float:
        """The candidate's share of traffic in this state: 0 after a rollback or an abort."""
        if self.status in ("rolled_back", "aborted"):
            return 0.0
        if self.status == "promoted":
            return 100.0
        return float(steps[self.step_index])

    def to_dict(self) -> dict[str, Any]:
        return {"step_index": self.step_index, "status": self.status}


def next_state(state: CanaryState, verdict: Verdict, *, steps: int | None = None) -> CanaryState:
    """Where a step's verdict takes the canary.

    A finished canary (rolled back, promoted, aborted) never changes again. Running: advance
    moves to the next step, promote ends promoted, rollback ends rolled back (the candidate's
    weight back to 0), inconclusive pauses, wait stays. Paused waits for a person (see
    :func:`apply_command`); only a rollback still ends it, since failing evidence needs no one.
    ``steps`` (the number of steps), when given, refuses an advance past the last step.
    """
    if verdict not in ("advance", "promote", "rollback", "wait", "inconclusive"):
        raise InvalidArgument(
            f"unknown verdict {verdict!r}", hint="advance, promote, rollback, wait, inconclusive"
        )
    if state.finished:
        return state
    if verdict == "rollback":
        return CanaryState(state.step_index, "rolled_back")
    if state.status == "paused":
        return state
    if verdict == "advance":
        if steps is not None and state.step_index + 1 >= steps:
            raise InvalidArgument(
                f"advance past the last of {steps} steps",
                hint="the verdict at the last step is promote",
            )
        return CanaryState(state.step_index + 1, "running")
    if verdict == "promote":
        return CanaryState(state.step_index, "promoted")
    if verdict == "inconclusive":
        return CanaryState(state.step_index, "paused")
    return state


def apply_command(state: CanaryState, command: Command) -> CanaryState:
    """A person's ``canary pause|resume|abort|promote``; a finished canary refuses them all."""
    if state.finished:
        raise ConflictError(
            f"the canary is already {state.status.replace('_', ' ')}",
            hint="start a new canary to try again",
        )
    if command == "pause":
        return CanaryState(state.step_index, "paused")
    if command == "resume":
        return CanaryState(state.step_index, "running")
    if command == "abort":
        return CanaryState(state.step_index, "aborted")
    if command == "promote":
        return CanaryState(state.step_index, "promoted")
    raise InvalidArgument(f"unknown command {command!r}", hint="pause, resume, abort, promote")


def _reference(text: str, what: str) -> str:
    try:
        return str(parse(text))
    except InvalidReference as exc:
        raise InvalidArgument(f"{what} {text!r}: {exc.message}", hint=exc.hint) from None
