"""Benchmark: AWS Lambda cold start of the serverless handler, and its warm invocations.

    python bench/serving/serverless.py [--repeats 7] [--write]

Registers one ``LogisticRegression`` (``make_classification(20000, 20)``, as
bench/serving/startup.py) in a temporary ``MODELPORT_HOME``, then runs ``--repeats`` fresh
Python processes that each do what a new Lambda container does: import
``modelport.serving.serverless``, answer an API Gateway REST event (the first: the cold
start builds the app and loads and warms the model), then answer 200 more events (warm).
Each process reports, from its own clock:

* interpreter: process spawn to the first line of the script (the parent's clock);
* import: ``import modelport.serving.serverless`` (a Lambda's init phase if done there);
* the first event's container build: the app's modules (FastAPI, scikit-learn ...)
  imported, the registry opened, the model loaded and warmed;
* first answer: from before the import to the first event's response (the cold start:
  time from import to first answer);
* warm: the median and p99 of the next 200 events, in-process (no network: Lambda's
  own invoke overhead is not here).

Prints medians over the processes (``--write``: also into SERVERLESS.md next to this file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EVENT = ROOT / "tests" / "serving" / "events" / "api_gateway_rest_v1_predict.json"

CHILD = r"""
import time
t_start = time.perf_counter()
import json, sys
event = json.loads(open(sys.argv[1]).read())
event["path"] = "/v1/models/lr:predict"
event["body"] = json.dumps({"instances": [[0.1] * 20]})
class Context:
    function_name = "bench"
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self): return 30000
from modelport.serving import serverless
t_import = time.perf_counter()
built = serverless.container()  # what the first event does first
t_built = time.perf_counter()
first = serverless.handler(event, Context())
t_first = time.perf_counter()
assert first["statusCode"] == 200, first
warm = []
for _ in range(200):
    t0 = time.perf_counter()
    assert serverless.handler(event, Context())["statusCode"] == 200
    warm.append(time.perf_counter() - t0)
warm.sort()
serverless.container().close()
print(json.dumps({
    "import": t_import - t_start, "first": t_first - t_start,
    "build": t_built - t_import, "ready": built.start_seconds, "answer": t_first - t_built,
    "warm_median": warm[len(warm) // 2], "warm_p99": warm[int(len(warm) * 0.99)],
}))
"""


def register(home: Path) -> None:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    import modelport
    from modelport.settings import Settings

    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    modelport.register(model, "lr", sample=X, settings=Settings(home=home, user="bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="also write SERVERLESS.md here")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="modelport-lambda-")) / "home"
    register(home)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "MODELPORT_HOME": str(home),
        "MODELPORT_SERVERLESS__REFS": '["lr"]',
        "MODELPORT_SERVING__AUTH": "false",
        "MODELPORT_SERVING__ACCESS_LOG": "false",
    }
    load_before = os.getloadavg()[0]
    runs = []
    for _ in range(args.repeats):
        spawned = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(EVENT)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        total = time.perf_counter() - spawned
        run = json.loads(out.stdout.strip().splitlines()[-1])
        run["process"] = total
        runs.append(run)
    load_after = os.getloadavg()[0]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    rows = [
        ("import modelport.serving.serverless", "import", 1.0, "s"),
        ("first event: app stack imported, registry opened, model loaded", "build", 1.0, "s"),
        ("... of which: app built, model loaded and warmed", "ready", 1.0, "s"),
        ("first event: the answer once built", "answer", 1000.0, "ms"),
        ("**import to first answer (cold start)**", "first", 1.0, "s"),
        ("spawn to exit (cold start, 201 events, shutdown)", "process", 1.0, "s"),
        ("warm event, median", "warm_median", 1000.0, "ms"),
        ("warm event, p99", "warm_p99", 1000.0, "ms"),
    ]
    lines = [
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: "
        f"{args.repeats} fresh processes; 1-minute load average {load_before:.2f} before, "
        f"{load_after:.2f} after; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}.",
        "",
        "| what | median | fastest | slowest |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, key, scale, unit in rows:
        values = [r[key] * scale for r in runs]
        lines.append(
            f"| {label} | {statistics.median(values):.3f} {unit} | {min(values):.3f} {unit} "
            f"| {max(values):.3f} {unit} |"
        )
    print("\n".join(lines))
    print(f"cold start median {med('first'):.2f} s")
    if args.write:
        title = "# Serverless cold start (bench/serving/serverless.py)"
        (HERE / "SERVERLESS.md").write_text("\n".join([title, "", *lines, ""]))
    shutil.rmtree(home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
