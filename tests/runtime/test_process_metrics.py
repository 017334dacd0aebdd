"""Per-worker process numbers from /proc, and the worker files they are found by."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from modelport.runtime.process_metrics import (
    PROC,
    WorkerProcessCollector,
    announce_worker,
    forget_worker,
    sample,
    workers,
)

pytestmark = pytest.mark.skipif(not (PROC / "stat").exists(), reason="needs Linux /proc")


def exposition(collector: WorkerProcessCollector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def test_one_process_reports_itself_as_worker_0() -> None:
    assert workers(None) == [("0", os.getpid())]
    text = exposition(WorkerProcessCollector(None))
    labels = f'pid="{os.getpid()}",worker="0"'
    assert f"modelport_worker_open_fds{{{labels}}}" in text
    assert f"modelport_worker_cpu_seconds_total{{{labels}}}" in text
    assert "modelport_workers 1.0" in text


def test_a_sample_reads_cpu_memory_files_and_start_time() -> None:
    found = sample(os.getpid(), boot_time=0.0)
    assert found is not None
    assert found.resident_bytes > 10_000_000  # a Python with numpy loaded
    assert found.open_fds >= 3
    assert found.cpu_seconds > 0
    assert found.start_time_seconds > 0


def test_announced_workers_are_reported_and_gone_ones_are_not(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        announce_worker(str(tmp_path), 0)
        announce_worker(str(tmp_path), 1, pid=child.pid)
        announce_worker(str(tmp_path), 2, pid=2**22 + 12345)  # no such process
        assert {index for index, _ in workers(str(tmp_path))} == {"0", "1", "2"}
        text = exposition(WorkerProcessCollector(str(tmp_path)))
        assert f'modelport_worker_open_fds{{pid="{child.pid}",worker="1"}}' in text
        assert 'worker="2"' not in text
        assert "modelport_workers 2.0" in text
        forget_worker(str(tmp_path), child.pid)
        assert {index for index, _ in workers(str(tmp_path))} == {"0", "2"}
    finally:
        child.kill()
        child.wait()
