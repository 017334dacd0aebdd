"""Which role each route needs: the one table the server's guard reads.

Deny by default. Only a handful of exact paths are public, prediction and feedback need
their exact routes (Triton's repository index, a POST, only reads), and everything else is
``read`` for GET/HEAD and ``admin`` for any other method, so a route added later is guarded
before anyone thinks about it.

Hostile paths must never buy a weaker role. The ASGI server has already percent-decoded
the path once; Starlette matches it as is, but a proxy in front, or a future router, may
collapse ``//``, resolve ``..``, turn ``\\`` into ``/``, drop a trailing slash or a
``;param``, decode ``%`` a second time, or ignore case. So a path is judged as written *and*
as such a normalizer would read it, and the stricter answer wins: ``/v2/health/../models/x``
is not public, and ``POST /api/keys/../feedback`` is admin, not feedback.

:func:`model_of` names the model a path addresses, for keys scoped to some models. It
matches the way Starlette does (``{name}`` is one segment, ``[^/]+``) so that whatever the
router hands to a handler is the name checked against the scope.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from modelport.security.keys import Role

#: a path longer than this is no route of ours; it needs admin (bounded work per request)
MAX_PATH_CHARS = 4096

_READ_METHODS = frozenset({"GET", "HEAD"})
# KServe V1's liveness probe is GET / (the kserve SDK's is_server_live)
_PUBLIC = frozenset({"/", "/v2/health/live", "/v2/health/ready"})
# Triton's repository index is a POST that only reads: what a read key may know anyway
_READ_POSTS = frozenset({"/v2/repository/index"})
_DOCS = frozenset({"/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"})
_DOCS_STATIC = re.compile(r"/docs/static/[A-Za-z0-9_.-]{1,128}")
# One plain segment under /v2/health (a startup probe later), never a deeper or dotted path.
_HEALTH = re.compile(r"/v2/health/[A-Za-z0-9_-]{1,64}")
# The hot routes, spelled as Starlette compiles them ({name} is [^/]+).
_PREDICT = (
    re.compile(r"/v1/models/(?P<name>[^/]+):predict"),
    re.compile(r"/v2/models/(?P<name>[^/]+)/infer"),
    re.compile(r"/v2/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/infer"),
)
# Metadata, readiness, configuration and statistics of one model or version.
_MODEL_METADATA = (
    re.compile(r"/v1/models/(?P<name>[^/]+)"),
    re.compile(r"/v2/models/(?P<name>[^/]+)(/ready|/config|/stats)?"),
    re.compile(r"/v2/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)(/ready|/config|/stats)?"),
)
# Loading and unloading (admin): a key scoped to some models reaches only those.
_REPOSITORY = (re.compile(r"/v2/repository/models/(?P<name>[^/]+)/(load|unload)"),)
_MODEL_PATHS = _PREDICT + _MODEL_METADATA + _REPOSITORY
# A reference's name ends where its version (``:3``) or alias (``@production``) begins.
_REFERENCE_TAIL = re.compile(r"[:@]")


def required_role(
    method: str, path: str, *, public_metrics: bool = False, public_docs: bool = False
) -> Role | None:
    """The role a request needs, or None when anyone may ask (health probes).

    ``public_metrics`` opens ``GET /metrics`` to scrapers that carry no key; ``public_docs``
    opens the API documentation (``/docs``, ``/redoc``, their static files and
    ``/openapi.json``, which names the served models) to browsers, which send no key.

    >>> required_role("POST", "/v2/models/credit-risk/infer")
    'predict'
    >>> required_role("GET", "/v2/health/../models/x") is None
    False
    """
    if len(path) > MAX_PATH_CHARS or not path.startswith("/") or "\x00" in path:
        return "admin"
    roles = {_role_of(method, variant, public_metrics, public_docs) for variant in _readings(path)}
    if len(roles) == 1:
        return roles.pop()
    roles.discard(None)
    # Two different non-public roles cannot be ordered (predict vs read): take the top one.
    return roles.pop() if len(roles) == 1 else "admin"


def model_of(path: str) -> str | None:
    """The model (or deployment) a prediction or model-metadata path addresses, else None.

    The name part of the reference: ``/v1/models/credit-risk@production:predict`` and
    ``/v2/models/credit-risk/versions/3/infer`` both address ``credit-risk``. The path as
    routed comes first; a normalizer's reading of it is the fallback, so a scoped key is
    checked against a model whenever any reading of the path reaches one. A reference with
    no name (``/v2/models/@prod/infer``) addresses ``""``, which no scope holds: None is only
    ever the answer for paths outside the model routes.

    >>> model_of("/v1/models/credit-risk:predict")
    'credit-risk'
    """
    if len(path) > MAX_PATH_CHARS:
        return None
    for variant in dict.fromkeys((path, _normalized(path))):
        for pattern in _MODEL_PATHS:
            match = pattern.fullmatch(variant)
            if match is not None:
                return _REFERENCE_TAIL.split(match["name"], maxsplit=1)[0]
    return None


def _role_of(method: str, path: str, public_metrics: bool, public_docs: bool) -> Role | None:
    if method in _READ_METHODS:
        if path in _PUBLIC or _HEALTH.fullmatch(path):
            return None
        if public_metrics and path == "/metrics":
            return None
        if public_docs and (path in _DOCS or _DOCS_STATIC.fullmatch(path)):
            return None
        return "admin" if _under(path, "/api/keys") else "read"
    if method == "POST":
        if any(pattern.fullmatch(path) for pattern in _PREDICT):
            return "predict"
        if path == "/api/feedback":
            return "feedback"
        if path in _READ_POSTS:
            return "read"
    return "admin"


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _readings(path: str) -> tuple[str, ...]:
    """The path as written, as a normalizing proxy would pass it on, and case-folded."""
    # The common case, a path with nothing a normalizer would change, skips the work.
    if not (
        "//" in path
        or "/." in path
        or "\\" in path
        or ";" in path
        or "%" in path
        or path.endswith("/")
    ):
        lowered = path.lower()
        return (path,) if lowered == path else (path, lowered)
    normalized = _normalized(path)
    return tuple(dict.fromkeys((path, normalized, normalized.lower())))


def _normalized(path: str) -> str:
    """Decoded again, ``\\`` as ``/``, no ``;params``, no empty or ``.`` segments, and ``..``
    resolved (never above the root)."""
    segments: list[str] = []
    for segment in unquote(path).replace("\\", "/").split("/"):
        segment = segment.partition(";")[0]
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)
