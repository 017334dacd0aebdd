"""Alerting: judge rules on recent traffic, carry out and journal what fires.

The one implementation behind ``modelport monitor --rules``, the server's background monitor
and the demo. Each rule is judged on the traffic of its own ``window`` up to now (rules that
share a window share one monitor run); a caller that fixed the period itself (``monitor
--since``) passes its report, and then every rule is judged on that. No traffic in a rule's
window is an observation too (``traffic.count`` 0), so "traffic stopped" can alert.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from modelport.errors import DataError
from modelport.monitoring.actions import AlertJournal, fire
from modelport.monitoring.alerts import Rule, evaluate, load_rules
from modelport.monitoring.monitor import run_monitor
from modelport.monitoring.results import MonitorReport
from modelport.predictions.reader import PredictionLogReader
from modelport.registry import Registry
from modelport.settings import Settings


class AlertService:
    """Rules, the journal of what fired (the dedup memory across restarts), and the monitor."""

    def __init__(
        self,
        registry: Registry,
        reader: PredictionLogReader,
        rules: Sequence[Rule],
        journal: AlertJournal,
        *,
        client: httpx.Client | None = None,
    ) -> None:
        self.registry = registry
        self.reader = reader
        self.rules = list(rules)
        self.journal = journal
        self.state = journal.state()
        self.client = client
        # the background monitor and a caller on another thread must not fire the same rule twice
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        registry: Registry,
        settings: Settings,
        rules: Sequence[Rule] | str | Path,
        *,
        reader: PredictionLogReader | None = None,
    ) -> AlertService:
        """The service on the home's journal; ``rules`` may be a YAML file's path."""
        loaded = load_rules(rules) if isinstance(rules, str | Path) else rules
        return cls(
            registry,
            reader or PredictionLogReader(settings.resolved_log_uri()),
            loaded,
            AlertJournal(settings.alert_journal_path()),
        )

    def rules_of(self, model: str) -> list[Rule]:
        return [rule for rule in self.rules if rule.model == model]

    def check(
        self,
        model: str,
        *,
        target: str | None = None,
        now: datetime | None = None,
        report: MonitorReport | None = None,
        recent: Mapping[timedelta, MonitorReport] | None = None,
        window: str = "1h",
        until: datetime | str | None = None,
    ) -> list[dict[str, Any]]:
        """Fire the rules of ``model`` that cross their threshold now; the journal entries.

        ``target`` narrows the traffic to ``name:3`` or ``name@alias`` (default all versions).
        ``report``: judge every rule on it. ``recent``: reports the caller already has for
        the last ``span`` up to ``now``, reused for rules of that window. ``window`` is the
        series step of the monitor runs made here.
        """
        now = now or datetime.now(UTC)
        groups: dict[timedelta | None, list[Rule]] = {}
        for rule in self.rules_of(model):
            groups.setdefault(None if report is not None else rule.window, []).append(rule)
        records: list[dict[str, Any]] = []
        with self._lock:
            for span, group in groups.items():
                per_version = self._observations(
                    target or model, span, report, recent or {}, now, window, until
                )
                for version, values in sorted(per_version.items()):
                    firings = evaluate(group, model, values, now, self.state.last_fired)
                    fired = fire(
                        firings, self.journal, self.state, self.registry, client=self.client
                    )
                    records += [{**record, "version": version or None} for record in fired]
        return records

    def _observations(
        self,
        target: str,
        span: timedelta | None,
        report: MonitorReport | None,
        recent: Mapping[timedelta, MonitorReport],
        now: datetime,
        window: str,
        until: datetime | str | None,
    ) -> dict[int, dict[str, float]]:
        if span is None:
            assert report is not None
            return report.observations()
        if span in recent and until is None:
            return recent[span].observations()
        try:
            since = now - span
            found = run_monitor(
                self.registry, self.reader, target, window=window, since=since, until=until, now=now
            )
        except DataError:
            return {0: {"traffic.count": 0.0}}
        return found.observations()
