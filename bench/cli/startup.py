"""Benchmark: how long the ``modelport`` command takes to start, against Python's own start.

Times, in one run and alternating so machine load hits every case alike:

* ``python -c pass``: the floor, the interpreter alone;
* ``modelport --help``;
* ``modelport models list`` on a fresh, empty home (so it creates the registry database:
  the worst case of a registry command);
* ``modelport serve --help``.

Each command runs as a fresh process (``python -m modelport``, with this checkout's
``src`` first on the path), ``--repeats`` times; medians and the fastest run are printed
and written to ``bench/cli/RESULTS.md``. Target: every median under 1 s.
Run: ``python bench/cli/startup.py [--repeats 10]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 1.0
CASES: dict[str, list[str]] = {
    "python -c pass (floor)": ["-c", "pass"],
    "modelport --help": ["-m", "modelport", "--help"],
    "modelport models list (fresh home)": ["-m", "modelport", "models", "list"],
    "modelport serve --help": ["-m", "modelport", "serve", "--help"],
}


def once(args: list[str]) -> float:
    home = tempfile.mkdtemp(prefix="modelport-bench-")  # fresh: no registry yet
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MODELPORT_HOME": home}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args} failed ({done.returncode}): {done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    for case in CASES.values():  # warm the OS file cache once; not counted
        once(case)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, case in CASES.items():
            times[name].append(once(case))
    load_after = os.getloadavg()[0]

    floor = statistics.median(times["python -c pass (floor)"])
    rows = []
    for name, runs in times.items():
        median = statistics.median(runs)
        verdict = "floor" if "floor" in name else ("met" if median < TARGET_S else "MISSED")
        rows.append((name, median, min(runs), median - floor, verdict))
    lines = [
        "| command | median s | fastest s | above the floor s | target < 1 s |",
        "|---|---:|---:|---:|---|",
        *(f"| `{n}` | {m:.3f} | {f:.3f} | {a:.3f} | {v} |" for n, m, f, a, v in rows),
    ]
    print("\n".join(lines))
    if args.no_write:
        return
    report = [
        "# CLI start-up benchmark",
        "",
        f"`python bench/cli/startup.py --repeats {args.repeats}` (medians of "
        f"{args.repeats} runs, each a fresh process).",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        f"- load average (1 min) before / after: {load_before:.2f} / {load_after:.2f}",
        "  (the machine was shared with other jobs; an idle machine is faster)",
        "",
        *lines,
        "",
    ]
    (Path(__file__).parent / "RESULTS.md").write_text("\n".join(report))


if __name__ == "__main__":
    main()
