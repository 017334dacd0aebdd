"""Bare names and releases in the routing table: what ``name`` reaches, what unload stops."""

from __future__ import annotations

import pytest

from modelport.errors import AliasNotFound, ModelNotFound, NotFoundError, VersionNotFound
from modelport.reference import Reference, parse
from modelport.runtime.routing import Router, pointer


def _table(*served: str) -> Router[str]:
    """``name:3`` pins version 3; ``name@alias=3`` and ``name=3`` aim a pointer at it."""
    router: Router[str] = Router()
    for item in served:
        ref_text, _, target = item.partition("=")
        ref = parse(ref_text)
        version = ref.version if ref.version is not None else int(target)
        router.add(ref.name, version, f"{ref.name}:{version}", pinned=ref.version is not None)
        if ref.version is None:
            router.point(pointer(ref.name, ref.alias), version)
    return router


BARE_NAMES: list[tuple[tuple[str, ...], str, str]] = [
    # the latest pointer wins whenever it is served
    (("bc=2",), "bc", "bc:2"),
    (("bc=2", "bc@production=1"), "bc", "bc:2"),
    (("bc=2", "bc:1"), "bc", "bc:2"),
    # one pointer or one version served: the bare name reaches it
    (("bc@production=1",), "bc", "bc:1"),
    (("bc:3",), "bc", "bc:3"),
    (("bc@production=1", "bc@staging=1"), "bc", "bc:1"),  # two pointers, one version
    (("bc@production=1", "bc:1"), "bc", "bc:1"),
    (("bc@production=1", "other=4"), "bc", "bc:1"),  # other models do not count
    # references that name more are routed as before
    (("bc@production=1", "bc:3"), "bc@production", "bc:1"),
    (("bc@production=1", "bc:3"), "bc:3", "bc:3"),
]


@pytest.mark.parametrize(("served", "asked", "answer"), BARE_NAMES)
def test_a_bare_name_reaches_the_latest_or_the_one_version_served(
    served: tuple[str, ...], asked: str, answer: str
) -> None:
    assert _table(*served).route(parse(asked)) == answer


AMBIGUOUS: list[tuple[tuple[str, ...], str, type[NotFoundError], tuple[str, ...]]] = [
    (("bc@production=1", "bc@staging=2"), "bc", VersionNotFound, ("bc@production", "bc@staging")),
    (("bc@production=1", "bc:3"), "bc", VersionNotFound, ("bc:1", "bc:3", "bc@production")),
    (("bc:1", "bc:2"), "bc", VersionNotFound, ("bc:1", "bc:2")),
    (("bc@production=1",), "churn", ModelNotFound, ("bc",)),
    (("bc@production=1",), "bc@staging", AliasNotFound, ("bc@production",)),
    (("bc@production=1",), "bc:2", VersionNotFound, ("bc:1",)),
]


@pytest.mark.parametrize(("served", "asked", "error", "listed"), AMBIGUOUS)
def test_otherwise_a_404_lists_what_is_served(
    served: tuple[str, ...], asked: str, error: type[NotFoundError], listed: tuple[str, ...]
) -> None:
    with pytest.raises(error) as caught:
        _table(*served).route(parse(asked))
    for ref in listed:
        assert ref in str(caught.value)


RELEASES: list[tuple[tuple[str, ...], str, list[str] | None, set[Reference], list[str]]] = [
    # (served, released, pointers released, pointers left, versions retired)
    (("bc=2", "bc@production=1"), "bc", ["bc", "bc@production"], set(), ["bc:1", "bc:2"]),
    (("bc=2", "bc@production=1"), "bc@production", ["bc@production"], {pointer("bc")}, ["bc:1"]),
    (("bc=1", "bc@production=1"), "bc@production", ["bc@production"], {pointer("bc")}, []),
    (("bc=2", "bc@production=1"), "bc:1", ["bc@production"], {pointer("bc")}, ["bc:1"]),
    (("bc:3", "bc=2"), "bc:3", [], {pointer("bc")}, ["bc:3"]),
    (("bc:3", "other=1"), "bc", [], {pointer("other")}, ["bc:3"]),
    (("bc=2",), "bc@staging", None, {pointer("bc")}, []),
    (("bc=2",), "bc:7", None, {pointer("bc")}, []),
    (("bc=2",), "churn", None, {pointer("bc")}, []),
]


@pytest.mark.parametrize(("served", "released", "pointers", "left", "retired"), RELEASES)
def test_release_stops_what_the_reference_names_and_sweep_retires_the_rest(
    served: tuple[str, ...],
    released: str,
    pointers: list[str] | None,
    left: set[Reference],
    retired: list[str],
) -> None:
    router = _table(*served)
    result = router.release(parse(released))
    assert (None if result is None else sorted(map(str, result))) == pointers
    assert sorted(router.sweep()) == retired
    assert set(router.pointers) == left
