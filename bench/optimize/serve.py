"""Serving the reference RandomForest through scikit-learn vs the same forest as ONNX.

    python bench/optimize/serve.py [--duration 10] [--repeats 3]

One run, one machine, the machinery of bench/serving/run.py: the reference forest of
bench/serving (``RandomForestClassifier(n_estimators=100, max_depth=10)`` on
``make_classification(20000, 20, 10)``) is registered twice in a temporary MODELPORT_HOME,
as the scikit-learn version and converted by skl2onnx (``zipmap=False``) as an ONNX version.
Each is served alone (``taskset -c 0 python -m modelport.serving --no-auth <model>``) and
driven with single-row V1 JSON requests by wrk pinned to CPU 1, at 64 and 1 connections;
the bare Starlette handler of bench/serving is measured under the same pinning and load as
the limit. A server holding only the ONNX model is started ``--repeats`` times for its
start-to-ready and idle RSS, and its memory map is read to check that neither scikit-learn
nor scipy was loaded. Prints a table and writes RESULTS.md next to this file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "serving"))

from run import WrkRun, free_port, measure, rss_mb, start, stop, versions  # noqa: E402

CONNECTIONS = (64, 1)
ANALYSIS = "<!-- analysis: written by hand, kept by reruns -->"


def to_onnx(forest: Any, X: np.ndarray) -> Any:
    """The conversion under test: one function, so that ``modelport optimize`` can replace it."""
    import skl2onnx

    return skl2onnx.to_onnx(forest, X[:1].astype(np.float32), options={"zipmap": False})


def serve(name: str, env: dict[str, str], log: Path) -> tuple[Any, int, float]:
    """A server of ``name`` alone on CPU 0: (process, port, seconds to ready)."""
    port = free_port()
    command = ["taskset", "-c", "0", sys.executable, "-m", "modelport.serving", "--no-auth"]
    process, ready_s = start([*command, name, "--port", str(port)], env, log)
    return process, port, ready_s


def loaded_libraries(pid: int) -> list[str]:
    """Which of scikit-learn and scipy the process mapped (their compiled extensions)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [lib for lib in ("sklearn", "scipy") if f"/{lib}/" in maps]


def in_process_1row(predict: Any, X: np.ndarray) -> float:
    """Median seconds of a 1-row predict on CPU 0 (2,000 rows)."""
    os.sched_setaffinity(0, {0})
    times = []
    for i in range(2000):
        row = X[i % len(X)][None, :]
        t0 = time.perf_counter()
        predict(row)
        times.append(time.perf_counter() - t0)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return statistics.median(times)


def bare_limit(env: dict[str, str], body: str, args: argparse.Namespace, log: Path) -> WrkRun:
    port = free_port()
    bare, _ = start(
        [
            *("taskset", "-c", "0", sys.executable, "-m", "uvicorn", "bare_app:app"),
            *("--app-dir", str(HERE.parent / "serving"), "--port", str(port)),
            *("--loop", "uvloop", "--http", "httptools", "--no-access-log"),
            *("--log-level", "warning"),
        ],
        env,
        log,
    )
    runs = measure(
        f"http://127.0.0.1:{port}/v1/models/bare:predict",
        body,
        args.repeats,
        args.duration,
        (64,),
        pid=bare.pid,
    )
    stop(bare)
    return runs[64]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import onnxruntime as ort
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    import modelport
    from modelport.settings import Settings

    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    forest = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0).fit(X, y)
    proto = to_onnx(forest, X)
    home = Path(tempfile.mkdtemp(prefix="modelport-bench-")) / "home"
    settings = Settings(home=home, user="bench")
    modelport.register(forest, "rf", sample=X, settings=settings)
    modelport.register(proto, "rf-onnx", sample=X.astype(np.float32), settings=settings)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    agreement = float(
        np.mean(session.run(None, {"X": X.astype(np.float32)})[0] == forest.predict(X))
    )

    env = {**os.environ, "MODELPORT_HOME": str(home)}
    row = X[123]
    body = json.dumps({"instances": [row.tolist()]})
    logs = Path(tempfile.mkdtemp(prefix="modelport-bench-logs-"))
    loads = [os.getloadavg()[0]]

    bare = bare_limit(env, body, args, logs / "bare.log")
    loads.append(os.getloadavg()[0])

    # start-to-ready and idle RSS of a server holding only the ONNX model
    starts: list[tuple[float, float, list[str]]] = []
    for k in range(args.repeats):
        process, _, ready_s = serve("rf-onnx", env, logs / f"onnx-start-{k}.log")
        time.sleep(1)
        starts.append((ready_s, rss_mb(process.pid), loaded_libraries(process.pid)))
        stop(process)

    report: dict[str, dict[int, WrkRun]] = {}
    in_process: dict[str, float] = {}
    exit_codes: dict[str, int] = {}
    for name in ("rf", "rf-onnx"):
        process, port, _ = serve(name, env, logs / f"{name}.log")
        url = f"http://127.0.0.1:{port}/v1/models/{name}:predict"
        answer = httpx.post(url, content=body).json()["predictions"]
        expected = forest.predict(row[None, :]).tolist()
        assert answer == expected, f"{name}: served {answer}, in-process {expected}"
        if name == "rf":
            in_process[name] = in_process_1row(forest.predict, X)
        else:
            feed = X.astype(np.float32)
            in_process[name] = in_process_1row(lambda r: session.run(None, {"X": r}), feed)
        report[name] = measure(url, body, args.repeats, args.duration, CONNECTIONS, pid=process.pid)
        loads.append(os.getloadavg()[0])
        exit_codes[name] = stop(process)

    write_report(bare, report, in_process, starts, exit_codes, agreement, loads, args)


def write_report(
    bare: WrkRun,
    report: dict[str, dict[int, WrkRun]],
    in_process: dict[str, float],
    starts: list[tuple[float, float, list[str]]],
    exit_codes: dict[str, int],
    agreement: float,
    loads: list[float],
    args: argparse.Namespace,
) -> None:
    import onnxruntime
    import skl2onnx

    sk, ox = report["rf"], report["rf-onnx"]
    ready = statistics.median(s[0] for s in starts)
    idle = statistics.median(s[1] for s in starts)
    heavy = sorted({lib for s in starts for lib in s[2]})
    rows = [
        "| server | connections | req/s (median) | p50 ms | p99 ms | server CPU us/req | non-2xx |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| bare handler (limit) | 64 | {bare.rps:,.0f} | {bare.p50_ms:.2f} | "
        f"{bare.p99_ms:.2f} | {bare.cpu_us:.0f} | {bare.errors} |",
    ]
    for label, name in (("RF scikit-learn", "rf"), ("RF ONNX", "rf-onnx")):
        for c, r in report[name].items():
            rows.append(
                f"| {label} | {c} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
                f"{r.cpu_us:.0f} | {r.errors} |"
            )
    speedup = ox[64].rps / sk[64].rps
    checks = [
        (f"ONNX req/s >= 3x scikit-learn's at 64 connections ({speedup:.1f}x)", speedup >= 3),
        (f"ONNX p99 < 10 ms at 64 connections ({ox[64].p99_ms:.2f} ms)", ox[64].p99_ms < 10),
        (f"ONNX median < 1 ms at 1 connection ({ox[1].p50_ms:.2f} ms)", ox[1].p50_ms < 1),
        (f"ONNX-only server idle RSS < 150 MB ({idle:.0f} MB)", idle < 150),
        (f"ONNX-only server start-to-ready < 1.5 s ({ready:.2f} s)", ready < 1.5),
        (f"ONNX-only server maps neither scikit-learn nor scipy ({heavy or 'none'})", not heavy),
        ("exit code 0 on SIGTERM (both servers)", all(c == 0 for c in exit_codes.values())),
    ]
    text = "\n".join(
        [
            "# Serving the optimized forest: scikit-learn vs ONNX",
            "",
            f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
            f"({os.cpu_count()} CPUs; 1-minute load average at start, after bare, after each "
            f"served model: {', '.join(f'{x:.1f}' for x in loads)}); {versions()}, "
            f"onnxruntime {onnxruntime.__version__}, skl2onnx {skl2onnx.__version__}.",
            f"Server pinned to CPU 0, wrk (1 thread) to CPU 1; {args.repeats} x {args.duration} s "
            "per point, medians; single-row V1 JSON requests; each model served alone with "
            "default settings (access log, batching and prediction logging on, auth off).",
            f"The ONNX forest's labels equal scikit-learn's on {agreement:.2%} of the 20,000 "
            "training rows.",
            "",
            *rows,
            "",
            "| model | in-process 1-row predict (median) |",
            "| --- | ---: |",
            f"| RF scikit-learn `predict` | {in_process['rf'] * 1000:.3f} ms |",
            f"| RF ONNX `session.run` | {in_process['rf-onnx'] * 1000:.3f} ms |",
            "",
            f"Server holding only the ONNX model, {len(starts)} starts: start-to-ready "
            f"(process start to /v2/health/ready = 200) "
            f"{', '.join(f'{s[0]:.2f}' for s in starts)} s, median {ready:.2f} s; idle RSS "
            f"{', '.join(f'{s[1]:.0f}' for s in starts)} MB, median {idle:.0f} MB.",
            "",
            "| check | result |",
            "| --- | --- |",
            *(f"| {name} | {'met' if ok else 'MISSED'} |" for name, ok in checks),
            "",
        ]
    )
    print(text)
    path = HERE / "RESULTS.md"
    # the written analysis below the figures is kept across reruns
    kept = path.read_text().partition(ANALYSIS)[2] if path.exists() else ""
    path.write_text(text + ("\n" + ANALYSIS + kept if kept else ""))


if __name__ == "__main__":
    main()
