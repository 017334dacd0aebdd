"""Prometheus metrics of one server process, in their own collector registry.

A registry per app (not the global default) lets tests build many apps in one process.
With ``--workers N`` each worker exposes its own numbers at /metrics; scrape each worker
or run one worker per container (the usual Kubernetes shape).
"""

from __future__ import annotations

from collections.abc import Iterator
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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from modelport.runtime.config import ServeConfig
    from modelport.services.access import AccessControl

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series only add noise to every scrape

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """The server's metrics; label children are cached because lookups sit on the hot path."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelport_requests_total",
            "Prediction requests by model, version, protocol and HTTP status.",
            ["model", "version", "protocol", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelport_request_duration_seconds",
            "Prediction request latency, from routing to the encoded response.",
            ["model", "protocol"],
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
        )
        self.load_seconds = Gauge(
            "modelport_model_load_seconds",
            "Seconds to fetch, verify and load a served version.",
            ["model", "version"],
            registry=self.registry,
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
        self._request_children: dict[tuple[str, str, str, int], Counter] = {}
        self._deployment_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._latency_children: dict[tuple[str, str], Histogram] = {}

    def observe_request(
        self, model: str, version: str, protocol: str, status: int, seconds: float
    ) -> None:
        key = (model, version, protocol, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self.requests.labels(model, version, protocol, str(status))
            self._request_children[key] = counter
        counter.inc()
        lkey = (model, protocol)
        histogram = self._latency_children.get(lkey)
        if histogram is None:
            histogram = self.latency.labels(model, protocol)
            self._latency_children[lkey] = histogram
        histogram.observe(seconds)

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
        """Export the guard's counts and limits, read at scrape time (nothing per request)."""
        self.registry.register(_AccessCollector(access, config))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _AccessCollector(Collector):
    """Refused and limited requests, and the limits themselves, from the access control."""

    def __init__(self, access: AccessControl, config: ServeConfig) -> None:
        self.access = access
        self.config = config

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        refused = CounterMetricFamily(
            "modelport_auth_refused",
            "Requests refused 401 or 403, by reason (missing, bad_key, forbidden, ...).",
            labels=["reason"],
        )
        for reason, count in sorted(self.access.refused.items()):
            refused.add_metric([reason], count)
        yield refused
        limited = CounterMetricFamily(
            "modelport_rate_limited",
            "Requests answered 429, by limit (rate, concurrency, failed_auth).",
            labels=["limit"],
        )
        for kind, count in sorted(self.access.limited.items()):
            limited.add_metric([kind], count)
        yield limited
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
