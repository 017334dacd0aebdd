"""Benchmark: start-to-ready of a server with one scikit-learn model, against its floor.

    python bench/serving/startup.py [--repeats 7] [--cpu N] [--baseline OTHER/src] [--write]

Registers one ``LogisticRegression`` (``make_classification(20000, 20)``, as
bench/serving/run.py) twice in a temporary ``MODELPORT_HOME``: saved with skops (the
default) and with joblib. Then, alternating so machine load hits every case alike, times
``--repeats`` fresh processes of each case:

* ``python -c "import sklearn.linear_model"``: the floor, process start to exit; no server
  serving this model can be ready before scikit-learn is imported;
* ``python -m modelport.serving lr``: process start to ``/v2/health/ready`` = 200;
* ``python -m modelport.serving lr-joblib`` (``MODELPORT_TRUST_PICKLES=1``): the same.

With ``--baseline DIR`` the two server cases also run from that source tree (an older
commit: ``git archive REV src | tar -x -C /tmp/old``, then ``--baseline /tmp/old/src``),
in the same rounds, so a before/after comparison sees the same machine load.
``--cpu N`` pins every process to one CPU (``taskset``, as run.py pins its server); the
default does not pin, since on a shared machine a pinned CPU may be the busy one.
Prints medians, the fastest and slowest run, the ratio to the 2 s limit and the margin
over the floor (``--write``: also into STARTUP.md next to this file), and exits 1 if a
median of this checkout misses the limit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LIMIT_S = 2.0
FLOOR = "import sklearn.linear_model (floor)"
SKOPS = "serve lr, skops"
JOBLIB = "serve lr, joblib"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, args: list[str]) -> list[str]:
    if cpu < 0 or shutil.which("taskset") is None:
        return args
    return ["taskset", "-c", str(cpu), *args]


def time_exit(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def time_ready(cmd: list[str], env: dict[str, str], port: int, timeout: float = 120) -> float:
    """Seconds from spawning ``cmd`` until its ready endpoint answers 200; then stops it."""
    url = f"http://127.0.0.1:{port}/v2/health/ready"
    started = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                _, err = process.communicate()
                raise RuntimeError(f"server exited with {process.returncode}: {err.decode()}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
        raise RuntimeError(f"server not ready after {timeout} s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def register(home: Path) -> None:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    import modelport
    from modelport.settings import Settings

    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    settings = Settings(home=home, user="bench")
    modelport.register(model, "lr", sample=X, settings=settings)
    modelport.register(model, "lr-joblib", sample=X, serialization="joblib", settings=settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cpu", type=int, default=-1, help="CPU to pin to; -1: no pinning")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another source tree (e.g. `git archive REV src | tar -x -C DIR`, then DIR/src) "
        "whose servers are timed in the same run, alternating with this checkout's",
    )
    parser.add_argument("--write", action="store_true", help="also write STARTUP.md here")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="modelport-startup-")) / "home"
    register(home)
    trees = {"": ROOT / "src"}
    if args.baseline is not None:
        trees[" (baseline)"] = args.baseline.resolve()
    python = sys.executable
    cases = [(FLOOR, None, [python, "-c", "import sklearn.linear_model"], {})]
    for suffix, tree in trees.items():
        for case, ref, extra in (
            (SKOPS, "lr", {}),
            (JOBLIB, "lr-joblib", {"MODELPORT_TRUST_PICKLES": "1"}),
        ):
            cmd = [python, "-m", "modelport.serving", "--no-auth", ref, "--port"]
            cases.append((case + suffix, tree, cmd, extra))
    base_env = {**os.environ, "MODELPORT_HOME": str(home)}
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {case: [] for case, *_ in cases}
    for _ in range(args.repeats):
        for case, tree, cmd, extra in cases:
            env = {**base_env, **extra, "PYTHONPATH": str(tree or ROOT / "src")}
            if case == FLOOR:
                times[case].append(time_exit(pinned(args.cpu, cmd), env))
            else:
                port = free_port()
                times[case].append(time_ready(pinned(args.cpu, [*cmd, str(port)]), env, port))
    load_after = os.getloadavg()[0]

    floor = statistics.median(times[FLOOR])
    pinning = f"pinned to CPU {args.cpu}" if args.cpu >= 0 else "not pinned"
    lines = [
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: "
        f"{args.repeats} runs per case, alternating; {pinning}; 1-minute load average "
        f"{load_before:.2f} before, {load_after:.2f} after; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}.",
        "",
        "| case | median s | fastest s | slowest s | median / 2 s limit | median - floor s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    missed = False
    for case, values in times.items():
        median = statistics.median(values)
        over_floor = "" if case == FLOOR else f"{median - floor:+.2f}"
        verdict = ""
        if case in (SKOPS, JOBLIB):  # the limit is this checkout's; a baseline is context
            verdict = " met" if median < LIMIT_S else " MISSED"
            missed |= median >= LIMIT_S
        lines.append(
            f"| {case} | {median:.2f} | {min(values):.2f} | {max(values):.2f} "
            f"| {median / LIMIT_S:.0%}{verdict} | {over_floor} |"
        )
    print("\n".join(lines))
    if args.write:
        title = "# Server start-to-ready, one scikit-learn model (bench/serving/startup.py)"
        (HERE / "STARTUP.md").write_text("\n".join([title, "", *lines, ""]))
    shutil.rmtree(home.parent, ignore_errors=True)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
