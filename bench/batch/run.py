"""Batch scoring benchmark: modelport's engines against the script a user would write.

    python bench/batch/run.py --rows 10000000            # full size (slow)
    python bench/batch/run.py --rows 1000000 --no-spark  # quick check
    python bench/batch/run.py --models forest --no-spark --optimized  # + `modelport optimize`

Data: ``--rows`` x 20 make_classification-like float features plus an ``id``,
Parquet in row groups of 500,000. Models: LogisticRegression and
RandomForestClassifier(n_estimators=100, max_depth=10) trained on
make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0).

Every contender runs as its own Python process and is timed from start to exit
(imports and model loading included); peak memory is the largest sum of RSS over
the process and all its children (workers, Spark's JVM), sampled every 100 ms; PSS, so pages
forked workers share with their parent count once.
The naive baseline reads the whole file with pandas, calls ``model.predict`` on
the whole frame and writes ``id`` + ``prediction`` with ``to_parquet``; modelport
writes ``id``, ``prediction`` and the two probability columns.

``--optimized`` adds two contenders per model, made by the real command line before the
timed runs: ``auto``, the version ``modelport optimize --runtime auto --traffic batch
--register`` keeps (the original itself when no candidate beats it at 10,000-row batches),
and ``onnx``, the ONNX conversion forced with ``--runtime onnx``; both score through
``modelport.batch.score`` exactly like ``local``. The target: ``auto`` never slower than
``local`` (native).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = [f"f{i}" for i in range(20)]
CHUNK = 500_000

NAIVE = textwrap.dedent(
    """
    import sys, joblib, pandas as pd
    model = joblib.load(sys.argv[1])
    df = pd.read_parquet(sys.argv[2])
    df["prediction"] = model.predict(df[[f"f{i}" for i in range(20)]])
    df[["id", "prediction"]].to_parquet(sys.argv[3], index=False)
    """
)

MODELPORT = textwrap.dedent(
    """
    import json, sys
    from modelport.batch import score
    if __name__ == "__main__":
        kwargs = json.loads(sys.argv[4])
        s = score(sys.argv[1], sys.argv[2], sys.argv[3], keep=["id"], overwrite=True, **kwargs)
        print(json.dumps(s.to_dict()))
    """
)

SPARK = textwrap.dedent(
    """
    import json, os, sys
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from modelport.batch import score
    if __name__ == "__main__":
        spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
                 .config("spark.driver.memory", "1g").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        s = score(sys.argv[1], sys.argv[2], sys.argv[3], keep=["id"], overwrite=True,
                  engine="spark", spark=spark)
        print(json.dumps(s.to_dict()))
    """
)


def make_data(path: Path, rows: int) -> None:
    """make_classification-like features, written chunk by chunk (never all in memory)."""
    from sklearn.datasets import make_classification

    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        X, _ = make_classification(
            n_samples=n, n_features=20, n_informative=10, random_state=start // CHUNK + 1
        )
        table = pa.table(
            {"id": np.arange(start, start + n), **dict(zip(FEATURES, X.T, strict=True))}
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def train(workdir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Fit both models, save them for the naive script and register them with modelport.

    Returns the joblib paths and the registered ``NAME:N`` (pinned: an optimized version
    registered later becomes the name's latest)."""
    import joblib
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    import modelport
    from modelport.settings import Settings

    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    frame = pd.DataFrame(X, columns=FEATURES)
    models = {
        "logistic": LogisticRegression(max_iter=1000).fit(frame, y),
        "forest": RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0).fit(
            frame, y
        ),
    }
    settings = Settings(home=workdir / "home")
    paths, refs = {}, {}
    for name, model in models.items():
        paths[name] = workdir / f"{name}.joblib"
        joblib.dump(model, paths[name])
        version = modelport.register(
            model, f"bench-{name}", sample=frame.head(1000), settings=settings
        )
        refs[name] = f"{version.name}:{version.version}"
    return paths, refs


def optimized(ref: str, runtime: str, env: dict[str, str]) -> str:
    """The reference ``modelport optimize`` registers (or keeps) for batch traffic."""
    args = [sys.executable, "-m", "modelport", "optimize", ref]
    args += ["--runtime", runtime, "--traffic", "batch", "--register", "--json"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"optimize {ref} --runtime {runtime} failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    version = report.get("version") or report["source"]
    print(f"{ref} optimize --runtime {runtime}: {version} ({report['reason']})", flush=True)
    return str(version)


def _pss(process: psutil.Process) -> int:
    """Proportional set size: forked workers share pages with their parent, and RSS would
    count those once per process."""
    try:
        return int(process.memory_full_info().pss)
    except (psutil.Error, AttributeError):
        return 0


def measure(args: list[str], env: dict[str, str] | None = None) -> dict[str, float | str]:
    """Wall seconds and peak RSS (process tree) of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(_pss(p) for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{args[:3]} failed:\n{err[-3000:]}")
    return {"seconds": seconds, "peak_mb": peak / 2**20, "stdout": out.strip().splitlines()[-1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/modelport-bench"))
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--models", default="logistic,forest")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--optimized", action="store_true", help="also score what `modelport optimize` makes"
    )
    options = parser.parse_args()

    work = options.workdir
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"input-{options.rows}.parquet"
    t = time.perf_counter()
    make_data(data, options.rows)
    print(f"data: {data} ({options.rows:,} rows) in {time.perf_counter() - t:.0f}s", flush=True)
    models, registered = train(work)
    env = {**os.environ, "MODELPORT_HOME": str(work / "home"), "MODELPORT_TRUST_PICKLES": "0"}
    results = []
    for name in options.models.split(","):
        row: dict[str, object] = {"model": name, "rows": options.rows}
        naive = measure(
            [sys.executable, "-c", NAIVE, str(models[name]), str(data), str(work / "naive.parquet")]
        )
        row["naive"] = naive
        print(f"{name} naive: {naive}", flush=True)
        script = work / "modelport_job.py"
        script.write_text(MODELPORT)
        refs = {"local": registered[name]}
        if options.optimized:
            refs["auto"] = optimized(registered[name], "auto", env)
            refs["onnx"] = optimized(registered[name], "onnx", env)
        for who, ref in refs.items():
            args = [sys.executable, str(script), ref, str(data), str(work / f"{who}.parquet")]
            row[who] = measure([*args, "{}"], env)
            print(f"{name} {who} ({ref}): {row[who]}", flush=True)
        if not options.no_spark:
            spark_script = work / "spark_job.py"
            spark_script.write_text(SPARK)
            spark = measure(
                [
                    sys.executable,
                    str(spark_script),
                    f"bench-{name}",
                    str(data),
                    str(work / "spark.parquet"),
                ],
                env,
            )
            row["spark"] = spark
            print(f"{name} spark: {spark}", flush=True)
        results.append(row)
    print()
    columns = ("model", "contender", "seconds", "rows/s", "vs naive", "peak MB")
    print("{:10} {:10} {:>8} {:>10} {:>9} {:>8}".format(*columns))
    for row in results:
        base = options.rows / row["naive"]["seconds"]  # type: ignore[index]
        for who in ("naive", "local", "auto", "onnx", "spark"):
            if who in row:
                m = row[who]
                rate = options.rows / m["seconds"]  # type: ignore[index]
                print(
                    f"{row['model']:10} {who:10} {m['seconds']:8.1f} {rate:10,.0f} "  # type: ignore[index]
                    f"{rate / base:8.2f}x {m['peak_mb']:8.0f}"  # type: ignore[index]
                )
    if options.out:
        options.out.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
