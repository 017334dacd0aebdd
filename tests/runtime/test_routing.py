"""The routing table: references to served versions, swaps, retirement, 404s."""

from __future__ import annotations

import pytest

from modelport.errors import AliasNotFound, ModelNotFound, VersionNotFound
from modelport.reference import parse
from modelport.runtime.routing import Router, pointer
from modelport.serving.app import v2_reference


def _router() -> Router[str]:
    router: Router[str] = Router()
    router.add("m", 1, "m1")
    router.add("m", 2, "m2")
    router.add("m", 3, "m3", pinned=True)
    router.point(pointer("m"), 2)
    router.point(pointer("m", "production"), 1)
    return router


def test_every_reference_form_routes() -> None:
    router = _router()
    assert router.route(parse("m")) == "m2"
    assert router.route(parse("m@latest")) == "m2"
    assert router.route(parse("m@production")) == "m1"
    assert router.route(parse("m:1")) == "m1"
    assert router.route(parse("m:3")) == "m3"


def test_unknowns_are_404s_naming_what_is_served() -> None:
    router = _router()
    with pytest.raises(ModelNotFound, match="served models: m"):
        router.route(parse("other"))
    with pytest.raises(VersionNotFound, match="m:1, m:2, m:3, m@production, m"):
        router.route(parse("m:9"))
    with pytest.raises(AliasNotFound):
        router.route(parse("m@staging"))


def test_moving_a_pointer_retires_only_unreferenced_versions() -> None:
    router = _router()
    router.point(pointer("m", "production"), 2)
    assert router.sweep() == ["m1"]
    assert router.route(parse("m@production")) == "m2"
    with pytest.raises(VersionNotFound):
        router.route(parse("m:1"))
    router.point(pointer("m"), 3)
    assert router.sweep() == []  # m2 still behind production; m3 pinned
    router.drop(pointer("m", "production"))
    assert router.sweep() == ["m2"]
    with pytest.raises(AliasNotFound):
        router.route(parse("m@production"))


def test_pointing_at_an_unloaded_version_is_refused() -> None:
    with pytest.raises(KeyError):
        _router().point(pointer("m"), 7)


def test_v2_version_segment_is_a_number_or_an_alias() -> None:
    assert v2_reference("m") == parse("m")
    assert v2_reference("m", "3") == parse("m:3")
    assert v2_reference("m", "production") == parse("m@production")
    assert v2_reference("m@staging") == parse("m@staging")
