"""Unpacking tar and zip archives without trusting them: the one extractor of modelport.

An archive is a list of names and sizes chosen by whoever wrote it, so every member is
checked before a byte is written (the zip-slip family of attacks): an absolute path, a
``..`` component, a backslash or a drive letter, a symlink, a hard link, a device or a
FIFO, a name given twice, and more members or bytes than a bound are all refused with a
:class:`~modelport.errors.DataError` naming the member. Files are then written into a
fresh staging directory beside the target, never following links and never growing past
their declared size (a zip may lie about it), and the staging directory becomes the
target in one rename, so a refused or broken archive leaves nothing behind.

    extract_archive(Path("model.tar.gz"), Path("/srv/unpacked"))
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from modelport.errors import DataError

#: more members than any model directory has; a bound on inodes an archive can make
MAX_MEMBERS = 10_000
#: bytes all members may unpack to together: generous for models, fatal to zip bombs
MAX_TOTAL_BYTES = 64 * 1024**3
_CHUNK = 1 << 20
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or an empty zip
_HINT = (
    "the archive is unsafe or damaged (absolute or '..' paths, links, devices, or far more "
    "data than it looks: a zip bomb); recreate it from the original files"
)


@dataclass(frozen=True, slots=True)
class _Member:
    """One entry to write: its checked relative path, size, and how to read its bytes."""

    path: PurePosixPath
    directory: bool
    size: int
    open: Callable[[], IO[bytes]]


def extract_archive(
    source: Path | bytes,
    target: Path,
    *,
    max_members: int = MAX_MEMBERS,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> Path:
    """Unpack the tar (any compression) or zip ``source`` into ``target``; return ``target``.

    ``target`` must not exist yet, or be an empty directory. Nothing is written outside it:
    the members are unpacked into a staging directory beside it that is renamed into place
    only when every member was written.
    """
    label = str(source) if isinstance(source, Path) else "the archive"
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DataError(
            f"cannot extract {label} into {target}: it exists and is not an empty directory",
            hint="extract into a new directory",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.extract-"))
    try:
        with _members(source, label) as members:
            checked = _check(members, label, max_members, max_total_bytes)
            for member in checked:
                _write(staging, member, label)
        if target.exists():
            target.rmdir()  # empty, checked above; rename cannot replace it everywhere
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


@contextmanager
def _members(source: Path | bytes, label: str) -> Iterator[Iterator[_Member]]:
    """The archive's entries, read lazily from its index; refused types raise DataError.

    Lazily, so that the bounds stop a tar of a million headers, or one whose first
    header claims a terabyte, before the rest is read.
    """
    stream: BinaryIO
    try:
        stream = source.open("rb") if isinstance(source, Path) else io.BytesIO(source)
    except OSError as exc:
        raise DataError(f"cannot read {label}: {exc}", hint="check the path") from exc
    with stream:
        try:
            # by the first bytes, not zipfile.is_zipfile: that finds a zip's index at the
            # end of a tar whose last member is a zip (a skops file), and would unpack it
            if stream.read(4) in _ZIP_MAGIC:
                stream.seek(0)
                with zipfile.ZipFile(stream) as archive:
                    yield (_zip_member(archive, info, label) for info in archive.infolist())
                return
            stream.seek(0)
            with tarfile.open(fileobj=stream, mode="r:*") as archive:
                yield (_tar_member(archive, info, label) for info in _tar_infos(archive))
        except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise DataError(
                f"{label} is not a readable tar or zip archive: {exc}", hint=_HINT
            ) from exc
        except (RuntimeError, NotImplementedError) as exc:  # zip: encrypted, unknown method
            raise DataError(f"cannot extract {label}: {exc}", hint=_HINT) from exc


def _tar_infos(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (info := archive.next()) is not None:
        yield info


def _refuse(label: str, name: str, reason: str) -> DataError:
    return DataError(f"refusing to extract {label}: member {name!r} {reason}", hint=_HINT)


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> _Member:
    mode = info.external_attr >> 16  # the Unix mode, when a Unix tool wrote the zip
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise _refuse(label, info.filename, "is a symbolic link")
    if kind and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise _refuse(label, info.filename, "is not a regular file or directory")
    if info.flag_bits & 0x1:
        raise _refuse(label, info.filename, "is encrypted")
    return _Member(
        _safe_path(info.filename, label),
        info.is_dir(),
        info.file_size,
        lambda: archive.open(info),
    )


def _tar_member(archive: tarfile.TarFile, info: tarfile.TarInfo, label: str) -> _Member:
    if info.issym():
        raise _refuse(label, info.name, f"is a symbolic link (to {info.linkname!r})")
    if info.islnk():
        raise _refuse(label, info.name, f"is a hard link (to {info.linkname!r})")
    if info.isdev():
        raise _refuse(label, info.name, "is a device file or FIFO")
    if not (info.isfile() or info.isdir()):
        raise _refuse(label, info.name, "is not a regular file or directory")

    def read() -> IO[bytes]:
        handle = archive.extractfile(info)
        assert handle is not None  # a regular file always has data
        return handle

    return _Member(_safe_path(info.name, label), info.isdir(), info.size, read)


def _safe_path(name: str, label: str) -> PurePosixPath:
    """The member's path relative to the target, or DataError if it could leave it."""
    if not name or "\x00" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise _refuse(label, name, "has an empty name or control characters in it")
    if "\\" in name:
        raise _refuse(label, name, "has a backslash in its path (a Windows path)")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse(label, name, "has an absolute path")
    parts = [p for p in PurePosixPath(name).parts if p != "."]
    if ".." in parts:
        raise _refuse(label, name, "has a '..' component, which would leave the target")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _check(
    entries: Iterator[_Member], label: str, max_members: int, max_total_bytes: int
) -> list[_Member]:
    """Every member, once all of them passed the checks that need the whole list."""
    members: list[_Member] = []
    files: set[PurePosixPath] = set()
    directories: set[PurePosixPath] = set()
    total = 0
    for member in entries:
        members.append(member)
        if len(members) > max_members:
            raise DataError(
                f"refusing to extract {label}: it has more than {max_members} members",
                hint=_HINT,
            )
        shown = member.path.as_posix()
        if member.size < 0:
            raise _refuse(label, shown, f"declares a negative size ({member.size})")
        total += member.size
        if total > max_total_bytes:
            raise _refuse(
                label,
                shown,
                f"brings the unpacked size to {total} bytes, more than the limit of "
                f"{max_total_bytes}",
            )
        if member.path in files or (not member.directory and member.path in directories):
            raise _refuse(label, shown, "is given twice")
        if not member.directory and member.path == PurePosixPath("."):
            raise _refuse(label, shown, "is a file named like the target directory itself")
        (directories if member.directory else files).add(member.path)
    files = {m.path for m in members if not m.directory}
    for member in members:  # a file must not stand where another member needs a directory
        for parent in member.path.parents:
            if parent in files:
                raise _refuse(label, member.path.as_posix(), f"is inside the file {parent}")
    return members


def _write(staging: Path, member: _Member, label: str) -> None:
    dest = staging.joinpath(*member.path.parts)
    # belt and braces: _safe_path already made this impossible
    if not dest.resolve().is_relative_to(staging.resolve()):
        raise _refuse(label, member.path.as_posix(), "would be written outside the target")
    if member.directory:
        dest.mkdir(parents=True, exist_ok=True)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    written = 0
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with member.open() as data, os.fdopen(os.open(dest, flags, 0o644), "wb") as out:
            while chunk := data.read(_CHUNK):
                written += len(chunk)
                if written > member.size:  # a zip's declared size is only a claim
                    raise _refuse(
                        label,
                        member.path.as_posix(),
                        f"unpacks to more than the {member.size} bytes it declares",
                    )
                out.write(chunk)
    except OSError as exc:
        raise DataError(
            f"cannot extract member {member.path.as_posix()!r} of {label}: {exc}",
            hint="check the free space and permissions of the target's directory",
        ) from exc
