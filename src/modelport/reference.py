"""Model references: how every command, API call and config names a version.

    name          the latest version of the model
    name:3        version 3
    name@alias    the version an alias points to (``production``, ``staging``...)

This is the only parser of references; everything else calls :func:`parse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelport.errors import InvalidReference

# Names travel in URLs (/v2/models/{name}) and become directories of the artifact store, so
# they are plain ASCII: no separators, no '..', nothing a terminal or a log would render
# as something else (control characters, full-width look-alikes).
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"
NAME_MAX = 128
_NAME = re.compile(NAME_PATTERN)
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")
_NAME_HINT = (
    "use 1-128 letters, digits, '.', '_' or '-' (ASCII), starting with a letter or digit, "
    "without '..'"
)


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed reference. Exactly one of ``version`` and ``alias`` may be set."""

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def is_latest(self) -> bool:
        return self.version is None and self.alias is None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def validate_name(name: str, *, kind: str = "model name") -> str:
    """``name`` if it is a valid model or deployment name, else InvalidReference saying why.

    The one check of names: models, deployments (which clients address like models) and
    everything that stores or looks one up call it. ``kind`` names it in the message.
    """
    if isinstance(name, str) and _NAME.fullmatch(name) and ".." not in name:
        return name
    shown = f"{name[:40]!r}..." if isinstance(name, str) and len(name) > 40 else repr(name)
    raise InvalidReference(f"invalid {kind} {shown}: {_name_problem(name)}", hint=_NAME_HINT)


def _name_problem(name: object) -> str:
    if not isinstance(name, str):
        return f"it is not text but {type(name).__name__}"
    if not name:
        return "it is empty"
    if len(name) > NAME_MAX:
        return f"it is {len(name)} characters long, more than {NAME_MAX}"
    for char in name:
        if not char.isascii():
            return f"{char!r} (U+{ord(char):04X}) is not an ASCII letter, digit, '.', '_' or '-'"
        if not char.isprintable():
            return f"it contains the control character U+{ord(char):04X}"
    if ".." in name:
        return "it contains '..'"
    if name[0] in ".-_":
        return f"it starts with {name[0]!r}"
    bad = next(c for c in name if not (c.isalnum() or c in "._-"))
    return f"{bad!r} is not allowed in names"


def validate_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or alias == "latest":
        raise InvalidReference(
            f"invalid alias {alias!r}",
            hint="use 1-64 letters, digits, '_' or '-', starting with a letter; "
            "'latest' is reserved",
        )
    return alias


def parse(ref: str | Reference) -> Reference:
    """Parse ``name``, ``name:3`` or ``name@alias``.

    >>> parse("credit-risk@production")
    Reference(name='credit-risk', version=None, alias='production')
    """
    if isinstance(ref, Reference):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidReference(
            f"invalid model reference {ref!r}",
            hint="write 'name', 'name:3' or 'name@alias'",
        )
    text = ref.strip()
    if "@" in text and ":" in text:
        raise InvalidReference(
            f"invalid model reference {ref!r}: give a version or an alias, not both",
            hint="write 'name:3' or 'name@production'",
        )
    if "@" in text:
        name, _, alias = text.partition("@")
        if alias == "latest":
            return Reference(validate_name(name))
        return Reference(validate_name(name), alias=validate_alias(alias))
    if ":" in text:
        name, _, version = text.partition(":")
        if not (version.isascii() and version.isdigit()) or int(version) < 1:
            raise InvalidReference(
                f"invalid version {version!r} in reference {ref!r}",
                hint="versions are whole numbers from 1, as in 'name:3'",
            )
        return Reference(validate_name(name), version=int(version))
    return Reference(validate_name(text))
