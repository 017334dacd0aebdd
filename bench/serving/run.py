"""Benchmark of ``modelport serve`` against the limits measured in the same run.

    python bench/serving/run.py [--duration 10] [--repeats 3]

Trains the reference models, registers them in a temporary MODELPORT_HOME, serves them
pinned to CPU 0 (``taskset -c 0``) and drives single-row V1 JSON requests with wrk pinned
to CPU 1, at 1, 8 and 64 connections. Array-trained models (``lr``, ``rf``) get rows; the
models people deploy get named records: the same LogisticRegression trained on a 20-column
DataFrame (``lr-frame``), a Pipeline with categoricals (``pipeline``) and LightGBM on a
DataFrame (``lgbm``). The limits, measured on the same machine in the same run: a bare
Starlette-on-uvicorn handler (bare_app.py) under the same pinning and load, and each
model's in-process predict rate for 1 row and for batches of 64 (on what it was trained
on: an array or a DataFrame). Also prints the batch sizes formed at 64 connections per
model, and times the per-request validation of one 20-feature record in process. Prints a
table and writes RESULTS.md next to this file.
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
from typing import Any

import httpx
import numpy as np
import pandas as pd

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


def in_process(estimator: Any, rows: Any) -> tuple[float, float]:
    """(median seconds of a 1-row predict, rows/s predicting batches of 64), on CPU 0.

    ``rows`` is what the model was trained on (an array or a DataFrame); the rows are cut
    beforehand, so only the model's call is timed.
    """
    os.sched_setaffinity(0, {0})
    ones = [rows_of(rows, i, 1) for i in range(200)]
    times = []
    for i in range(2000):
        row = ones[i % len(ones)]
        t0 = time.perf_counter()
        estimator.predict(row)
        times.append(time.perf_counter() - t0)
    batches = [rows_of(rows, i, 64) for i in range(0, 64 * 200, 64)]
    estimator.predict(batches[0])
    t0 = time.perf_counter()
    for b in batches:
        estimator.predict(b)
    rate = 64 * len(batches) / (time.perf_counter() - t0)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return statistics.median(times), rate


def rows_of(rows: Any, start: int, n: int) -> Any:
    start %= len(rows) - n
    if isinstance(rows, pd.DataFrame):
        return rows.iloc[start : start + n].reset_index(drop=True)
    return rows[start : start + n]


@dataclass
class BenchCase:
    """One served model: the estimator, what it was trained on, and one V1 request."""

    model: Any
    train: Any
    body: str
    #: the row sent (for the answer check)
    row: Any

    def frame_rows(self, n: int) -> Any:
        return rows_of(self.train, 0, n)


def record(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    """Row ``i`` as a JSON client sends it: plain floats and strings."""
    return {
        str(k): (v if isinstance(v, str) else float(v)) for k, v in frame.iloc[i].to_dict().items()
    }


PIPE_LEVELS = ["a", "b", "c", "d", "e"]


def build_models() -> dict[str, BenchCase]:
    """The reference models on ``make_classification(20000, 20 features)``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)])
    mixed = pd.DataFrame(X[:, :16], columns=[f"n{i}" for i in range(16)])
    for j in range(4):  # four categorical columns: quintiles of the last four features
        edges = np.quantile(X[:, 16 + j], [0.2, 0.4, 0.6, 0.8])
        mixed[f"c{j}"] = np.asarray(PIPE_LEVELS, dtype=object)[np.digitize(X[:, 16 + j], edges)]
    numeric = [f"n{i}" for i in range(16)]
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore"), [f"c{j}" for j in range(4)]),
            ]
        ),
        LogisticRegression(max_iter=1000),
    )
    import lightgbm

    row = 123
    array_body = json.dumps({"instances": [X[row].tolist()]})
    return {
        "lr": BenchCase(LogisticRegression(max_iter=1000).fit(X, y), X, array_body, X[row]),
        "rf": BenchCase(
            RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0).fit(X, y),
            X,
            array_body,
            X[row],
        ),
        "lr-frame": BenchCase(
            LogisticRegression(max_iter=1000).fit(frame, y),
            frame,
            json.dumps({"instances": [record(frame, row)]}),
            frame.iloc[[row]],
        ),
        "pipeline": BenchCase(
            pipeline.fit(mixed, y),
            mixed,
            json.dumps({"instances": [record(mixed, row)]}),
            mixed.iloc[[row]],
        ),
        "lgbm": BenchCase(
            lightgbm.LGBMClassifier(n_estimators=100, verbose=-1).fit(frame, y),
            frame,
            json.dumps({"instances": [record(frame, row)]}),
            frame.iloc[[row]],
        ),
    }


def batch_histogram(url: str, name: str) -> dict[str, float]:
    """The server's batch-size histogram of ``name`` so far: requests per batch <= bucket."""
    text = httpx.get(f"{url}/metrics").text
    cumulative: dict[str, float] = {}
    pattern = re.compile(
        r'^modelport_batch_size_bucket\{(?=[^}]*model="' + re.escape(name) + r'")'
        r'[^}]*le="([^"]+)"[^}]*\} (\S+)$',
        re.MULTILINE,
    )
    for le, value in pattern.findall(text):
        cumulative[le.replace(".0", "")] = cumulative.get(le.replace(".0", ""), 0) + float(value)
    out: dict[str, float] = {}
    previous = 0.0
    for le, total in cumulative.items():
        out[le] = total - previous
        previous = total
    return out


def histogram_text(before: dict[str, float], after: dict[str, float]) -> str:
    counts = {k: after[k] - before.get(k, 0.0) for k in after}
    total = sum(counts.values()) or 1.0
    return ", ".join(
        f"{'>256' if k == '+Inf' else '<=' + k}: {v / total:.0%}"
        for k, v in counts.items()
        if v / total >= 0.005
    )


def validation_micro() -> dict[str, float]:
    """Median microseconds to validate one 20-feature record (and, for scale, the rest)."""
    from modelport.schema import infer_signature, validate
    from modelport.schema.validation import validate_columns

    rng = np.random.default_rng(0)
    names = [f"x{i}" for i in range(20)]
    numeric = infer_signature(pd.DataFrame(rng.normal(size=(200, 20)), columns=names))
    mixed_frame = pd.DataFrame(rng.normal(size=(200, 16)), columns=names[:16])
    for j in range(4):
        mixed_frame[f"c{j}"] = rng.choice(PIPE_LEVELS, 200)
    mixed = infer_signature(mixed_frame)
    array = infer_signature(rng.normal(size=(200, 20)))
    one = [{n: float(v) for n, v in zip(names, rng.normal(size=20), strict=True)}]
    one_mixed = [{**{n: float(one[0][n]) for n in names[:16]}, **{f"c{j}": "b" for j in range(4)}}]
    one_row = [list(one[0].values())]
    cases = {
        "record, 20 numbers (validate_columns)": (validate_columns, numeric, one),
        "record, 16 numbers + 4 categories (validate_columns)": (
            validate_columns,
            mixed,
            one_mixed,
        ),
        "row, array signature (validate_columns)": (validate_columns, array, one_row),
        "record, 20 numbers, into a DataFrame (validate)": (validate, numeric, one),
    }
    out = {}
    for label, (fn, sig, data) in cases.items():
        for _ in range(500):
            fn(sig, data)
        times = []
        for _ in range(5000):
            t0 = time.perf_counter()
            fn(sig, data)
            times.append(time.perf_counter() - t0)
        out[label] = statistics.median(times) * 1e6
    return out


def versions() -> str:
    import fastapi
    import lightgbm
    import sklearn
    import starlette
    import uvicorn

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    return (
        f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"LightGBM {lightgbm.__version__}, "
        f"NumPy {np.__version__}, FastAPI {fastapi.__version__}, "
        f"Starlette {starlette.__version__}, uvicorn {uvicorn.__version__}, wrk {wrk_version}"
    )


SERVED = ("lr", "rf", "lr-frame", "pipeline", "lgbm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import modelport
    from modelport.settings import Settings

    cases = build_models()
    home = Path(tempfile.mkdtemp(prefix="modelport-bench-")) / "home"
    settings = Settings(home=home, user="bench")
    for name, case in cases.items():
        modelport.register(case.model, name, sample=case.train, settings=settings)
    # the same LR saved with joblib: shows what skops' import costs at start-up
    modelport.register(
        cases["lr"].model,
        "lr-joblib",
        sample=cases["lr"].train,
        serialization="joblib",
        settings=settings,
    )
    limits: dict[str, tuple[float, float]] = {}
    histograms: dict[str, str] = {}
    loads: list[float] = [os.getloadavg()[0]]
    micro = validation_micro()

    env = {**os.environ, "MODELPORT_HOME": str(home)}
    python = [sys.executable]
    body = cases["lr"].body
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
    ready: list[float] = []
    rss: list[float] = []
    for name, extra_env in (("lr", {}), ("lr-joblib", {"MODELPORT_TRUST_PICKLES": "1"})):
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
                name,
                "--port",
                str(port),
            ],
            {**env, **extra_env},
            logs / f"small-{name}.log",
        )
        time.sleep(1)
        rss.append(rss_mb(small.pid))
        ready.append(ready_s)
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
            *SERVED,
            "--port",
            str(port),
        ],
        env,
        logs / "server.log",
    )
    base = f"http://127.0.0.1:{port}"
    for name in SERVED:
        case = cases[name]
        url = f"{base}/v1/models/{name}:predict"
        answer = httpx.post(url, content=case.body).json()["predictions"]
        expected = case.model.predict(case.row[None, :] if name in ("lr", "rf") else case.row)
        assert answer == expected.tolist(), f"{name}: served {answer}, in-process {expected}"
        limits[name] = in_process(case.model, case.train)  # right before: the same conditions
        runs = measure(url, case.body, args.repeats, args.duration, (1, 8), pid=server.pid)
        before = batch_histogram(base, name)
        runs |= measure(url, case.body, args.repeats, args.duration, (64,), pid=server.pid)
        histograms[name] = histogram_text(before, batch_histogram(base, name))
        report[name] = runs
        loads.append(os.getloadavg()[0])
    serve_rss = rss_mb(server.pid)
    exit_code = stop(server)

    # the prediction log's cost: LR alone at 64 connections, logging on vs off, interleaved
    pairs: dict[str, list[WrkRun]] = {"lr log on": [], "lr log off": []}
    servers = {}
    for label, extra in (("lr log on", []), ("lr log off", ["--log-sample-rate", "0"])):
        port = free_port()
        process, _ = start(
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
        servers[label] = (process, f"http://127.0.0.1:{port}/v1/models/lr:predict")
        wrk(servers[label][1], body, 8, 2)
    # one server at a time on CPU 0, alternating, so that both see the same machine
    for _ in range(args.repeats):
        for label, (process, url) in servers.items():
            report_run = measure(url, body, 1, args.duration, (64,), pid=process.pid)[64]
            pairs[label].append(report_run)
    for label, (process, _) in servers.items():
        stop(process)
        runs = pairs[label]
        report[label] = {
            64: WrkRun(
                statistics.median(r.rps for r in runs),
                statistics.median(r.p50_ms for r in runs),
                statistics.median(r.p99_ms for r in runs),
                sum(r.errors for r in runs),
                cpu_us=statistics.median(r.cpu_us for r in runs),
            )
        }

    write_report(
        report,
        limits,
        histograms,
        micro,
        (rss[0], rss[1]),
        serve_rss,
        (ready[0], ready[1]),
        exit_code,
        loads,
        args,
    )


def write_report(
    report: dict[str, dict[int, WrkRun]],
    limits: dict[str, tuple[float, float]],
    histograms: dict[str, str],
    micro: dict[str, float],
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
            if name in limits and c == 64:
                share = r.rps / limits[name][1]
                note = (
                    f"{r.rps / bare64:.0%} of bare, {share:.0%} of in-process batch-64 rows/s;"
                    f" server CPU per request {bare_cpu / r.cpu_us:.0%} of bare's"
                )
            if name in limits and c == 1:
                extra = r.p50_ms - limits[name][0] * 1000
                note = f"p50 {extra:+.2f} ms vs in-process 1-row (target <= +1 ms)"
            lines.append(
                f"| {name} | {c} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
                f"{r.cpu_us:.0f} | {r.errors} | {note} |"
            )
    lr, frame, pipe = report["lr"][64], report["lr-frame"][64], report["pipeline"][64]
    log_on, log_off = report["lr log on"][64], report["lr log off"][64]
    record_us = micro["record, 20 numbers (validate_columns)"]
    rf_cpu_rate = 1e6 / report["rf"][64].cpu_us  # what one core could answer at that cost

    def by_cpu(r: WrkRun) -> str:
        return f"by CPU per request {bare_cpu / r.cpu_us:.0%}"

    checks = [
        (
            f"LR-frame 64 conns >= 45% of bare req/s: {frame.rps / bare64:.0%} ({by_cpu(frame)})",
            frame.rps >= 0.45 * bare64,
        ),
        (
            f"LR-frame 64 conns >= 85% of array LR's req/s: {frame.rps / lr.rps:.0%} (by CPU "
            f"per request {lr.cpu_us / frame.cpu_us:.0%})",
            frame.rps >= 0.85 * lr.rps,
        ),
        (f"LR-frame 64 conns p99 < 15 ms: {frame.p99_ms:.1f} ms", frame.p99_ms < 15),
        (
            f"Pipeline 64 conns >= 30% of bare req/s: {pipe.rps / bare64:.0%} ({by_cpu(pipe)})",
            pipe.rps >= 0.30 * bare64,
        ),
        (
            f"RF 64 conns >= 50% of in-process batch-64 rows/s: "
            f"{report['rf'][64].rps / limits['rf'][1]:.0%} (by CPU per request "
            f"{rf_cpu_rate / limits['rf'][1]:.0%})",
            report["rf"][64].rps >= 0.50 * limits["rf"][1],
        ),
        (
            f"LR (array) 64 conns >= 60% of bare req/s: {lr.rps / bare64:.0%} ({by_cpu(lr)})",
            lr.rps >= 0.60 * bare64,
        ),
        (
            f"one 20-feature record validated in < 30 us (median): {record_us:.1f} us",
            record_us < 30,
        ),
        (
            f"logging costs <= 5% at 64 connections (LR, on vs off, interleaved): "
            f"{1 - log_on.rps / log_off.rps:.0%} by req/s, "
            f"{log_on.cpu_us / log_off.cpu_us - 1:.0%} by CPU per request",
            log_on.rps >= 0.95 * log_off.rps,
        ),
        *(
            (
                f"{n} 1 conn p50 <= in-process 1-row + 1 ms",
                report[n][1].p50_ms <= limits[n][0] * 1000 + 1,
            )
            for n in ("lr", "rf")
        ),
        ("idle RSS < 150 MB (one small model)", idle_rss < 150),
        ("start-to-ready < 2 s", ready_s < 2),
        ("exit code 0 on SIGTERM", exit_code == 0),
    ]
    limit_lines = [
        "| model | trained on | in-process 1-row predict (median) | in-process batch-64 rows/s "
        "| batch sizes formed at 64 connections (share of batches) |",
        "| --- | --- | ---: | ---: | --- |",
        *(
            f"| {n} | {'array' if n in ('lr', 'rf') else 'DataFrame'} | {s * 1000:.3f} ms | "
            f"{rate:,.0f} | {histograms.get(n, '')} |"
            for n, (s, rate) in limits.items()
        ),
    ]
    micro_lines = [
        "| per-request validation, in process | median us |",
        "| --- | ---: |",
        *(f"| {k} | {v:.1f} |" for k, v in micro.items()),
    ]
    text = "\n".join(
        [
            "# modelport serving benchmark",
            "",
            f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
            f"({os.cpu_count()} CPUs; 1-minute load average at start, after bare, "
            f"{', '.join(SERVED)}: {', '.join(f'{x:.1f}' for x in loads)}); {versions()}.",
            f"Server pinned to CPU 0, wrk (1 thread) to CPU 1; {args.repeats} x {args.duration} s "
            "per point, medians; single-row V1 JSON requests (rows for the array-trained "
            "models, named records for the others). Server CPU us/req: the server "
            "process's user + system time (every thread) over a run, divided by the requests "
            "wrk completed; other load on the machine moves it less than req/s. The log "
            "on/off pair is measured interleaved, one run of each in turn.",
            "",
            *lines,
            "",
            *limit_lines,
            "",
            *micro_lines,
            "",
            f"Idle RSS with one small model: {idle_rss:.0f} MB; RSS after the load runs "
            f"(all five models): {serve_rss:.0f} MB. Start-to-ready (process start to "
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
