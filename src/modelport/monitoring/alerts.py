"""Alert rules: a small YAML file of (metric, threshold, window, actions), evaluated purely.

    rules:
      - name: income-drift
        model: credit-risk            # the model (or deployment) the rule watches
        metric: drift.annual_income.psi   # glob patterns allowed: drift.*.psi
        above: 0.2                    # or: below: 0.7
        window: 1h                    # how much recent traffic the monitor looks at
        cooldown: 1h                  # one alert per rule and model per cooldown
        actions:
          - log
          - webhook: http://ops.example/hooks/modelport
          - rollback: production      # move this alias back one version

Metric names come from :func:`observations`: ``drift.detected`` (0/1),
``drift.share`` (fraction of features drifted), ``drift.<feature>.<field>``
for any numeric field of a feature's drift entry (``statistic``, ``effect``,
``psi``, ``p_value``, ``missing_rate_current``, ``unseen_share``...),
``drift.predictions.<field>``, ``performance.<metric>`` (``accuracy``,
``roc_auc``, ``f1``, ``mae``...), ``traffic.count`` and, for a classifier whose feedback was
checked (:mod:`.labels`), ``feedback.suspicious`` (0/1), ``feedback.suspicious_sources`` (how
many senders stand out) and ``feedback.<label_psi|prediction_psi|excess_psi|disagreement|
expected_disagreement|shift_p_value|disagreement_p_value>``; a rule on poisoned feedback::

      - name: poisoned-feedback
        model: credit-risk
        metric: feedback.suspicious
        above: 0.5
        window: 1d

Evaluation is a pure function of rules, observations and the alert history
(dedup); carrying out actions is :mod:`.actions`.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from modelport.errors import ConfigurationError
from modelport.monitoring.durations import SHORTEST, parse_duration

ACTION_KINDS = ("log", "webhook", "rollback")


@dataclass(frozen=True)
class Action:
    kind: str  # log | webhook | rollback
    target: str | None = None  # the URL, or the alias to roll back


@dataclass(frozen=True)
class Rule:
    name: str
    model: str
    metric: str
    above: float | None = None
    below: float | None = None
    window: timedelta = timedelta(hours=1)
    cooldown: timedelta = timedelta(hours=1)
    actions: tuple[Action, ...] = (Action("log"),)


@dataclass(frozen=True)
class Firing:
    """A rule that crossed its threshold, with the metric values that did it."""

    rule: Rule
    values: dict[str, float]
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.name,
            "model": self.rule.model,
            "metric": self.rule.metric,
            "above": self.rule.above,
            "below": self.rule.below,
            "values": self.values,
            "at": self.at.isoformat(),
            "actions": [
                a.kind if a.target is None else f"{a.kind}:{a.target}" for a in self.rule.actions
            ],
        }


def _duration(value: Any, what: str, *, zero: bool = False) -> timedelta:
    try:
        shortest = pd.Timedelta(0) if zero else SHORTEST
        return parse_duration(value, shortest=shortest).to_pytimedelta()
    except ValueError as exc:
        raise ConfigurationError(f"{what}: {exc}", hint="write e.g. 30min, 1h, 1d") from None


def _action(raw: Any, rule: str) -> Action:
    if isinstance(raw, str) and raw in ACTION_KINDS:
        return Action(raw)
    if isinstance(raw, dict) and len(raw) == 1:
        kind, target = next(iter(raw.items()))
        if kind in ("webhook", "rollback") and isinstance(target, str) and target:
            return Action(kind, target)
    raise ConfigurationError(
        f"rule {rule!r}: cannot read action {raw!r}",
        hint="actions are: log, {webhook: URL}, {rollback: ALIAS}",
    )


def parse_rules(data: Any) -> list[Rule]:
    """Rules from the parsed YAML document; one error naming the rule and field at fault."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ConfigurationError("an alert file needs a top-level 'rules:' list", hint=__doc__)
    rules = []
    names: set[str] = set()
    for index, raw in enumerate(data["rules"]):
        if not isinstance(raw, dict):
            raise ConfigurationError(f"rule #{index + 1} is not a mapping")
        name = str(raw.get("name") or f"rule-{index + 1}")
        if name in names:
            raise ConfigurationError(f"two rules are named {name!r}", hint="names must be unique")
        names.add(name)
        unknown = set(raw) - {
            "name",
            "model",
            "metric",
            "above",
            "below",
            "window",
            "cooldown",
            "actions",
        }
        if unknown:
            raise ConfigurationError(f"rule {name!r}: unknown fields {sorted(unknown)}")
        for required in ("model", "metric"):
            if not isinstance(raw.get(required), str):
                raise ConfigurationError(f"rule {name!r}: '{required}' is required")
        above, below = raw.get("above"), raw.get("below")
        if (above is None) == (below is None):
            raise ConfigurationError(f"rule {name!r}: give exactly one of 'above' or 'below'")
        threshold = above if above is not None else below
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
            raise ConfigurationError(f"rule {name!r}: the threshold must be a number")
        actions = raw.get("actions", ["log"])
        if not isinstance(actions, list) or not actions:
            raise ConfigurationError(f"rule {name!r}: 'actions' must be a non-empty list")
        rules.append(
            Rule(
                name=name,
                model=raw["model"],
                metric=raw["metric"],
                above=float(above) if above is not None else None,
                below=float(below) if below is not None else None,
                window=_duration(raw.get("window", "1h"), f"rule {name!r} window"),
                cooldown=_duration(raw.get("cooldown", "1h"), f"rule {name!r} cooldown", zero=True),
                actions=tuple(_action(a, name) for a in actions),
            )
        )
    return rules


def load_rules(path: str | Path) -> list[Rule]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read alert rules {path}: {exc}") from exc
    try:
        return parse_rules(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path} is not valid YAML: {exc}") from exc


def observations(
    drift: dict[str, Any] | None,
    performance: dict[str, Any] | None = None,
    count: int | None = None,
) -> dict[str, float]:
    """Flatten a drift report and performance metrics into ``{metric name: number}``."""
    out: dict[str, float] = {}
    if drift is not None:
        out["drift.detected"] = float(bool(drift.get("drift")))
        features = drift.get("features") or {}
        drifted = sum(1 for f in features.values() if f.get("drift"))
        out["drift.share"] = drifted / len(features) if features else 0.0
        entries = dict(features)
        if drift.get("predictions"):
            entries["predictions"] = drift["predictions"]
        for name, entry in entries.items():
            for key, value in entry.items():
                if isinstance(value, bool) or (
                    isinstance(value, (int, float)) and math.isfinite(value)
                ):
                    out[f"drift.{name}.{key}"] = float(value)
    for key, value in (performance or {}).items():
        if isinstance(value, (int, float)) and value is not None and math.isfinite(value):
            out[f"performance.{key}"] = float(value)
    if count is not None:
        out["traffic.count"] = float(count)
    return out


#: the numeric fields of a feedback check that rules can watch
FEEDBACK_FIELDS = (
    "label_psi",
    "prediction_psi",
    "excess_psi",
    "shift_p_value",
    "disagreement",
    "expected_disagreement",
    "disagreement_p_value",
)


def feedback_observations(check: dict[str, Any] | None) -> dict[str, float]:
    """``feedback.*`` from a feedback check's JSON; nothing when it had too few labels."""
    if check is None or check.get("status") not in ("ok", "suspicious"):
        return {}
    out = {
        "feedback.suspicious": float(check["status"] == "suspicious"),
        "feedback.suspicious_sources": float(len(check.get("suspicious_sources") or [])),
    }
    for key in FEEDBACK_FIELDS:
        value = check.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[f"feedback.{key}"] = float(value)
    return out


def evaluate(
    rules: list[Rule],
    model: str,
    values: dict[str, float],
    now: datetime,
    last_fired: dict[tuple[str, str], datetime],
) -> list[Firing]:
    """Rules of ``model`` that fire now and are not within their cooldown (dedup)."""
    firings = []
    for rule in rules:
        if rule.model != model:
            continue
        matched = {k: v for k, v in values.items() if fnmatch.fnmatchcase(k, rule.metric)}
        crossing = {
            k: v
            for k, v in matched.items()
            if (rule.above is not None and v > rule.above)
            or (rule.below is not None and v < rule.below)
        }
        if not crossing:
            continue
        previous = last_fired.get((rule.name, model))
        if previous is not None and now - previous < rule.cooldown:
            continue
        firings.append(Firing(rule, crossing, now))
    return firings


@dataclass
class AlertState:
    """When each (rule, model) last fired: the dedup memory, rebuilt from the alert journal."""

    last_fired: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def record(self, firing: Firing) -> None:
        self.last_fired[(firing.rule.name, firing.rule.model)] = firing.at
