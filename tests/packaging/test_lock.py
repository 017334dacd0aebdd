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
    assert extras_for(["sklearn"], postgres=False) == []
    assert extras_for(["xgboost", "onnx", "sklearn"], postgres=True) == [
        "onnx", "postgres", "xgboost",
    ]
