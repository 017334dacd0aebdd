from __future__ import annotations

import pytest

from modelport.errors import InvalidReference
from modelport.reference import validate_alias, validate_name


@pytest.mark.parametrize("check", [validate_name, validate_alias])
def test_a_trailing_newline_is_not_part_of_a_valid_name(check: object) -> None:
    with pytest.raises(InvalidReference):
        check("prod\n")  # type: ignore[operator]
