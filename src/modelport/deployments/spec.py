"""What a deployment is: a name clients call, arms that share its traffic, shadows that copy it.

    checkout:  credit-risk@production=90, credit-risk:3=10   (weights, any positive scale)
               sticky on header X-User-Id                    (one user, one arm)
               shadow credit-risk:4 on 50% of the traffic    (off the response path)

Plain data, checked when built: every problem is an :class:`InvalidArgument` naming it,
so nothing invalid is ever stored. Whether the references exist is the registry's check.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from modelport.errors import InvalidArgument, InvalidReference
from modelport.reference import parse, validate_name

StickyKind = Literal["header", "field"]
# an HTTP header name (RFC 9110 token) or a feature name: letters, digits and -_.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


@dataclass(frozen=True)
class Arm:
    """A model reference and its share of the traffic (weights are relative)."""

    ref: str
    weight: float


@dataclass(frozen=True)
class Shadow:
    """A model reference that gets a copy of ``percent`` % of the requests, off the answer."""

    ref: str
    percent: float


@dataclass(frozen=True)
class Sticky:
    """Where the key that pins a caller to one arm comes from: a header or an input field."""

    kind: StickyKind
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    arms: tuple[Arm, ...]
    sticky: Sticky | None = None
    shadows: tuple[Shadow, ...] = field(default=())

    def __post_init__(self) -> None:
        validate_name(self.name, kind="deployment name")
        if not self.arms:
            raise InvalidArgument(
                f"deployment {self.name!r} has no arms",
                hint="give at least one --arm REF=WEIGHT, e.g. --arm credit-risk@production=100",
            )
        refs = [_reference(arm.ref, "arm") for arm in self.arms]
        duplicated = sorted({r for r in refs if refs.count(r) > 1})
        if duplicated:
            raise InvalidArgument(
                f"the same reference is given as two arms: {', '.join(duplicated)}",
                hint="merge them into one arm with the sum of their weights",
            )
        for arm in self.arms:
            if not (isinstance(arm.weight, int | float) and math.isfinite(arm.weight)):
                raise InvalidArgument(f"arm {arm.ref}: weight {arm.weight!r} is not a number")
            if arm.weight < 0:
                raise InvalidArgument(
                    f"arm {arm.ref}: weight {arm.weight:g} is negative",
                    hint="weights are shares of the traffic: 0 or more",
                )
        if sum(arm.weight for arm in self.arms) <= 0:
            raise InvalidArgument(
                "the arms' weights add up to 0: no arm would get traffic",
                hint="give at least one arm a positive weight, e.g. REF=100",
            )
        for shadow in self.shadows:
            ref = _reference(shadow.ref, "shadow")
            if ref in refs:
                raise InvalidArgument(
                    f"{shadow.ref} is both an arm and a shadow",
                    hint="an arm already answers its share; shadow another version",
                )
            if not (math.isfinite(shadow.percent) and 0 < shadow.percent <= 100):
                raise InvalidArgument(
                    f"shadow {shadow.ref}: {shadow.percent!r}% is not in (0, 100]",
                    hint="the share of requests copied to the shadow, e.g. REF=50",
                )
        shadow_refs = [_reference(s.ref, "shadow") for s in self.shadows]
        if len(set(shadow_refs)) != len(shadow_refs):
            raise InvalidArgument("the same reference is given as two shadows")
        if self.sticky is not None:
            if self.sticky.kind not in ("header", "field"):
                raise InvalidArgument(
                    f"sticky {self.sticky.kind!r} is neither header nor field",
                    hint="write header:X-User-Id or field:customer_id",
                )
            if not _KEY.fullmatch(self.sticky.key):
                raise InvalidArgument(
                    f"sticky key {self.sticky.key!r} is not a header or field name",
                    hint="letters, digits, '-', '_' and '.', e.g. header:X-User-Id",
                )

    @property
    def total_weight(self) -> float:
        return float(sum(arm.weight for arm in self.arms))

    def shares(self) -> list[float]:
        """Each arm's share of the traffic, summing to 1."""
        total = self.total_weight
        return [arm.weight / total for arm in self.arms]

    @functools.cached_property
    def bounds(self) -> list[float]:
        """The arms' cumulative shares: arm ``i`` takes draws below ``bounds[i]``."""
        return list(itertools.accumulate(self.shares()))

    def refs(self) -> list[str]:
        """Every reference the deployment serves: arms, then shadows."""
        return [arm.ref for arm in self.arms] + [shadow.ref for shadow in self.shadows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arms": [{"ref": a.ref, "weight": a.weight} for a in self.arms],
            "sticky": None if self.sticky is None else str(self.sticky),
            "shadows": [{"ref": s.ref, "percent": s.percent} for s in self.shadows],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentSpec:
        return cls(
            name=data["name"],
            arms=tuple(Arm(a["ref"], float(a["weight"])) for a in data["arms"]),
            sticky=None if not data.get("sticky") else parse_sticky(data["sticky"]),
            shadows=tuple(Shadow(s["ref"], float(s["percent"])) for s in data.get("shadows", [])),
        )


def _reference(text: str, what: str) -> str:
    try:
        return str(parse(text))
    except InvalidReference as exc:
        raise InvalidArgument(f"{what} {text!r}: {exc.message}", hint=exc.hint) from None


def _pair(text: str, what: str, form: str, example: str) -> tuple[str, float]:
    ref, sep, number = str(text).rpartition("=")
    if not sep or not ref:
        raise InvalidArgument(f"{what} {text!r} is not {form}", hint=example)
    try:
        value = float(number)
    except ValueError:
        raise InvalidArgument(
            f"{what} {text!r}: {number!r} is not a number", hint=example
        ) from None
    return ref.strip(), value


def parse_arm(text: str) -> Arm:
    """``credit-risk@production=90``."""
    ref, weight = _pair(text, "arm", "REF=WEIGHT", "--arm credit-risk@production=90")
    return Arm(ref, weight)


def parse_shadow(text: str) -> Shadow:
    """``credit-risk:4=50`` (percent of the requests)."""
    ref, percent = _pair(text, "shadow", "REF=PERCENT", "--shadow credit-risk:4=50")
    return Shadow(ref, percent)


def parse_sticky(text: str) -> Sticky:
    """``header:X-User-Id`` or ``field:customer_id``."""
    kind, sep, key = str(text).partition(":")
    if not sep or kind not in ("header", "field"):
        raise InvalidArgument(
            f"sticky {text!r} is neither header:NAME nor field:NAME",
            hint="--sticky header:X-User-Id (a request header) or field:customer_id (an input)",
        )
    return Sticky(kind, key)  # type: ignore[arg-type]  # checked just above
