from __future__ import annotations

import pytest

from modelport.errors import InvalidReference
from modelport.reference import parse, validate_alias, validate_name


@pytest.mark.parametrize("check", [validate_name, validate_alias])
def test_a_trailing_newline_is_not_part_of_a_valid_name(check: object) -> None:
    with pytest.raises(InvalidReference):
        check("prod\n")  # type: ignore[operator]


@pytest.mark.parametrize("text", ["bc:٢", "bc:³", "bc:²"])
def test_versions_take_only_ascii_digits(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse(text)
