from __future__ import annotations

import hashlib
import re

from modelport.packaging.lock import LOCK, WHEELS, extras_for, locked_wheels
from tests.packaging.conftest import Packaged


def test_every_wheel_is_locked_with_its_sha256(packaged: Packaged) -> None:
    out = packaged.out
    lines = [
        line for line in (out / LOCK).read_text().splitlines() if line and not line.startswith("#")
    ]
    wheels = sorted((out / WHEELS).glob("*.whl"))
    assert len(lines) == len(wheels) == packaged.report.result.wheels
    hashes = {hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels}
    for line in lines:
        match = re.fullmatch(r"([a-z0-9.-]+)==(\S+) --hash=sha256:([0-9a-f]{64})", line)
        assert match, line
        assert match.group(3) in hashes
    names = {line.split("==")[0] for line in lines}
    assert {"modelport", "scikit-learn", "skops", "uvicorn", "numpy"} <= names


def test_locked_names_are_normalised(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "Typing_Extensions-4.1.0-py3-none-any.whl").write_bytes(b"x")
    (wheel,) = locked_wheels(tmp_path)
    assert (wheel.name, wheel.version) == ("typing-extensions", "4.1.0")
    assert wheel.sha256 == hashlib.sha256(b"x").hexdigest()


def test_extras_follow_the_flavors() -> None:
    assert extras_for(["sklearn"]) == ["postgres"]
    assert extras_for(["xgboost", "onnx", "sklearn"]) == ["onnx", "postgres", "xgboost"]


def test_a_second_wheelhouse_of_the_same_requirements_comes_from_the_cache(
    packaged: Packaged, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from modelport.packaging.lock import build_wheelhouse, resolution_key

    wheel = next((packaged.out / WHEELS).glob("modelport-*.whl"))
    cache = tmp_path / "cache"
    build_wheelhouse(tmp_path / "first", ["postgres"], wheel, cache)
    (entry,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    marker = sorted(entry.glob("*.whl"))[0]
    marker.unlink()  # proves the second run links from the cache instead of resolving
    build_wheelhouse(tmp_path / "second", ["postgres"], wheel, cache)
    first = sorted(p.name for p in (tmp_path / "first").glob("*.whl"))
    second = sorted(p.name for p in (tmp_path / "second").glob("*.whl"))
    assert set(second) == set(first) - {marker.name}
    # other extras, another key (not resolved here: that is half a minute of pip)
    assert resolution_key(wheel, ["postgres"]) == entry.name
    assert resolution_key(wheel, ["onnx", "postgres"]) != entry.name
