"""Prometheus metrics of a server, in their own collector registry.

A registry per app (not the global default) lets tests build many apps in one process.
With ``--workers N`` the workers write their numbers to files in one shared directory
(prometheus_client's multiprocess mode, set up by :mod:`modelport.serving.workers`), and
any worker's /metrics answer is the aggregate of all of them: counters and histograms
summed, each gauge by the mode its meaning asks for (queue depth summed over live
workers, the monitor's gauges the most recent value any live worker set). Process numbers
(CPU, memory, open files) are per worker, labelled with its index and pid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from modelport.runtime.process_metrics import WorkerProcessCollector

if TYPE_CHECKING:
    from modelport.runtime.config import ServeConfig
    from modelport.services.access import AccessControl

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series only add noise to every scrape

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """The server's metrics; label children are cached because lookups sit on the hot path."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        #: the workers' shared directory (None: one process, numbers kept in memory)
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        #: read at scrape time, outside the shared files: added to the aggregate as well
        self._scrape_collectors: list[Collector] = [WorkerProcessCollector(multiprocess_dir)]
        self.registry.register(self._scrape_collectors[0])
        self.requests = Counter(
            "modelport_requests_total",
            "Prediction requests by model, version, protocol and HTTP status.",
            ["model", "version", "protocol", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelport_request_duration_seconds",
            "Prediction request latency, from routing to the encoded response.",
            ["model", "version", "protocol"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "modelport_batch_size",
            "Requests per model call made by the adaptive batcher.",
            ["model", "version"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "modelport_queue_depth",
            "Requests waiting for the batcher of a served version.",
            ["model", "version"],
            registry=self.registry,
            multiprocess_mode="livesum",  # each worker has its own queue: the total waits
        )
        self.load_seconds = Gauge(
            "modelport_model_load_seconds",
            "Seconds to fetch, verify and load a served version.",
            ["model", "version"],
            registry=self.registry,
            multiprocess_mode="livemax",  # the slowest worker's load is the one to watch
        )
        self.swaps = Counter(
            "modelport_alias_swaps_total",
            "Times a served alias or latest moved to another version without restart.",
            ["model", "pointer"],
            registry=self.registry,
        )
        self.deployment_requests = Counter(
            "modelport_deployment_requests_total",
            "Requests to a deployment by the arm (name:version) that answered, and HTTP status.",
            ["deployment", "arm", "status"],
            registry=self.registry,
        )
        self.deployment_latency = Histogram(
            "modelport_deployment_request_duration_seconds",
            "Latency of requests to a deployment, by the arm that answered.",
            ["deployment", "arm"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.shadow_requests = Counter(
            "modelport_shadow_requests_total",
            "Copies of a deployment's requests sent to a shadow, by outcome (ok or failed).",
            ["deployment", "shadow", "outcome"],
            registry=self.registry,
        )
        self.ood_scored_rows = Counter(
            "modelport_ood_scored_rows_total",
            "Rows given an out-of-distribution score (served versions with a profile).",
            ["model", "version"],
            registry=self.registry,
        )
        self.ood_rows = Counter(
            "modelport_ood_rows_total",
            "Rows whose out-of-distribution score is above --ood-threshold (flagged or rejected).",
            ["model", "version"],
            registry=self.registry,
        )
        self.worker_restarts = Counter(
            "modelport_worker_restarts",
            "Server worker processes that died and were started again by the supervisor.",
            registry=self.registry,
        )
        # A real counter (not read from the access control at scrape time) so that with
        # several workers the counts are summed like every other counter.
        self.auth_refused = Counter(
            "modelport_auth_refused",
            "Requests refused 401 or 403, by reason (missing, bad_key, forbidden, ...).",
            ["reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "modelport_rate_limited",
            "Requests answered 429, by limit (rate, concurrency, failed_auth).",
            ["limit"],
            registry=self.registry,
        )
        self.canary_percent = Gauge(
            "modelport_canary_candidate_percent",
            "Share of a deployment's traffic the canary candidate gets at its current step.",
            ["deployment", "stable", "candidate"],
            registry=self.registry,
            multiprocess_mode="livemostrecent",  # set by whichever worker judged last
        )
        self.canary_status = Gauge(
            "modelport_canary_status",
            "1 for the canary's current status (running, paused, promoted, rolled_back, "
            "aborted), 0 for the others.",
            ["deployment", "status"],
            registry=self.registry,
            multiprocess_mode="livemostrecent",
        )
        self.canary_step = Gauge(
            "modelport_canary_step",
            "Index of the canary's current step (0 first).",
            ["deployment"],
            registry=self.registry,
            multiprocess_mode="livemostrecent",
        )
        self._access: AccessControl | None = None
        self._synced_refused: dict[str, int] = {}
        self._synced_limited: dict[str, int] = {}
        self._request_children: dict[tuple[str, str, str, int], tuple[Counter, Histogram]] = {}
        self._deployment_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(
        self, model: str, version: str, protocol: str, status: int, seconds: float
    ) -> None:
        key = (model, version, protocol, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(model, version, protocol, str(status)),
                self.latency.labels(model, version, protocol),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def follow_queue(
        self, model: str, version: str, depth: Callable[[], int]
    ) -> Callable[[int], None] | None:
        """The queue-depth gauge of a served version: read from ``depth()`` at each scrape.

        Set per request (twice: queued, answered) it cost a small model's request about
        2%. With several workers the gauge must live in the shared files, so there the
        returned callback is the batcher's to call whenever the depth changes; in one
        process there is nothing to call (None).
        """
        gauge = self.queue_depth.labels(model, version)
        if self.multiprocess_dir is not None:
            return gauge.set
        gauge.set_function(depth)
        return None

    def observe_deployment(self, deployment: str, arm: str, status: int, seconds: float) -> None:
        """One request routed by ``deployment`` to ``arm`` (label children cached, as above)."""
        key = (deployment, arm, status)
        children = self._deployment_children.get(key)
        if children is None:
            children = (
                self.deployment_requests.labels(deployment, arm, str(status)),
                self.deployment_latency.labels(deployment, arm),
            )
            self._deployment_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def watch_access(self, access: AccessControl, config: ServeConfig) -> None:
        """Export the guard's counts (copied at each scrape and poll) and its limits."""
        self._access = access
        limits = _LimitsCollector(access, config)
        self.registry.register(limits)
        self._scrape_collectors.append(limits)

    def sync_access(self) -> None:
        """Add what the access control counted since the last call to the counters.

        Called at every scrape (this worker's numbers are then exact) and on every
        registry poll (so another worker's answer lags by one poll interval at most).
        """
        access = self._access
        if access is None:
            return
        _add_new(self.auth_refused, access.refused, self._synced_refused)
        _add_new(self.rate_limited, access.limited, self._synced_limited)

    def exposition(self) -> bytes:
        self.sync_access()
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        aggregate = CollectorRegistry()
        multiprocess.MultiProcessCollector(aggregate, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        for collector in self._scrape_collectors:
            aggregate.register(collector)
        return generate_latest(aggregate)


def _add_new(counter: Counter, counts: Mapping[str, int], synced: dict[str, int]) -> None:
    for label, count in counts.items():
        new = count - synced.get(label, 0)
        if new > 0:
            counter.labels(label).inc(new)
            synced[label] = count


class _LimitsCollector(Collector):
    """The configured limits: the same in every worker, read at scrape time."""

    def __init__(self, access: AccessControl, config: ServeConfig) -> None:
        self.access = access
        self.config = config

    def collect(self) -> Iterator[GaugeMetricFamily]:
        limits = GaugeMetricFamily(
            "modelport_limit", "Configured limits (0: none).", labels=["limit"]
        )
        rate = self.access.rates.rate if self.access.rates is not None else None
        limits.add_metric(["rate_per_second"], 0.0 if rate is None else rate.per_second)
        limits.add_metric(["rate_burst"], 0.0 if rate is None else rate.burst)
        limits.add_metric(["concurrency_per_credential"], float(self.config.max_concurrency))
        limits.add_metric(["request_timeout_seconds"], float(self.config.request_timeout))
        limits.add_metric(["rows_per_request"], float(self.config.max_rows))
        limits.add_metric(["body_bytes"], float(self.config.max_body_bytes))
        yield limits
