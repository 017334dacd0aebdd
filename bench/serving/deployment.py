"""LR behind a deployment against the same LR served directly, interleaved, at 64 connections.

    python bench/serving/deployment.py [--rounds 3] [--duration 10]

The deployment has two arms (lr:1=50, lr:2=50) with a sticky key (header X-User-Id, a random
one of 100,000 users per request) and a shadow (lr:3 on 50% of the requests). Target
(issue 10): at least 90% of the direct model's req/s, in the same run. Server pinned to CPU 0,
wrk to CPU 1, as in run.py; medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from run import WrkRun, free_port, start, stop, wrk

_SETUP = """
import json, sys
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
import modelport
from modelport.settings import Settings
settings = Settings(home=sys.argv[1], user="bench")
X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
for c in (1.0, 0.5, 0.1):
    modelport.register(LogisticRegression(C=c, max_iter=1000).fit(X, y), "lr", sample=X,
                       settings=settings)
modelport.deploy("checkout", {"lr:1": 50, "lr:2": 50}, sticky="header:X-User-Id",
                 shadows={"lr:3": 50}, settings=settings)
print(json.dumps({"instances": [X[123].tolist()]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="modelport-bench-deploy-")
    body = (
        subprocess.run(
            [sys.executable, "-c", _SETUP, home], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    logs = Path(tempfile.mkdtemp(prefix="modelport-bench-deploy-logs-"))
    env = {**os.environ, "MODELPORT_HOME": home}
    cases = {
        "direct lr:1": ("lr:1", "post.lua", ()),
        "deployment (2 arms, sticky, 50% shadow)": (
            "checkout",
            "post_sticky.lua",
            ("--deployment", "checkout"),
        ),
    }
    results: dict[str, list[WrkRun]] = {name: [] for name in cases}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, (target, script, extra) in cases.items():
            port = free_port()
            cmd = [
                *(
                    "taskset",
                    "-c",
                    "0",
                    sys.executable,
                    "-m",
                    "modelport.serving",
                    "--no-auth",
                    "lr:1",
                ),
                *extra,
                *("--port", str(port)),
            ]
            process, _ = start(cmd, env, logs / "server.log")
            try:
                url = f"http://127.0.0.1:{port}/v1/models/{target}:predict"
                wrk(url, body, 64, 2, script=script)  # warm-up
                results[name].append(wrk(url, body, 64, args.duration, script=script))
            finally:
                stop(process)
        loads.append(os.getloadavg()[0])
    print(
        f"{args.rounds} rounds x {args.duration} s at 64 connections; 1-minute load average: "
        + ", ".join(f"{x:.1f}" for x in loads)
    )
    print("| case | req/s (median) | p99 ms | non-2xx |")
    print("| --- | ---: | ---: | ---: |")
    medians = {}
    for name, runs in results.items():
        medians[name] = statistics.median(r.rps for r in runs)
        p99 = statistics.median(r.p99_ms for r in runs)
        print(f"| {name} | {medians[name]:,.0f} | {p99:.2f} | {sum(r.errors for r in runs)} |")
    direct, deployed = medians.values()
    verdict = "met" if deployed >= 0.9 * direct else "MISSED"
    print(f"deployment / direct: {deployed / direct:.0%} (target >= 90%: {verdict})")


if __name__ == "__main__":
    main()
