"""The security posture of a configuration: what ``modelport doctor`` judges, as plain data.

Each finding is ``ok``, ``warn`` (worth a look, sometimes deliberate: TLS ended at an
ingress, pickles of your own) or ``danger`` (``doctor`` exits non-zero): a setting that
exposes models or credentials to whoever can reach the machine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Level = Literal["ok", "warn", "danger"]


@dataclass(frozen=True, slots=True)
class Posture:
    """The settings and facts the findings are made from."""

    host: str
    auth: bool
    tls: bool
    jwks: bool
    public_metrics: bool
    rate_limit: str | None
    max_concurrency: int
    request_timeout: float
    max_rows: int
    max_body_bytes: int
    trust_pickles: bool
    artifact_encryption: bool
    registry_password_in_uri: bool
    active_keys: int
    admin_keys_without_expiry: int


@dataclass(frozen=True, slots=True)
class Finding:
    topic: str
    level: Level
    message: str
    hint: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "topic": self.topic,
            "level": self.level,
            "message": self.message,
            "hint": self.hint,
        }


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that could resolve to anything: not trusted as loopback


def assess(p: Posture) -> list[Finding]:
    """Every finding about ``p``, most serious topics first."""
    public = not is_loopback(p.host)
    where = f"{p.host} ({'reachable from the network' if public else 'this machine only'})"
    out: list[Finding] = []
    if not p.auth:
        out.append(
            Finding(
                "auth",
                "danger" if public else "warn",
                f"authentication is off, bound to {where}",
                "drop --no-auth / MODELPORT_SERVING__AUTH=false and create keys with "
                "`modelport keys create`",
            )
        )
    elif p.active_keys == 0 and not p.jwks:
        out.append(
            Finding(
                "auth",
                "warn",
                "authentication is on but no API key exists and no JWKS is set: every "
                "client will be refused",
                "modelport keys create --role predict",
            )
        )
    else:
        source = "API keys" + (" and bearer JWTs" if p.jwks else "")
        out.append(Finding("auth", "ok", f"authentication on ({source}), bound to {where}"))
    if p.admin_keys_without_expiry:
        out.append(
            Finding(
                "keys",
                "warn",
                f"{p.admin_keys_without_expiry} admin key(s) never expire",
                "create admin keys with --expires (e.g. 30d) and revoke the old ones",
            )
        )
    if p.tls:
        out.append(Finding("tls", "ok", "HTTPS (--tls-cert/--tls-key)"))
    else:
        out.append(
            Finding(
                "tls",
                "warn" if public else "ok",
                "plain HTTP: keys and data cross the network in clear text"
                if public
                else "plain HTTP on loopback",
                "serve with --tls-cert/--tls-key, unless a proxy or ingress ends TLS"
                if public
                else None,
            )
        )
    if p.trust_pickles:
        out.append(
            Finding(
                "pickles",
                "danger",
                "pickle/joblib artifacts are trusted: loading one runs whatever code it holds",
                "register skops or ONNX models and unset MODELPORT_TRUST_PICKLES",
            )
        )
    else:
        out.append(Finding("pickles", "ok", "pickle artifacts are refused (skops, ONNX, ...)"))
    out.append(
        Finding("encryption", "ok", "artifacts encrypted at rest (AES-256-GCM)")
        if p.artifact_encryption
        else Finding(
            "encryption",
            "warn",
            "artifacts are stored unencrypted (their sha256 is still checked on load)",
            "set MODELPORT_ARTIFACT_KEY to a base64 32-byte key to encrypt them",
        )
    )
    if p.registry_password_in_uri:
        out.append(
            Finding(
                "registry",
                "warn",
                "the registry URI carries a password",
                "use a .pgpass file or the PGPASSWORD of the service, not the URI",
            )
        )
    limits = []
    if p.rate_limit is None:
        limits.append("no rate limit")
    if p.max_concurrency == 0:
        limits.append("no concurrency cap")
    if p.request_timeout == 0:
        limits.append("no request timeout")
    out.append(
        Finding(
            "limits",
            "warn" if limits and public else "ok",
            ", ".join(limits) + f"; body at most {p.max_body_bytes:,} bytes, "
            f"{p.max_rows:,} rows per request"
            if limits
            else f"rate {p.rate_limit}, {p.max_concurrency} in flight per credential, "
            f"timeout {p.request_timeout:g} s, {p.max_rows:,} rows per request",
            "e.g. --rate-limit 100/s --max-concurrency 16" if limits and public else None,
        )
    )
    if p.public_metrics:
        out.append(
            Finding(
                "metrics",
                "warn" if public else "ok",
                "/metrics is public: model names and traffic volumes are readable",
                "scrape with a read key instead of --public-metrics" if public else None,
            )
        )
    return out


def worst(findings: Sequence[Finding]) -> Level:
    levels: list[Level] = ["ok", "warn", "danger"]
    return max((f.level for f in findings), key=levels.index, default="ok")


__all__ = ["Finding", "Posture", "assess", "is_loopback", "worst"]
