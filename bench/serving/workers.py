"""``--workers 2`` against one worker: LogisticRegression at 64 connections, /metrics exact.

    python bench/serving/workers.py [--rounds 3] [--duration 10] [--write]

Target (issue 14): two workers at least 1.6x the req/s of one, on this two-core machine.
Nothing is pinned: the servers may use both cores, and wrk (one thread) shares them, so
part of the second core goes to wrk; say so when quoting the figure. The two shapes
alternate, one round at a time; medians over the rounds. After each run the server's
/metrics (one answer, from whichever worker) is compared with the requests wrk completed:
every request must be counted (the count may exceed wrk's by the requests still in flight
when wrk stopped, at most one per connection).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from run import HERE, WrkRun, cpu_seconds, free_port, start, stop, wrk

_SETUP = """
import json, sys
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
import modelport
from modelport.settings import Settings
settings = Settings(home=sys.argv[1], user="bench")
X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
modelport.register(LogisticRegression(max_iter=1000).fit(X, y), "lr", sample=X, settings=settings)
print(json.dumps({"instances": [X[123].tolist()]}))
"""
CONNECTIONS = 64


def tree_cpu(pid: int) -> float:
    """CPU seconds of the server process and its workers (the supervisor's children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(cpu_seconds(int(c)) for c in children)


def counted(url: str) -> float:
    """modelport_requests_total summed, from one /metrics answer."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("modelport_requests_total{")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="also write WORKERS.md here")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="modelport-bench-workers-")
    setup = subprocess.run(
        [sys.executable, "-c", _SETUP, home], capture_output=True, text=True, check=True
    )
    body = setup.stdout.strip().splitlines()[-1]
    logs = Path(tempfile.mkdtemp(prefix="modelport-bench-workers-logs-"))
    env = {**os.environ, "MODELPORT_HOME": home}
    results: dict[int, list[WrkRun]] = {1: [], 2: []}
    exact: dict[int, list[str]] = {1: [], 2: []}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for workers in (1, 2):
            port = free_port()
            cmd = [sys.executable, "-m", "modelport.serving", "lr", "--no-auth"]
            cmd += ["--workers", str(workers), "--port", str(port), "--no-access-log"]
            process, _ = start(cmd, env, logs / f"server-{workers}.log")
            url = f"http://127.0.0.1:{port}"
            predict = f"{url}/v1/models/lr:predict"
            try:
                wrk(predict, body, CONNECTIONS, 2, cpus=None)  # warm-up (and every worker up)
                before, cpu = counted(url), tree_cpu(process.pid)
                run = wrk(predict, body, CONNECTIONS, args.duration, cpus=None)
                run.cpu_us = (tree_cpu(process.pid) - cpu) / max(run.requests, 1) * 1e6
                seen = counted(url) - before
                results[workers].append(run)
                ok = run.requests <= seen <= run.requests + CONNECTIONS
                exact[workers].append(f"{seen:,.0f} of {run.requests:,}{'' if ok else ' WRONG'}")
            finally:
                stop(process)
        loads.append(os.getloadavg()[0])
    rps = {w: statistics.median(r.rps for r in runs) for w, runs in results.items()}
    ratio = rps[2] / rps[1]
    lines = [
        "| workers | req/s (median) | p50 ms | p99 ms | server CPU us/req | non-2xx "
        "| /metrics counted, of wrk's |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        *(
            f"| {w} | {rps[w]:,.0f} | {statistics.median(r.p50_ms for r in runs):.2f} | "
            f"{statistics.median(r.p99_ms for r in runs):.2f} | "
            f"{statistics.median(r.cpu_us for r in runs):.0f} | "
            f"{sum(r.errors for r in runs)} | {'; '.join(exact[w])} |"
            for w, runs in results.items()
        ),
        "",
        f"Two workers: {ratio:.2f}x one worker (target >= 1.6x: "
        f"{'met' if ratio >= 1.6 else 'MISSED'}). {os.cpu_count()} CPUs, nothing pinned, wrk "
        f"(1 thread, {CONNECTIONS} connections) on the same cores; {args.rounds} x "
        f"{args.duration} s per shape, alternating; 1-minute load average "
        f"{', '.join(f'{x:.1f}' for x in loads)}. Server CPU us/req: user + system time of "
        "the server and all its workers over a run, divided by the requests wrk completed "
        "(the supervisor itself sleeps).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        (HERE / "WORKERS.md").write_text(
            "# --workers 2 against one worker (bench/serving/workers.py)\n\n" + text + "\n"
        )


if __name__ == "__main__":
    main()
