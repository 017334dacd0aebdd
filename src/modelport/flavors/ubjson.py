"""Whether bytes are one complete UBJSON document: checked before XGBoost parses them.

XGBoost's UBJSON reader trusts the lengths it reads: a truncated or damaged ``.ubj`` file
can make it read past the buffer and crash the whole process (seen once here as a
segfault in ``load_model``), where a clear error was owed. So a file from a user is walked
first, in Python, without building anything: every marker, length and container end must
be where the format says. Typed arrays (``[$d#L…``), which hold nearly all of a model's
bytes, are skipped by their length, so the walk costs little next to the load itself.
"""

from __future__ import annotations

import struct

#: fixed-size value markers and their sizes in bytes
_SIZES = {
    ord("Z"): 0,
    ord("N"): 0,
    ord("T"): 0,
    ord("F"): 0,
    ord("i"): 1,
    ord("U"): 1,
    ord("C"): 1,
    ord("I"): 2,
    ord("l"): 4,
    ord("d"): 4,
    ord("L"): 8,
    ord("D"): 8,
}
_INTEGERS = {ord("i"): ">b", ord("U"): ">B", ord("I"): ">h", ord("l"): ">i", ord("L"): ">q"}
_STRINGS = (ord("S"), ord("H"))
_ARRAY, _OBJECT = ord("["), ord("{")
_ENDS = {_ARRAY: ord("]"), _OBJECT: ord("}")}
#: deeper nesting than any model writes: a hostile file cannot exhaust the stack
_MAX_DEPTH = 128


class _Damaged(Exception):
    pass


def ubjson_problem(data: bytes) -> str | None:
    """What makes ``data`` not one whole UBJSON document, or None if it is one."""
    try:
        end = _Walk(data).value(0, 0)
    except _Damaged as exc:
        return str(exc)
    if end != len(data):
        return f"it has {len(data) - end} bytes after the end of its document"
    return None


class _Walk:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def _byte(self, at: int) -> int:
        if at >= len(self.data):
            raise _Damaged("it ends in the middle of a value, so it is truncated")
        return self.data[at]

    def _length(self, at: int) -> tuple[int, int]:
        """A length (an integer value with its marker) at ``at``: (length, next offset)."""
        marker = self._byte(at)
        fmt = _INTEGERS.get(marker)
        if fmt is None:
            raise _Damaged(f"a length at byte {at} is not an integer, so the file is damaged")
        size = struct.calcsize(fmt)
        if at + 1 + size > len(self.data):
            raise _Damaged("it ends in the middle of a length, so it is truncated")
        (length,) = struct.unpack_from(fmt, self.data, at + 1)
        if length < 0:
            raise _Damaged(f"a length at byte {at} is negative, so the file is damaged")
        return length, at + 1 + size

    def _skip(self, at: int, size: int) -> int:
        if at + size > len(self.data):
            raise _Damaged("it ends in the middle of a value, so it is truncated")
        return at + size

    def value(self, at: int, depth: int, marker: int | None = None) -> int:
        """Walk the value at ``at`` (its marker given for typed containers); its end."""
        if marker is None:
            marker = self._byte(at)
            at += 1
        if marker in _SIZES:
            return self._skip(at, _SIZES[marker])
        if marker in _STRINGS:
            length, at = self._length(at)
            return self._skip(at, length)
        if marker in _ENDS:
            if depth >= _MAX_DEPTH:
                raise _Damaged(f"it nests deeper than {_MAX_DEPTH} levels")
            return self._container(at, marker, depth + 1)
        raise _Damaged(f"byte {at - 1} is no UBJSON marker ({marker!r}), so the file is damaged")

    def _container(self, at: int, kind: int, depth: int) -> int:
        typed: int | None = None
        count: int | None = None
        if self._byte(at) == ord("$"):
            typed = self._byte(at + 1)
            at += 2
            if self._byte(at) != ord("#"):
                raise _Damaged("a typed container has no count, so the file is damaged")
        if self._byte(at) == ord("#"):
            count, at = self._length(at + 1)
        if count is None:
            while self._byte(at) != _ENDS[kind]:
                if kind == _OBJECT:
                    at = self._key(at)
                at = self.value(at, depth)
            return at + 1
        if typed is not None and typed in _SIZES and kind == _ARRAY:
            return self._skip(at, count * _SIZES[typed])  # the bulk of a model: no loop
        for _ in range(count):
            if kind == _OBJECT:
                at = self._key(at)
            at = self.value(at, depth, typed)
        return at

    def _key(self, at: int) -> int:
        length, at = self._length(at)
        return self._skip(at, length)
