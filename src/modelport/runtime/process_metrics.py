"""CPU, memory and open files of each server worker, read from /proc at scrape time.

One worker (no shared directory) reports itself as worker 0. With ``--workers N`` each
worker writes a file named by its pid into ``<metrics dir>/workers/`` holding its index
(:func:`announce_worker`); whichever worker answers a scrape reads every live worker's
/proc entry, so one answer has them all, labelled ``worker`` (its index) and ``pid``.
Reading /proc costs nothing per request. Elsewhere than Linux there is no /proc and the
process series are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

PROC = Path("/proc")
WORKERS_DIR = "workers"


@dataclass(frozen=True, slots=True)
class ProcessSample:
    cpu_seconds: float
    resident_bytes: float
    open_fds: float
    start_time_seconds: float


def announce_worker(multiprocess_dir: str, index: int, pid: int | None = None) -> Path:
    """Record that the process ``pid`` (default this one) is worker ``index``."""
    folder = Path(multiprocess_dir) / WORKERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / str(pid or os.getpid())
    path.write_text(str(index))
    return path


def forget_worker(multiprocess_dir: str, pid: int) -> None:
    (Path(multiprocess_dir) / WORKERS_DIR / str(pid)).unlink(missing_ok=True)


def workers(multiprocess_dir: str | None) -> list[tuple[str, int]]:
    """(index, pid) of every announced worker, or this process as worker 0."""
    if multiprocess_dir is None:
        return [("0", os.getpid())]
    found = []
    for path in sorted((Path(multiprocess_dir) / WORKERS_DIR).glob("*")):
        try:
            found.append((path.read_text().strip(), int(path.name)))
        except (OSError, ValueError):  # removed while we looked: that worker is gone
            continue
    return found


def _boot_time() -> float:
    for line in (PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def sample(pid: int, boot_time: float) -> ProcessSample | None:
    """What /proc says of ``pid``, or None if it is gone (or there is no /proc)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        fds = len(os.listdir(PROC / str(pid) / "fd"))
    except OSError:
        return None
    # the command name (field 2) may hold spaces; the fields after it are fixed
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    return ProcessSample(
        cpu_seconds=(int(fields[11]) + int(fields[12])) / ticks,
        resident_bytes=float(int(fields[21]) * page),
        open_fds=float(fds),
        start_time_seconds=boot_time + int(fields[19]) / ticks,
    )


class WorkerProcessCollector(Collector):
    """``modelport_worker_*`` series: one per live worker, from /proc."""

    def __init__(self, multiprocess_dir: str | None) -> None:
        self.multiprocess_dir = multiprocess_dir

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        if not (PROC / "stat").exists():
            return
        labels = ["worker", "pid"]
        cpu = CounterMetricFamily(
            "modelport_worker_cpu_seconds",
            "CPU time (user and system) of a server worker process.",
            labels=labels,
        )
        memory = GaugeMetricFamily(
            "modelport_worker_resident_memory_bytes",
            "Resident memory of a server worker process.",
            labels=labels,
        )
        fds = GaugeMetricFamily(
            "modelport_worker_open_fds", "Open file descriptors of a worker.", labels=labels
        )
        started = GaugeMetricFamily(
            "modelport_worker_start_time_seconds",
            "When a server worker process started (Unix time).",
            labels=labels,
        )
        live = 0
        boot_time = _boot_time()
        for index, pid in workers(self.multiprocess_dir):
            found = sample(pid, boot_time)
            if found is None:
                continue
            live += 1
            values = [index, str(pid)]
            cpu.add_metric(values, found.cpu_seconds)
            memory.add_metric(values, found.resident_bytes)
            fds.add_metric(values, found.open_fds)
            started.add_metric(values, found.start_time_seconds)
        yield cpu
        yield memory
        yield fds
        yield started
        yield GaugeMetricFamily(
            "modelport_workers", "Server worker processes alive.", value=float(live)
        )
