"""Hostile tar and zip archives are refused, naming the member, and write nothing anywhere."""

from __future__ import annotations

import io
import stat
import struct
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from modelport.archives import extract_archive
from modelport.errors import DataError


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def _tar(*members: tuple[tarfile.TarInfo, bytes | None], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file(name: str, data: bytes = b"owned\n") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _device(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info, None


def _huge_tar() -> bytes:
    # a header that claims a terabyte, with no data behind it: only the index is read
    info = tarfile.TarInfo("weights.bin")
    info.size = 1 << 40
    return info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024


def _zip(*entries: tuple[str, bytes] | zipfile.ZipInfo, data: bytes = b"owned\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            if isinstance(entry, zipfile.ZipInfo):
                archive.writestr(entry, data)
            else:
                archive.writestr(*entry)
    return buffer.getvalue()


def _zip_symlink(name: str, target: str) -> bytes:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip(info, data=target.encode())


def _zip_declaring(size: int) -> bytes:
    """A zip whose one member claims ``size`` uncompressed bytes (both headers patched)."""
    raw = bytearray(_zip(("weights.bin", b"x" * 10)))
    local = raw.find(b"PK\x03\x04")
    struct.pack_into("<I", raw, local + 22, size)
    central = raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, size)
    return bytes(raw)


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "tar absolute path": (lambda: _tar(_file("/tmp/owned")), "/tmp/owned"),
    "tar dot-dot": (lambda: _tar(_file("../owned")), "../owned"),
    "tar dot-dot deep": (lambda: _tar(_file("a/b/../../../owned")), "a/b/../../../owned"),
    "tar symlink": (lambda: _tar(_link("passwd", "/etc/passwd", tarfile.SYMTYPE)), "passwd"),
    "tar symlink then file through it": (
        lambda: _tar(_link("escape", "..", tarfile.SYMTYPE), _file("escape/owned")),
        "escape",
    ),
    "tar hard link": (lambda: _tar(_link("passwd", "/etc/passwd", tarfile.LNKTYPE)), "passwd"),
    "tar device": (lambda: _tar(_device("null")), "null"),
    "tar huge declared size": (_huge_tar, "weights.bin"),
    "tar.gz dot-dot": (lambda: _tar(_file("../owned"), mode="w:gz"), "../owned"),
    "tar duplicate member": (lambda: _tar(_file("model"), _file("model")), "model"),
    "tar backslash": (lambda: _tar(_file("..\\owned")), "..\\owned"),
    "zip absolute path": (lambda: _zip(("/tmp/owned", b"x")), "/tmp/owned"),
    "zip dot-dot": (lambda: _zip(("../owned", b"x")), "../owned"),
    "zip drive letter": (lambda: _zip(("C:/owned", b"x")), "C:/owned"),
    "zip symlink": (lambda: _zip_symlink("passwd", "/etc/passwd"), "passwd"),
    "zip huge declared size": (lambda: _zip_declaring(0xFFFF_FFF0), "weights.bin"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_archives_are_refused_and_write_nothing(case: str, tmp_path: Path) -> None:
    make, member = HOSTILE[case]
    work = tmp_path / "work"
    work.mkdir()
    (work / "existing").write_text("kept")
    before = _tree(tmp_path)
    with pytest.raises(DataError) as info:
        extract_archive(make(), work / "out", max_total_bytes=1 << 30)
    assert repr(member) in str(info.value)
    assert info.value.hint
    assert _tree(tmp_path) == before


def test_a_zip_bomb_is_stopped_by_the_size_bound(tmp_path: Path) -> None:
    bomb = _zip(("zeros.bin", b"\0" * (8 << 20)))
    assert len(bomb) < 64 * 1024  # small on the wire, 8 MiB unpacked
    before = _tree(tmp_path)
    with pytest.raises(DataError, match=r"zeros\.bin"):
        extract_archive(bomb, tmp_path / "out", max_total_bytes=1 << 20)
    assert _tree(tmp_path) == before


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    many = _tar(*(_file(f"f{i}") for i in range(20)))
    with pytest.raises(DataError, match="more than 10 members"):
        extract_archive(many, tmp_path / "out", max_members=10)
    assert not (tmp_path / "out").exists()


def test_a_zip_that_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    raw = bytearray(_zip(("data.bin", b"y" * 1000)))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        struct.pack_into("<I", raw, raw.find(signature) + offset, 10)  # claims 10 bytes
    with pytest.raises(DataError, match=r"data\.bin"):
        extract_archive(bytes(raw), tmp_path / "out")
    assert _tree(tmp_path) == []


@pytest.mark.parametrize("compression", ["w", "w:gz", "zip"])
def test_a_plain_archive_unpacks_into_the_target(compression: str, tmp_path: Path) -> None:
    files = {"model.skops": b"PK\x03\x04model", "nested/config.json": b"{}"}
    if compression == "zip":
        packed = _zip(*files.items())
    else:
        packed = _tar(*(_file(name, data) for name, data in files.items()), mode=compression)
    target = extract_archive(packed, tmp_path / "out")
    assert {p: (target / p).read_bytes() for p in files} == files
    assert _tree(tmp_path) == ["out", "out/model.skops", "out/nested", "out/nested/config.json"]


def test_a_tar_of_a_directory_with_dot_members_unpacks(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_text("a")
    archive = tmp_path / "packed.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname=".")  # what the Spark engine ships to its workers
    target = tmp_path / "empty"
    target.mkdir()
    extract_archive(archive, target)
    assert (target / "sub" / "a.txt").read_text() == "a"


def test_a_target_with_files_in_it_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    with pytest.raises(DataError, match="not an empty directory"):
        extract_archive(_tar(_file("a")), tmp_path / "out")


def test_garbage_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a readable tar or zip"):
        extract_archive(b"certainly not an archive" * 40, tmp_path / "out")
    assert _tree(tmp_path) == []


def test_a_tar_ending_in_a_zip_is_unpacked_as_the_tar(tmp_path: Path) -> None:
    # zipfile.is_zipfile says yes to it: it finds the inner zip's index near the end
    inner = _zip(("array.npy", b"\0" * 100))
    packed = _tar(_file("model.skops", inner))
    assert zipfile.is_zipfile(io.BytesIO(packed))
    target = extract_archive(packed, tmp_path / "out")
    assert (target / "model.skops").read_bytes() == inner
    assert _tree(tmp_path) == ["out", "out/model.skops"]
