"""The facts ``modelport doctor`` judges, gathered from the settings and the registry."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from modelport.registry import Registry
from modelport.security.posture import Finding, Posture, assess
from modelport.settings import Settings


def posture_of(settings: Settings, registry: Registry) -> Posture:
    serving = settings.serving
    now = datetime.now(UTC)
    keys = [k for k in registry.keys.list() if k.active(now)]
    uri = settings.resolved_registry_uri()
    return Posture(
        host=serving.host,
        auth=serving.auth,
        tls=serving.tls_cert is not None and serving.tls_key is not None,
        jwks=serving.jwks is not None,
        public_metrics=serving.public_metrics,
        rate_limit=serving.rate_limit,
        max_concurrency=serving.max_concurrency,
        request_timeout=serving.request_timeout,
        max_rows=serving.max_rows,
        max_body_bytes=serving.max_body_bytes,
        trust_pickles=settings.trust_pickles,
        artifact_encryption=settings.artifact_key is not None,
        registry_password_in_uri=bool(urlsplit(uri).password) if "://" in uri else False,
        active_keys=len(keys),
        admin_keys_without_expiry=sum(
            1 for k in keys if "admin" in k.roles and k.expires_at is None
        ),
    )


def doctor(settings: Settings, registry: Registry) -> list[Finding]:
    """Every finding about this configuration (see :func:`modelport.security.posture.assess`)."""
    return assess(posture_of(settings, registry))


__all__ = ["doctor", "posture_of"]
