"""Every regular expression in the source, checked for the two mistakes that let bad input in.

``$`` matches before a trailing newline (``"prod\\n"`` passed ``^...$`` with ``re.match``), and
``\\d``/``\\w`` match digits and letters of every script (``"bc:\\u0662"`` read as version 2).
Patterns are anchored by ``fullmatch`` and spell their classes in ASCII.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import modelport
from modelport.errors import InvalidArgument
from modelport.monitoring.durations import parse_duration, parse_time

SOURCE = Path(modelport.__file__).parent
_RE_FUNCTIONS = {"compile", "match", "fullmatch", "search", "findall", "finditer", "sub", "split"}


def _patterns() -> list[tuple[str, str]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "re"
                and node.func.attr in _RE_FUNCTIONS
                and node.args
            ):
                first = node.args[0]
                text = first.value if isinstance(first, ast.Constant) else None
                if isinstance(text, str):
                    found.append((f"{path.relative_to(SOURCE)}:{node.lineno}", text))
    return found


def test_the_source_has_patterns_to_check() -> None:
    assert len(_patterns()) >= 3  # the audit would pass vacuously if the walk found nothing


@pytest.mark.parametrize(("where", "pattern"), _patterns())
def test_patterns_are_not_anchored_with_dollar(where: str, pattern: str) -> None:
    assert not pattern.endswith("$"), f"{where}: anchor with fullmatch, not $ (newline slips past)"


@pytest.mark.parametrize(("where", "pattern"), _patterns())
def test_patterns_use_ascii_classes(where: str, pattern: str) -> None:
    for unicode_class in (r"\d", r"\w"):
        assert unicode_class not in pattern, f"{where}: {unicode_class} matches every script"


@pytest.mark.parametrize("text", ["\u0662h", "\u00b3d", "2\u0660min"])
def test_times_in_other_scripts_digits_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_time(text)


def test_a_relative_time_with_surrounding_whitespace_still_parses() -> None:
    assert parse_time(" 2h\n") is not None


@pytest.mark.parametrize("text", ["\u0665", "\u0665\u0660"])
def test_durations_in_other_scripts_digits_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
