"""The prediction log's cost through the whole app, in process: log on against off, paired.

    PYTHONPATH=src taskset -c 0 python bench/serving/log_app.py [--rounds 10]

64 concurrent clients post one-row V1 requests of the bench's LR straight into the ASGI app
(ood.py's Driver: no sockets, no wrk), access log off. Each round serves 8,192 requests
with the log on, then 8,192 with it off (the served version's writer detached: no ids, no
hand-over, no flushes), and reports the CPU time per request of the process (every thread,
the log writer's too) and of the event-loop thread alone; the median of the paired
differences is the log's cost. Run it against an older tree by putting that tree's src/ on
PYTHONPATH instead.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import orjson
from ood import Driver
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.reference import parse
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

CLIENTS = 64
REQUESTS = 8192


async def cpu_per_request(driver: Driver, body: bytes, total: int) -> tuple[float, float]:
    """(process, event-loop thread) CPU microseconds per request over ``total`` requests."""
    per_client = total // CLIENTS

    async def client() -> None:
        for _ in range(per_client):
            status = await driver.post("/v1/models/lr:predict", body)
            assert status == 200, status

    process, loop = time.process_time(), time.thread_time()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    n = per_client * CLIENTS
    return (time.process_time() - process) / n * 1e6, (time.thread_time() - loop) / n * 1e6


async def measure(rounds: int) -> None:
    settings = Settings(home=tempfile.mkdtemp(prefix="modelport-logapp-"), user="bench")
    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, random_state=0)
    modelport.register(
        LogisticRegression(max_iter=1000).fit(X, y), "lr", sample=X, settings=settings
    )
    body = orjson.dumps({"instances": [X[123].tolist()]})
    app = create_app(ServeConfig(auth=False, refs=("lr",), access_log=False), settings=settings)
    driver = Driver(app)
    await driver.start()
    served = app.state.pool.route(parse("lr"))
    writer = served.log_writer
    await cpu_per_request(driver, body, 4096)  # warm up
    on: list[tuple[float, float]] = []
    off: list[tuple[float, float]] = []
    for _ in range(rounds):
        served.log_writer = writer
        on.append(await cpu_per_request(driver, body, REQUESTS))
        served.log_writer = None
        off.append(await cpu_per_request(driver, body, REQUESTS))
    served.log_writer = writer
    await driver.stop()
    for name, runs in (("on", on), ("off", off)):
        print(
            f"log {name}: {statistics.median(p for p, _ in runs):.1f} us per request "
            f"(event loop {statistics.median(t for _, t in runs):.1f})"
        )
    process = statistics.median(a[0] - b[0] for a, b in zip(on, off, strict=True))
    loop = statistics.median(a[1] - b[1] for a, b in zip(on, off, strict=True))
    print(f"on - off, median of {rounds} pairs: {process:+.2f} us (event loop {loop:+.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    asyncio.run(measure(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
