from __future__ import annotations

from pathlib import Path

import pytest

from modelport.packaging import monitoring_files
from tests.packaging.conftest import Packaged


def test_the_package_holds_every_shipped_file_byte_for_byte(packaged: Packaged) -> None:
    for name in monitoring_files.DIRECTORIES:
        shipped = monitoring_files.shipped_files(name)
        copied = sorted(p for p in (packaged.out / name).rglob("*") if p.is_file())
        assert [p.relative_to(packaged.out / name) for p in copied] == [
            p.relative_to(monitoring_files.source_dir(name)) for p in shipped
        ]
        for source in shipped:
            rel = source.relative_to(monitoring_files.source_dir(name))
            assert (packaged.out / name / rel).read_bytes() == source.read_bytes()


def test_copying_works_with_files_and_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = tmp_path / "shipped"
    (shipped / "grafana" / "nested").mkdir(parents=True)
    (shipped / "prometheus").mkdir()
    (shipped / "grafana" / "traffic.json").write_text('{"title": "traffic"}')
    (shipped / "grafana" / "nested" / "more.json").write_text("{}")
    (shipped / "grafana" / ".gitkeep").write_text("")
    monkeypatch.setattr(monitoring_files, "source_dir", lambda name: shipped / name)
    written = monitoring_files.copy_monitoring(tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "grafana/nested/more.json",
        "grafana/traffic.json",
    ]
    assert (tmp_path / "out" / "grafana" / "traffic.json").read_text() == '{"title": "traffic"}'
    assert (tmp_path / "out" / "prometheus").is_dir()  # empty, but there
