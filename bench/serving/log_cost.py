"""What the prediction log costs: LR at 64 connections, log on against off, interleaved.

    python bench/serving/log_cost.py [--baseline <older tree's src/>] [--rounds 3] [--duration 5]

Serves the LR of compare.py from this tree (and, with ``--baseline``, from an older one),
with the log on (every request) and off (``--log-sample-rate 0``), one after the other in
each round, with run.py's pinning and load. The server's CPU time per request is split by
thread: the event loop, the batch thread (``predict-*``), the log writer
(``prediction-log``) and the rest; the threads get their kernel names from
``thread_names/sitecustomize.py``, put first on the servers' PYTHONPATH. After each logged
run the server is stopped gracefully and the Parquet it wrote is measured: bytes per 100,000
rows. With ``--held`` a third server logs but flushes only when it stops
(``--log-flush-interval 3600``): the writer thread then does nothing during the run, which
separates what its flushes do to the other threads from what logging costs them directly.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compare import _REGISTER, register_in
from run import HERE, WrkRun, free_port, start, stop, wrk

REPO_SRC = HERE.parent.parent / "src"
THREAD_NAMES = HERE / "thread_names"
_TICK = os.sysconf("SC_CLK_TCK")
ROLES = ("loop", "batch", "writer", "other")


@dataclass
class Point:
    """One run of one server: wrk's figures, CPU us per request by role, the log's size."""

    run: WrkRun
    cpu: dict[str, float]
    rows: int = 0
    bytes: int = 0


def threads_cpu(pid: int) -> dict[str, tuple[str, float]]:
    """By thread id: (kernel name, CPU seconds so far)."""
    seen: dict[str, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        seen[task.name] = (name, (int(fields[11]) + int(fields[12])) / _TICK)
    return seen


def role(pid: int, tid: str, name: str) -> str:
    if tid == str(pid):
        return "loop"
    if name.startswith("predict-"):
        return "batch"
    if name == "prediction-log":
        return "writer"
    return "other"


def parquet_size(root: Path) -> tuple[int, int]:
    """(rows, bytes) of the Parquet files under ``root``."""
    import pyarrow.parquet as pq

    rows = size = 0
    for path in root.rglob("*.parquet"):
        rows += pq.read_metadata(path).num_rows
        size += path.stat().st_size
    return rows, size


#: the server's options per case
CASES = {
    "on": (),
    "off": ("--log-sample-rate", "0"),
    "held": ("--log-flush-interval", "3600"),
}


def one_run(src: Path, home: str, case: str, body: str, duration: int, out: Path) -> Point:
    port = free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="modelport-logcost-"))
    cmd = [
        *("taskset", "-c", "0", sys.executable, "-m", "modelport.serving", "--no-auth", "lr"),
        *("--port", str(port), *CASES[case]),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": f"{THREAD_NAMES}{os.pathsep}{src}",
        "MODELPORT_HOME": home,
        "MODELPORT_LOG_URI": str(log_dir),
    }
    url = f"http://127.0.0.1:{port}/v1/models/lr:predict"
    process, _ = start(cmd, env, out)
    try:
        wrk(url, body, 8, 2)  # warm-up
        before = threads_cpu(process.pid)
        run = wrk(url, body, 64, duration)
        after = threads_cpu(process.pid)
    finally:
        stop(process)  # graceful: the writer flushes what it holds
    cpu = dict.fromkeys(ROLES, 0.0)
    for tid, (name, seconds) in after.items():
        spent = seconds - before.get(tid, (name, 0.0))[1]
        cpu[role(process.pid, tid, name)] += spent / max(run.requests, 1) * 1e6
    rows, size = parquet_size(log_dir)
    return Point(run, cpu, rows, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="an older tree's src/ to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--held", action="store_true", help="also log without flushing")
    args = parser.parse_args()

    trees = {"current": REPO_SRC.resolve()}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), **trees}
    homes, body = register_in(trees, _REGISTER, "modelport-logcost")
    logs = Path(tempfile.mkdtemp(prefix="modelport-logcost-out-"))
    kinds = ["on", "off", *(["held"] if args.held else [])]
    cases = [(tag, kind) for tag in trees for kind in kinds]
    points: dict[tuple[str, str], list[Point]] = {case: [] for case in cases}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for tag, kind in cases:
            out = logs / f"{tag}-{kind}.log"
            points[tag, kind].append(
                one_run(trees[tag], homes[tag], kind, body, args.duration, out)
            )
        loads.append(os.getloadavg()[0])

    print(
        f"{args.rounds} rounds x {args.duration} s, LR at 64 connections; 1-minute load "
        f"average at start and after each round: {', '.join(f'{x:.1f}' for x in loads)}"
    )
    print(
        "| server | log | req/s | p99 ms | CPU us/req: loop | batch | writer | other | total |"
        " bytes per 100k rows |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals: dict[tuple[str, str], float] = {}
    rates: dict[tuple[str, str], float] = {}
    for (tag, kind), runs in points.items():
        by_role = {r: statistics.median(p.cpu[r] for p in runs) for r in ROLES}
        totals[tag, kind] = statistics.median(sum(p.cpu.values()) for p in runs)
        rates[tag, kind] = statistics.median(p.run.rps for p in runs)
        rows = sum(p.rows for p in runs)
        size = f"{sum(p.bytes for p in runs) / rows * 1e5:,.0f}" if rows else ""
        print(
            f"| {tag} | {kind} | {rates[tag, kind]:,.0f} | "
            f"{statistics.median(p.run.p99_ms for p in runs):.2f} | "
            + " | ".join(f"{by_role[r]:.1f}" for r in ROLES)
            + f" | {totals[tag, kind]:.1f} | {size} |"
        )
    for tag in trees:
        for kind in kinds[:1] + kinds[2:]:
            on, off = totals[tag, kind], totals[tag, "off"]
            print(
                f"{tag}, {kind} against off: {on - off:+.1f} us per request "
                f"({on / off - 1:+.1%} by CPU, {1 - rates[tag, kind] / rates[tag, 'off']:.1%} "
                "fewer req/s)"
            )


if __name__ == "__main__":
    main()
