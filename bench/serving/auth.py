"""LR with authentication on (an API key, a rate limit too high to bite) against auth off.

    python bench/serving/auth.py [--rounds 3] [--duration 10]

Target (issue 11): auth on at least 95% of auth off, LogisticRegression at 64 connections,
in the same run. The two servers alternate, one round at a time, server pinned to CPU 0 and
wrk to CPU 1 (as in run.py); medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
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
from modelport.registry import Registry
from modelport.settings import Settings
settings = Settings(home=sys.argv[1], user="bench")
X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
modelport.register(LogisticRegression(max_iter=1000).fit(X, y), "lr", sample=X, settings=settings)
registry = Registry(settings)
_, key = registry.keys.create(["predict"])
registry.close()
print(json.dumps({"key": key, "body": json.dumps({"instances": [X[123].tolist()]})}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="modelport-bench-auth-")
    setup = subprocess.run(
        [sys.executable, "-c", _SETUP, home], capture_output=True, text=True, check=True
    )
    made = json.loads(setup.stdout.strip().splitlines()[-1])
    logs = Path(tempfile.mkdtemp(prefix="modelport-bench-auth-logs-"))
    env = {**os.environ, "MODELPORT_HOME": home}
    cases = {
        "auth off (--no-auth)": ("post.lua", ("--no-auth",)),
        "auth on (API key, --rate-limit 1000000/s)": (
            "post_key.lua",
            ("--auth", "--rate-limit", "1000000/s"),
        ),
    }
    results: dict[str, list[WrkRun]] = {name: [] for name in cases}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, (script, extra) in cases.items():
            port = free_port()
            cmd = [
                *("taskset", "-c", "0", sys.executable, "-m", "modelport.serving", "lr"),
                *extra,
                *("--port", str(port)),
            ]
            process, _ = start(cmd, env, logs / "server.log")
            try:
                url = f"http://127.0.0.1:{port}/v1/models/lr:predict"
                key = {"KEY": made["key"]}
                wrk(url, made["body"], 64, 2, script=script, env=key)  # warm-up
                results[name].append(
                    wrk(url, made["body"], 64, args.duration, script=script, env=key)
                )
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
    off, on = medians.values()
    verdict = "met" if on >= 0.95 * off else "MISSED"
    print(f"auth on / auth off: {on / off:.0%} (target >= 95%: {verdict})")


if __name__ == "__main__":
    main()
