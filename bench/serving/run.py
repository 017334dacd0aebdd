"""Benchmark of ``modelport serve`` against the limits measured in the same run.

    python bench/serving/run.py [--duration 10] [--repeats 3]

Trains the reference models, registers them in a temporary MODELPORT_HOME, serves them
pinned to CPU 0 (``taskset -c 0``) and drives single-row V1 JSON requests with wrk pinned
to CPU 1, at 1, 8 and 64 connections. The limits, measured on the same machine in the same
run: a bare Starlette-on-uvicorn handler (bare_app.py) under the same pinning and load,
and each model's in-process predict rate for 1 row and for batches of 64. Prints a table
and writes RESULTS.md next to this file.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
CONNECTIONS = (1, 8, 64)


@dataclass
class WrkRun:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    #: requests wrk completed in the run (for the CPU figure)
    requests: int = 0
    #: the server process's CPU time (all threads) per answered request, in microseconds:
    #: what a request costs, which other load on the machine disturbs less than req/s
    cpu_us: float = float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError("server not ready")


_STARTED: list[subprocess.Popen[bytes]] = []


@atexit.register
def _stop_leftovers() -> None:
    """A failed run must not leave servers behind."""
    for process in _STARTED:
        if process.poll() is None:
            process.kill()


def start(cmd: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], float]:
    port = int(cmd[cmd.index("--port") + 1])
    t0 = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    _STARTED.append(process)
    wait_ready(f"http://127.0.0.1:{port}", process)
    return process, time.perf_counter() - t0


def stop(process: subprocess.Popen[bytes]) -> int:
    process.terminate()
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the process so far (every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def wrk(
    url: str,
    body: str,
    connections: int,
    duration: int,
    *,
    script: str = "post.lua",
    env: dict[str, str] | None = None,
    cpus: str | None = "1",
) -> WrkRun:
    """wrk on ``cpus`` (None: any) with a Lua ``script`` of this folder (BODY, and ``env``,
    in its environment)."""
    pinning = ["taskset", "-c", cpus] if cpus is not None else []
    out = subprocess.run(
        [
            *pinning,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(HERE / script),
            url,
        ],
        env={**os.environ, "BODY": body, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    return WrkRun(
        rps,
        p50,
        p99,
        int(errors.group(1)) if errors else 0,
        requests=int(requests.group(1)) if requests else 0,
    )


def measure(
    url: str,
    body: str,
    repeats: int,
    duration: int,
    connections: tuple[int, ...] = CONNECTIONS,
    *,
    pid: int,
) -> dict[int, WrkRun]:
    """Median over repeats of req/s, p50, p99 and server CPU per request at each count."""
    wrk(url, body, 8, 2)  # warm-up
    results: dict[int, WrkRun] = {}
    for c in connections:
        runs = []
        for _ in range(repeats):
            before = cpu_seconds(pid)
            run = wrk(url, body, c, duration)
            spent = cpu_seconds(pid) - before
            run.cpu_us = spent / run.requests * 1e6 if run.requests else float("nan")
            runs.append(run)
        results[c] = WrkRun(
            statistics.median(r.rps for r in runs),
            statistics.median(r.p50_ms for r in runs),
            statistics.median(r.p99_ms for r in runs),
            sum(r.errors for r in runs),
            cpu_us=statistics.median(r.cpu_us for r in runs),
        )
    return results


def in_process(estimator: object, X: np.ndarray) -> tuple[float, float]:
    """(median seconds of a 1-row predict, rows/s predicting batches of 64), on CPU 0."""
    os.sched_setaffinity(0, {0})
    one = X[:1]
    times = []
    for i in range(2000):
        row = X[i % len(X)][None, :]
        t0 = time.perf_counter()
        estimator.predict(row)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - t0)
    estimator.predict(one)  # type: ignore[attr-defined]
    batches = [X[i : i + 64] for i in range(0, 64 * 200, 64)]
    t0 = time.perf_counter()
    for b in batches:
        estimator.predict(b)  # type: ignore[attr-defined]
    rate = 64 * len(batches) / (time.perf_counter() - t0)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return statistics.median(times), rate


def versions() -> str:
    import fastapi
    import sklearn
    import starlette
    import uvicorn

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    return (
        f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"NumPy {np.__version__}, FastAPI {fastapi.__version__}, "
        f"Starlette {starlette.__version__}, uvicorn {uvicorn.__version__}, wrk {wrk_version}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    import modelport
    from modelport.settings import Settings

    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    models = {
        "lr": LogisticRegression(max_iter=1000).fit(X, y),
        "rf": RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0).fit(X, y),
    }
    home = Path(tempfile.mkdtemp(prefix="modelport-bench-")) / "home"
    settings = Settings(home=home, user="bench")
    for name, model in models.items():
        modelport.register(model, name, sample=X, settings=settings)
    # the same LR saved with joblib: shows what skops' import costs at start-up
    modelport.register(
        models["lr"], "lr-joblib", sample=X, serialization="joblib", settings=settings
    )
    limits: dict[str, tuple[float, float]] = {}
    loads: list[float] = [os.getloadavg()[0]]

    env = {**os.environ, "MODELPORT_HOME": str(home)}
    python = [sys.executable]
    row = X[123]
    body = json.dumps({"instances": [row.tolist()]})
    logs = Path(tempfile.mkdtemp(prefix="modelport-bench-logs-"))
    report: dict[str, dict[int, WrkRun]] = {}

    # the limit: a bare Starlette handler, same pinning and load
    port = free_port()
    bare, _ = start(
        [
            "taskset",
            "-c",
            "0",
            *python,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--app-dir",
            str(HERE),
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env,
        logs / "bare.log",
    )
    report["bare"] = measure(
        f"http://127.0.0.1:{port}/v1/models/bare:predict",
        body,
        args.repeats,
        args.duration,
        pid=bare.pid,
    )
    loads.append(os.getloadavg()[0])
    stop(bare)

    # idle RSS and start-to-ready with one small model
    port = free_port()
    small, ready_s = start(
        [
            "taskset",
            "-c",
            "0",
            *python,
            "-m",
            "modelport.serving",
            "--no-auth",
            "lr",
            "--port",
            str(port),
        ],
        env,
        logs / "small.log",
    )
    time.sleep(1)
    idle_rss = rss_mb(small.pid)
    stop(small)
    port = free_port()
    small, joblib_ready_s = start(
        [
            "taskset",
            "-c",
            "0",
            *python,
            "-m",
            "modelport.serving",
            "--no-auth",
            "lr-joblib",
            "--port",
            str(port),
        ],
        {**env, "MODELPORT_TRUST_PICKLES": "1"},
        logs / "small-joblib.log",
    )
    time.sleep(1)
    joblib_rss = rss_mb(small.pid)
    stop(small)

    port = free_port()
    server, _ = start(
        [
            "taskset",
            "-c",
            "0",
            *python,
            "-m",
            "modelport.serving",
            "--no-auth",
            "lr",
            "rf",
            "--port",
            str(port),
        ],
        env,
        logs / "server.log",
    )
    for name, model in models.items():
        url = f"http://127.0.0.1:{port}/v1/models/{name}:predict"
        answer = httpx.post(url, content=body).json()["predictions"]
        expected = model.predict(row[None, :]).tolist()
        assert answer == expected, f"{name}: served {answer}, in-process {expected}"
        limits[name] = in_process(model, X)  # right before: the same machine conditions
        report[name] = measure(url, body, args.repeats, args.duration, pid=server.pid)
        loads.append(os.getloadavg()[0])
    serve_rss = rss_mb(server.pid)
    exit_code = stop(server)

    # the prediction log's cost: LR alone at 64 connections, logging on vs off
    for label, extra in (("lr log on", []), ("lr log off", ["--log-sample-rate", "0"])):
        port = free_port()
        server, _ = start(
            [
                "taskset",
                "-c",
                "0",
                *python,
                "-m",
                "modelport.serving",
                "--no-auth",
                "lr",
                "--port",
                str(port),
                *extra,
            ],
            env,
            logs / f"{label.replace(' ', '-')}.log",
        )
        url = f"http://127.0.0.1:{port}/v1/models/lr:predict"
        report[label] = measure(url, body, args.repeats, args.duration, (64,), pid=server.pid)
        stop(server)

    write_report(
        report,
        limits,
        (idle_rss, joblib_rss),
        serve_rss,
        (ready_s, joblib_ready_s),
        exit_code,
        loads,
        args,
    )


def write_report(
    report: dict[str, dict[int, WrkRun]],
    limits: dict[str, tuple[float, float]],
    idle: tuple[float, float],
    serve_rss: float,
    ready: tuple[float, float],
    exit_code: int,
    loads: list[float],
    args: argparse.Namespace,
) -> None:
    bare64 = report["bare"][64].rps
    bare_cpu = report["bare"][64].cpu_us
    (idle_rss, joblib_rss), (ready_s, joblib_ready_s) = idle, ready
    lines = [
        "| target | connections | req/s (median) | p50 ms | p99 ms | server CPU us/req | "
        "non-2xx | vs limit |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, runs in report.items():
        for c, r in runs.items():
            note = ""
            if name != "bare" and c == 64:
                if name == "lr":
                    note = (
                        f"{r.rps / bare64:.0%} of bare (target >= 55%); server CPU per "
                        f"request {bare_cpu / r.cpu_us:.0%} of bare's"
                    )
                if name == "rf":
                    share = r.rps / limits["rf"][1]
                    note = f"{share:.0%} of in-process batch-64 rows/s (target >= 45%)"
            if name != "bare" and c == 1:
                extra = r.p50_ms - limits[name][0] * 1000
                note = f"p50 {extra:+.2f} ms vs in-process 1-row (target <= +1 ms)"
            lines.append(
                f"| {name} | {c} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
                f"{r.cpu_us:.0f} | {r.errors} | {note} |"
            )
    checks = [
        ("LR 64 conns >= 55% of bare req/s", report["lr"][64].rps >= 0.55 * bare64),
        ("LR 64 conns p99 < 12 ms", report["lr"][64].p99_ms < 12),
        (
            "RF 64 conns >= 45% of in-process batch-64 rows/s",
            report["rf"][64].rps >= 0.45 * limits["rf"][1],
        ),
        *(
            (
                f"{n.upper()} 1 conn p50 <= in-process 1-row + 1 ms",
                report[n][1].p50_ms <= limits[n][0] * 1000 + 1,
            )
            for n in ("lr", "rf")
        ),
        (
            f"logging on >= 90% of logging off (LR, 64 conns): "
            f"{report['lr log on'][64].rps / report['lr log off'][64].rps:.0%}",
            report["lr log on"][64].rps >= 0.9 * report["lr log off"][64].rps,
        ),
        ("idle RSS < 150 MB (one small model)", idle_rss < 150),
        ("start-to-ready < 2 s", ready_s < 2),
        ("exit code 0 on SIGTERM", exit_code == 0),
    ]
    limit_lines = [
        "| model | in-process 1-row predict (median) | in-process batch-64 rows/s |",
        "| --- | ---: | ---: |",
        *(f"| {n} | {s * 1000:.3f} ms | {rate:,.0f} |" for n, (s, rate) in limits.items()),
    ]
    text = "\n".join(
        [
            "# modelport serving benchmark",
            "",
            f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
            f"({os.cpu_count()} CPUs; 1-minute load average at start, after bare, lr, rf: "
            f"{', '.join(f'{x:.1f}' for x in loads)}); {versions()}.",
            f"Server pinned to CPU 0, wrk (1 thread) to CPU 1; {args.repeats} x {args.duration} s "
            "per point, medians; single-row V1 JSON requests. Server CPU us/req: the server "
            "process's user + system time (every thread) over a run, divided by the requests "
            "wrk completed; other load on the machine moves it less than req/s.",
            "",
            *lines,
            "",
            *limit_lines,
            "",
            f"Idle RSS with one small model: {idle_rss:.0f} MB; RSS after the load runs "
            f"(LR + RF): {serve_rss:.0f} MB. Start-to-ready (process start to "
            f"/v2/health/ready = 200): {ready_s:.2f} s. Exit code after SIGTERM: {exit_code}.",
            f"The same LR saved with joblib (no skops import; MODELPORT_TRUST_PICKLES=1): "
            f"idle RSS {joblib_rss:.0f} MB, start-to-ready {joblib_ready_s:.2f} s.",
            "",
            "| check | result |",
            "| --- | --- |",
            *(f"| {name} | {'met' if ok else 'MISSED'} |" for name, ok in checks),
            "",
        ]
    )
    print(text)
    (HERE / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
