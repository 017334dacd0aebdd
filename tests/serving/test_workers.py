"""The supervisor's metrics directory, and which config turns the shared mode on."""

from __future__ import annotations

from pathlib import Path

from modelport.runtime.config import ServeConfig
from modelport.serving.workers import prepare_metrics_dir


def test_a_given_directory_is_emptied_of_an_earlier_servers_numbers(tmp_path: Path) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"x")
    (tmp_path / "gauge_livesum_123.db").write_bytes(b"x")
    (tmp_path / "workers").mkdir()
    (tmp_path / "workers" / "123").write_text("0")
    (tmp_path / "README").write_text("not ours: kept")
    (tmp_path / "other").mkdir()
    path, made = prepare_metrics_dir(ServeConfig(auth=False, metrics_dir=str(tmp_path)))
    assert path == tmp_path and not made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README", "other"]


def test_without_a_directory_a_fresh_one_is_made(tmp_path: Path) -> None:
    path, made = prepare_metrics_dir(ServeConfig(auth=False))
    try:
        assert made and path.is_dir() and not list(path.iterdir())
    finally:
        path.rmdir()


def test_only_several_workers_share_metrics_through_files() -> None:
    assert ServeConfig(auth=False, metrics_dir="/m").shared_metrics_dir() is None
    assert ServeConfig(auth=False, workers=2, metrics_dir="/m").shared_metrics_dir() == "/m"
