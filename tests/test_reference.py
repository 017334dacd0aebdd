from __future__ import annotations

import pytest

from modelport.errors import InvalidReference
from modelport.reference import Reference, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("credit-risk", Reference("credit-risk")),
        ("credit-risk:3", Reference("credit-risk", version=3)),
        ("credit-risk@production", Reference("credit-risk", alias="production")),
        ("credit-risk@latest", Reference("credit-risk")),
        (" m.v2_x ", Reference("m.v2_x")),
    ],
)
def test_parse(text: str, expected: Reference) -> None:
    assert parse(text) == expected
    assert parse(str(expected)) == expected


@pytest.mark.parametrize(
    "text",
    ["", "  ", "a:0", "a:-1", "a:1.5", "a:", "a@", "@prod", "a@1x", "a@p:1", "a b", "../x", 7],
)
def test_invalid_references_say_how_to_write_one(text: object) -> None:
    with pytest.raises(InvalidReference) as info:
        parse(text)  # type: ignore[arg-type]
    assert "name" in str(info.value) or "version" in str(info.value) or "alias" in str(info.value)
