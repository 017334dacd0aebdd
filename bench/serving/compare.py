"""LR at 64 connections: this tree against an older one, interleaved, with the bare handler.

    git archive <commit> src | tar -x -C /tmp/baseline
    python bench/serving/compare.py --baseline /tmp/baseline/src [--rounds 3] [--duration 10]
        [--model lr|pipeline]

``--model pipeline`` serves run.py's ``pipeline`` case instead (StandardScaler on 16
numbers, OneHotEncoder on 4 text columns, LogisticRegression, fitted on a frame; one V1
record per request).

A regression of a few microseconds per request is smaller than what other work on a shared
machine does to req/s between two runs minutes apart. So this script serves the same LR
model from both trees (each registering it with its own code, in its own MODELPORT_HOME)
and the bare handler, one after the other in each round, with run.py's pinning and load,
and reports the server's CPU time per request split into the event-loop thread and the
others (batcher, log writer), which other load moves much less than req/s. Extra arguments
after ``--`` go to both servers (``-- --log-sample-rate 0``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from run import HERE, WrkRun, free_port, start, stop, wrk

REPO_SRC = HERE.parent.parent / "src"
_REGISTER = """
import json, sys
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
import modelport
from modelport.settings import Settings
X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
modelport.register(LogisticRegression(max_iter=1000).fit(X, y), "lr", sample=X,
                   settings=Settings(home=sys.argv[1], user="bench"))
print(json.dumps({"instances": [X[123].tolist()]}))
"""
_REGISTER_PIPELINE = """
import json, sys
import numpy as np, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
import modelport
from modelport.settings import Settings
X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
mixed = pd.DataFrame(X[:, :16], columns=[f"n{i}" for i in range(16)])
for j in range(4):  # as run.py's build_models: quintiles of the last four features
    edges = np.quantile(X[:, 16 + j], [0.2, 0.4, 0.6, 0.8])
    mixed[f"c{j}"] = np.asarray(list("abcde"), dtype=object)[np.digitize(X[:, 16 + j], edges)]
pipeline = make_pipeline(
    ColumnTransformer([
        ("num", StandardScaler(), [f"n{i}" for i in range(16)]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), [f"c{j}" for j in range(4)]),
    ]),
    LogisticRegression(max_iter=1000),
).fit(mixed, y)
modelport.register(pipeline, "lr", sample=mixed, settings=Settings(home=sys.argv[1], user="bench"))
row = {k: (v if isinstance(v, str) else float(v)) for k, v in mixed.iloc[123].to_dict().items()}
print(json.dumps({"instances": [row]}))
"""
_TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of each thread of ``pid``, by thread id."""
    seconds: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        seconds[task.name] = (int(fields[11]) + int(fields[12])) / _TICK
    return seconds


def one_run(
    cmd: list[str], env: dict[str, str], url: str, body: str, duration: int, log: Path
) -> tuple[WrkRun, float, float]:
    """(wrk's figures, loop-thread and other-thread CPU microseconds per request)."""
    process, _ = start(cmd, env, log)
    try:
        wrk(url, body, 8, 2)  # warm-up
        before = thread_cpu(process.pid)
        run = wrk(url, body, 64, duration)
        after = thread_cpu(process.pid)
    finally:
        stop(process)
    main = str(process.pid)
    spent = {tid: t - before.get(tid, 0.0) for tid, t in after.items()}
    loop = spent.get(main, 0.0)
    others = sum(t for tid, t in spent.items() if tid != main)
    n = max(run.requests, 1)
    return run, loop / n * 1e6, others / n * 1e6


def register_in(trees: dict[str, Path], script: str, prefix: str) -> tuple[dict[str, str], str]:
    """Register the model of ``script`` with each tree's own code in its own MODELPORT_HOME:
    (the homes by tag, the request body the script printed)."""
    homes: dict[str, str] = {}
    body = ""
    for tag, src in trees.items():
        homes[tag] = tempfile.mkdtemp(prefix=f"{prefix}-{tag}-")
        out = subprocess.run(
            [sys.executable, "-c", script, homes[tag]],
            env={**os.environ, "PYTHONPATH": str(src)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        body = out.strip().splitlines()[-1]
    return homes, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the older tree's src/")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--model", choices=("lr", "pipeline"), default="lr")
    parser.add_argument("server_args", nargs="*", help="after --: options for both servers")
    args = parser.parse_args()
    register = _REGISTER if args.model == "lr" else _REGISTER_PIPELINE

    trees = {"baseline": args.baseline.resolve(), "current": REPO_SRC.resolve()}
    homes, body = register_in(trees, register, "modelport-compare")
    logs = Path(tempfile.mkdtemp(prefix="modelport-compare-logs-"))
    results: dict[str, list[tuple[WrkRun, float, float]]] = {t: [] for t in ("bare", *trees)}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for tag in results:
            port = free_port()
            if tag == "bare":
                cmd = [
                    *("taskset", "-c", "0", sys.executable, "-m", "uvicorn", "bare_app:app"),
                    *("--app-dir", str(HERE), "--port", str(port), "--loop", "uvloop"),
                    *("--http", "httptools", "--no-access-log", "--log-level", "warning"),
                ]
                env = dict(os.environ)
                url = f"http://127.0.0.1:{port}/v1/models/bare:predict"
            else:
                cmd = [
                    *(
                        "taskset",
                        "-c",
                        "0",
                        sys.executable,
                        "-m",
                        "modelport.serving",
                        "--no-auth",
                        "lr",
                    ),
                    *("--port", str(port), *args.server_args),
                ]
                env = {**os.environ, "PYTHONPATH": str(trees[tag]), "MODELPORT_HOME": homes[tag]}
                url = f"http://127.0.0.1:{port}/v1/models/lr:predict"
            results[tag].append(one_run(cmd, env, url, body, args.duration, logs / f"{tag}.log"))
        loads.append(os.getloadavg()[0])

    print(
        f"{args.rounds} rounds x {args.duration} s, {args.model} at 64 connections; 1-minute load "
        f"average at start and after each round: {', '.join(f'{x:.1f}' for x in loads)}"
    )
    print("| server | req/s (median) | p99 ms | CPU us/req: loop | others | total |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    totals: dict[str, float] = {}
    for tag, runs in results.items():
        loop = statistics.median(r[1] for r in runs)
        others = statistics.median(r[2] for r in runs)
        totals[tag] = statistics.median(r[1] + r[2] for r in runs)
        print(
            f"| {tag} | {statistics.median(r[0].rps for r in runs):,.0f} | "
            f"{statistics.median(r[0].p99_ms for r in runs):.2f} | {loop:.1f} | {others:.1f} | "
            f"{totals[tag]:.1f} |"
        )
    for tag in trees:
        print(f"{tag}: bare's CPU per request is {totals['bare'] / totals[tag]:.0%} of its own")
    print(
        f"current - baseline: {totals['current'] - totals['baseline']:+.1f} us per request "
        f"({totals['current'] / totals['baseline'] - 1:+.1%})"
    )


if __name__ == "__main__":
    main()
