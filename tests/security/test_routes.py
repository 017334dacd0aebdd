"""The route table: each route's role, deny by default, and hostile paths that buy nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelport.security.keys import ROLES, Role
from modelport.security.routes import MAX_PATH_CHARS, model_of, required_role

TABLE: list[tuple[str, str, Role | None]] = [
    ("GET", "/v2/health/live", None),
    ("GET", "/v2/health/ready", None),
    ("HEAD", "/v2/health/live", None),
    ("GET", "/v2/health/startup", None),
    ("POST", "/v1/models/credit-risk:predict", "predict"),
    ("POST", "/v1/models/credit-risk@production:predict", "predict"),
    ("POST", "/v2/models/credit-risk/infer", "predict"),
    ("POST", "/v2/models/credit-risk/versions/3/infer", "predict"),
    ("POST", "/api/feedback", "feedback"),
    ("GET", "/v2", "read"),
    ("GET", "/v2/models/credit-risk", "read"),
    ("GET", "/v2/models/credit-risk/ready", "read"),
    ("GET", "/v2/models/credit-risk/versions/3", "read"),
    ("HEAD", "/v1/models/credit-risk", "read"),
    ("GET", "/v1/models/credit-risk:predict", "read"),  # answered 405 by the hot router
    ("GET", "/api/deployments", "read"),
    ("GET", "/api/deployments/checkout/history", "read"),
    ("GET", "/metrics", "read"),
    ("GET", "/docs", "read"),
    ("GET", "/openapi.json", "read"),
    ("GET", "/redoc", "read"),
    ("GET", "/", None),  # KServe V1 liveness
    ("HEAD", "/", None),
    ("POST", "/", "admin"),
    ("GET", "/v2/models/credit-risk/config", "read"),
    ("GET", "/v2/models/credit-risk/versions/3/config", "read"),
    ("GET", "/v2/models/stats", "read"),
    ("GET", "/v2/models/credit-risk/stats", "read"),
    ("GET", "/v2/models/credit-risk/versions/3/stats", "read"),
    ("POST", "/v2/repository/index", "read"),  # Triton's index is a POST that only reads
    ("GET", "/v2/repository/index", "read"),
    ("POST", "/v2/repository/models/credit-risk/load", "admin"),
    ("POST", "/v2/repository/models/credit-risk/unload", "admin"),
    ("POST", "/v2/repository/models/credit-risk@production/load", "admin"),
    ("POST", "/v2/repository/index/../models/x/load", "admin"),
    ("GET", "/api/keys", "admin"),
    ("GET", "/api/keys/k-123", "admin"),
    ("POST", "/api/keys", "admin"),
    ("DELETE", "/api/keys/k-123", "admin"),
    ("PUT", "/api/aliases/credit-risk/production", "admin"),
    ("POST", "/api/deployments/checkout", "admin"),
    ("PATCH", "/api/deployments/checkout", "admin"),
    ("DELETE", "/v2/models/credit-risk", "admin"),
    ("PUT", "/v2/models/credit-risk/infer", "admin"),
    ("POST", "/v2/health/live", "admin"),
    ("POST", "/api/feedback/bulk", "admin"),
    ("POST", "/a/route/added/later", "admin"),
    ("GET", "/a/route/added/later", "read"),
    ("OPTIONS", "/v2/models/credit-risk/infer", "admin"),
    ("get", "/v2/health/live", "admin"),  # methods are upper-case; anything else is unknown
]


@pytest.mark.parametrize(("method", "path", "role"), TABLE)
def test_each_route_needs_its_role(method: str, path: str, role: Role | None) -> None:
    assert required_role(method, path) == role


def test_metrics_are_public_only_when_asked() -> None:
    assert required_role("GET", "/metrics", public_metrics=True) is None
    assert required_role("GET", "/metrics/", public_metrics=True) == "read"
    assert required_role("POST", "/metrics", public_metrics=True) == "admin"


HOSTILE: list[tuple[str, str, Role]] = [
    ("GET", "/v2/health/../models/x", "read"),
    ("GET", "/v2/health/..", "read"),
    ("GET", "/v2/health/.", "read"),
    ("GET", "/v2/health/live/", "read"),
    ("GET", "/v2/health/live/..", "read"),
    ("GET", "//v2/health/live", "read"),
    ("GET", "/v2//health/live", "read"),
    ("GET", "/v2/health/live/extra", "read"),
    ("GET", "/V2/HEALTH/LIVE", "read"),
    ("GET", "/v2/health/live\x00", "admin"),
    ("GET", "/v2/health/live\n", "read"),
    ("GET", "v2/health/live", "admin"),
    ("GET", "", "admin"),
    ("POST", "/v2/health/../models/x/infer", "admin"),
    ("POST", "/v2/models/x/infer/", "admin"),
    ("POST", "/v2/models/x//infer", "admin"),
    ("POST", "/v2/models/../infer", "admin"),
    ("POST", "/v2/models/x/../y/infer", "admin"),
    ("POST", "/v1/models/../../api/keys:predict", "admin"),
    ("POST", "/api/keys/../feedback", "admin"),
    ("POST", "/api/feedback/", "admin"),
    ("POST", "/api//feedback", "admin"),
    ("POST", "/API/FEEDBACK", "admin"),
    ("POST", "/V1/MODELS/x:PREDICT", "admin"),
    ("GET", "/api/keys/", "admin"),
    ("GET", "/api//keys", "admin"),
    ("GET", "/api/./keys", "admin"),
    ("GET", "/api/deployments/../keys", "admin"),
    ("GET", "/api\\keys", "admin"),
    ("GET", "/API/Keys", "admin"),
    ("GET", "/docs/../api/keys/k-1", "admin"),
    ("GET", "/api/keys;jsessionid=1", "admin"),  # a Tomcat-style proxy drops ;params
    ("GET", "/api/deployments/..;/keys", "admin"),
    ("GET", "/v2/health/live;x", "read"),
    ("GET", "/.", "read"),  # not the exact public path
    ("GET", "//", "read"),
    ("GET", "/v2/..", "read"),
    ("POST", "/v2/repository/index/", "admin"),
    ("POST", "/v2//repository/index", "admin"),
    ("POST", "/V2/REPOSITORY/INDEX", "admin"),
    ("POST", "/api/feedback;x", "admin"),
    ("POST", "/v2/health/..;/models/x/infer", "admin"),
    ("GET", "/api/%6beys", "admin"),  # a proxy that decodes a second time
    ("GET", "/v2/health/live%2F..%2F..%2F..%2Fapi%2Fkeys", "admin"),
    ("GET", "/v2/health/%6cive", "read"),
    ("GET", "/v2/health/" + "a" * MAX_PATH_CHARS, "admin"),
    ("POST", "/v2/models/" + "x" * MAX_PATH_CHARS + "/infer", "admin"),
]


@pytest.mark.parametrize(("method", "path", "role"), HOSTILE)
def test_hostile_paths_buy_no_weaker_role(method: str, path: str, role: Role) -> None:
    assert required_role(method, path) == role


def test_a_trailing_slash_on_a_read_route_still_reads() -> None:
    # Starlette redirects /docs/ to /docs; a read key must not be refused the redirect.
    assert required_role("GET", "/docs/") == "read"
    assert required_role("GET", "/v2/models/x/") == "read"


_SEGMENTS = st.sampled_from(
    ["", ".", "..", "v2", "health", "live", "ready", "api", "keys", "feedback", "models", "x"]
)
_PATHS = st.lists(_SEGMENTS, max_size=8).map(lambda s: "/" + "/".join(s))
_PUBLIC_PATHS = {"/", "/v2/health/live", "/v2/health/ready"}


@given(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE"]), _PATHS)
def test_only_exact_public_paths_are_public(method: str, path: str) -> None:
    role = required_role(method, path)
    assert role in (*ROLES, None)
    if role is None:
        assert method in ("GET", "HEAD") and path in _PUBLIC_PATHS


@given(st.sampled_from(["GET", "HEAD", "POST", "DELETE"]), _PATHS)
def test_anything_that_reaches_the_keys_needs_admin(method: str, path: str) -> None:
    resolved: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            resolved = resolved[:-1]
        elif segment not in ("", "."):
            resolved.append(segment)
    if resolved[:2] == ["api", "keys"]:
        assert required_role(method, path) == "admin"


MODELS: list[tuple[str, str | None]] = [
    ("/v1/models/credit-risk:predict", "credit-risk"),
    ("/v1/models/credit-risk@production:predict", "credit-risk"),
    ("/v1/models/credit-risk:3:predict", "credit-risk"),
    ("/v1/models/credit-risk", "credit-risk"),
    ("/v2/models/credit-risk/infer", "credit-risk"),
    ("/v2/models/credit-risk/versions/3/infer", "credit-risk"),
    ("/v2/models/credit-risk", "credit-risk"),
    ("/v2/models/credit-risk/ready", "credit-risk"),
    ("/v2/models/credit-risk/versions/3/ready", "credit-risk"),
    ("/v2/models/checkout.v2/infer", "checkout.v2"),
    ("/v2/models/@prod/infer", ""),  # a name no scope holds: refused, not unscoped
    ("/v2/models/a/../b/infer", "b"),  # as a normalizing proxy would route it
    ("/v2/models", None),
    ("/v2", None),
    ("/v2/health/live", None),
    ("/api/feedback", None),
    ("/api/deployments/checkout", None),
    ("/v2/models/x/unknown", None),
    ("/v2/models/credit-risk/config", "credit-risk"),
    ("/v2/models/credit-risk/versions/3/config", "credit-risk"),
    ("/v2/models/credit-risk@production/stats", "credit-risk"),
    ("/v2/models/credit-risk/versions/3/stats", "credit-risk"),
    ("/v2/models/stats", "stats"),  # every model's: a scoped key is refused, as for "stats"
    ("/v2/repository/models/credit-risk/load", "credit-risk"),
    ("/v2/repository/models/credit-risk:3/unload", "credit-risk"),
    ("/v2/repository/index", None),
    ("/v2/models/" + "x" * MAX_PATH_CHARS, None),
]


@pytest.mark.parametrize(("path", "model"), MODELS)
def test_model_of_names_the_model_a_path_addresses(path: str, model: str | None) -> None:
    assert model_of(path) == model
