"""Carrying out alerts: log, webhook (POST JSON), rollback (move an alias back), and the
alert journal that records every firing and rebuilds the dedup state after a restart."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from modelport.errors import ConfigurationError, ModelportError
from modelport.monitoring.alerts import AlertState, Firing
from modelport.registry import Registry

log = logging.getLogger("modelport.alerts")


class AlertJournal:
    """``<home>/alerts.jsonl``: one line per firing with the outcome of each action."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def state(self) -> AlertState:
        state = AlertState()
        if not self.path.exists():
            return state
        for line in self.path.read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
                key = (entry["rule"], entry["model"])
                at = datetime.fromisoformat(entry["at"])
            except (orjson.JSONDecodeError, KeyError, ValueError):
                continue  # a torn last line after a crash is not an alert
            if key not in state.last_fired or at > state.last_fired[key]:
                state.last_fired[key] = at
        return state

    def append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            fh.write(orjson.dumps(entry) + b"\n")

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_bytes().splitlines():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        return out


def carry_out(
    firing: Firing,
    registry: Registry | None,
    *,
    client: httpx.Client | None = None,
    retries: int = 2,
) -> list[dict[str, Any]]:
    """Run every action of the firing; one outcome per action (never raises)."""
    outcomes = []
    for action in firing.rule.actions:
        outcome: dict[str, Any] = {"action": action.kind, "target": action.target}
        try:
            if action.kind == "log":
                log.warning(
                    "alert %s on %s: %s", firing.rule.name, firing.rule.model, firing.values
                )
                outcome["ok"] = True
            elif action.kind == "webhook":
                outcome.update(_post(action.target or "", firing.to_dict(), client, retries))
            elif action.kind == "rollback":
                if registry is None:
                    raise ConfigurationError(
                        "no registry to roll back in",
                        hint="give the alerting service the registry the alias lives in",
                    )
                event = registry.rollback(
                    firing.rule.model,
                    action.target or "production",
                    reason=f"alert {firing.rule.name}: "
                    + ", ".join(f"{k}={v:.4g}" for k, v in firing.values.items()),
                )
                outcome.update(
                    ok=True, from_version=event.from_version, to_version=event.to_version
                )
        except ModelportError as exc:
            outcome.update(ok=False, error=exc.message)
        outcomes.append(outcome)
    return outcomes


def _post(
    url: str, payload: dict[str, Any], client: httpx.Client | None, retries: int
) -> dict[str, Any]:
    owned = client is None
    http = client or httpx.Client(timeout=5.0)
    try:
        error = ""
        for attempt in range(retries + 1):
            try:
                response = http.post(url, json=payload)
                if response.status_code < 400:
                    return {"ok": True, "status": response.status_code}
                error = f"HTTP {response.status_code}"
                if response.status_code < 500:
                    break  # the receiver refuses it; retrying will not help
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < retries:
                time.sleep(0.2 * (attempt + 1))
        return {"ok": False, "error": error}
    finally:
        if owned:
            http.close()


def fire(
    firings: list[Firing],
    journal: AlertJournal,
    state: AlertState,
    registry: Registry | None,
    *,
    client: httpx.Client | None = None,
) -> list[dict[str, Any]]:
    """Carry out and record each firing; the state remembers it for dedup."""
    records = []
    for firing in firings:
        record = {**firing.to_dict(), "outcomes": carry_out(firing, registry, client=client)}
        journal.append(record)
        state.record(firing)
        records.append(record)
    return records
