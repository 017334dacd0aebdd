"""The UBJSON walk that stands before XGBoost's parser: whole files pass, damaged ones are named."""

from __future__ import annotations

import numpy as np
import pytest

from modelport.flavors.ubjson import ubjson_problem


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    model = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(x, (x[:, 0] > 0).astype(int))
    return bytes(model.get_booster().save_raw("ubj"))


def test_a_whole_model_passes(model_bytes: bytes) -> None:
    assert ubjson_problem(model_bytes) is None


def test_every_truncation_is_named(model_bytes: bytes) -> None:
    # every cut point: the crash this guards against came from one unlucky cut
    for cut in range(len(model_bytes)):
        assert ubjson_problem(model_bytes[:cut]) is not None, cut


def test_trailing_bytes_are_named(model_bytes: bytes) -> None:
    assert "after the end" in str(ubjson_problem(model_bytes + b"Z"))


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"[" * 10_000, "nests deeper"),
        (b"Sl\xff\xff\xff\xffab", "negative"),
        (b"{Sixkey", "length"),  # a key whose length marker is not an integer
        (b"[$d]", "no count"),
        (b"?", "no UBJSON marker"),
        (b"[#U\x05ii", "truncated"),
    ],
)
def test_hostile_documents(data: bytes, says: str) -> None:
    assert says in str(ubjson_problem(data))


def test_plain_values_and_containers() -> None:
    assert ubjson_problem(b"{U\x01aSU\x02hi}") is None
    assert ubjson_problem(b"[$d#U\x02" + b"\x00" * 8) is None
    assert ubjson_problem(b"{$U#U\x02U\x01a\x07U\x01b\x08") is None
