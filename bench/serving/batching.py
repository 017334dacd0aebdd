"""Where a batched model's time goes under load: batch sizes, threads, per-batch work.

    PYTHONPATH=src python bench/serving/batching.py [--model rf] [--duration 10] [--repeats 3]

Serves one of run.py's models pinned to CPU 0, drives single-row V1 JSON at 64 connections
with wrk on CPU 1, and reports per run: req/s; the batch sizes the batcher formed (the
server's ``modelport_batch_size`` histogram); per batch, the time to assemble the input,
to predict and to split and log (the Triton statistics of ``/v2/models/{name}/stats``);
the CPU time per request of the event-loop thread and of the other threads (the predict
thread, the log writer); and the in-process time of one model call on a batch of the mean
size formed. Extra server options after ``--``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from compare import thread_cpu
from run import batch_histogram, build_models, free_port, start, stop, wrk

TRITON_NS = 1e-9


def stats_of(url: str, name: str) -> dict[str, float]:
    doc = httpx.get(f"{url}/v2/models/{name}/stats").json()["model_stats"][0]
    inference = doc["inference_stats"]
    return {
        "batches": float(doc["execution_count"]),
        "rows": float(doc["inference_count"]),
        **{k: float(inference[k]["ns"]) for k in ("queue", "compute_input", "compute_infer")},
        "compute_output": float(inference["compute_output"]["ns"]),
        "requests": float(inference["success"]["count"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="rf")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="server options (after --)")
    args = parser.parse_args()

    import modelport
    from modelport.settings import Settings

    models = build_models()
    case = models[args.model]
    home = Path(tempfile.mkdtemp(prefix="modelport-batching-")) / "home"
    settings = Settings(home=home, user="bench")
    modelport.register(case.model, args.model, sample=case.train, settings=settings)
    env = {**os.environ, "MODELPORT_HOME": str(home)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = Path(tempfile.mkdtemp(prefix="modelport-batching-logs-"))
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "modelport.serving", "--no-auth"]
    server, _ = start([*cmd, args.model, "--port", str(port), *args.extra], env, logs / "s.log")
    endpoint = f"{url}/v1/models/{args.model}:predict"
    try:
        wrk(endpoint, case.body, 8, 2)
        for _ in range(args.repeats):
            hist0, stats0, cpu0 = (
                batch_histogram(url, args.model),
                stats_of(url, args.model),
                (thread_cpu(server.pid)),
            )
            run = wrk(endpoint, case.body, 64, args.duration)
            hist1, stats1, cpu1 = (
                batch_histogram(url, args.model),
                stats_of(url, args.model),
                (thread_cpu(server.pid)),
            )
            d = {k: stats1[k] - stats0[k] for k in stats1}
            hist = {k: hist1[k] - hist0.get(k, 0) for k in hist1}
            batches = max(d["batches"], 1)
            mean = d["rows"] / batches
            per_request = max(d["requests"], 1)
            # Triton charges each request of a batch the batch's time, so the totals divided
            # by the requests are the batch's times (weighted by its requests)
            assemble = d["compute_input"] * TRITON_NS / per_request * 1e6
            infer = d["compute_infer"] * TRITON_NS / per_request * 1e6
            output = d["compute_output"] * TRITON_NS / per_request * 1e6
            spent = {t: cpu1[t] - cpu0.get(t, 0.0) for t in cpu1}
            loop = spent.get(str(server.pid), 0.0) / max(run.requests, 1) * 1e6
            others = sum(v for t, v in spent.items() if t != str(server.pid))
            others_us = others / max(run.requests, 1) * 1e6
            size = max(round(mean), 1)
            batch = case.frame_rows(size)
            os.sched_setaffinity(0, {1})
            times = []
            for _ in range(200):
                t0 = time.perf_counter()
                case.model.predict_proba(batch)
                times.append(time.perf_counter() - t0)
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
            print(
                f"{args.model}: {run.rps:,.0f} req/s, p99 {run.p99_ms:.1f} ms; "
                f"{batches:.0f} batches, mean size {mean:.1f}, histogram "
                + ", ".join(f"<={k}: {v:.0f}" for k, v in hist.items() if v)
                + f"; per batch: assemble {assemble:.0f} us, predict {infer:.0f} us,"
                f" split+log {output:.0f} us; in-process predict_proba of {size} rows "
                f"{statistics.median(times) * 1e6:.0f} us (other CPU); CPU per request: loop "
                f"{loop:.0f} us, other threads {others_us:.0f} us"
            )
            sys.stdout.flush()
    finally:
        stop(server)


if __name__ == "__main__":
    main()
