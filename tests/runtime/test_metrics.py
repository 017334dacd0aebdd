"""The server's metrics object, without a server."""

from __future__ import annotations

from modelport.runtime.metrics import Metrics


def test_the_queue_depth_is_read_at_scrape_time_in_one_process() -> None:
    metrics = Metrics()
    depth = [3]
    assert metrics.follow_queue("lr", "1", lambda: depth[0]) is None  # nothing per request
    assert b'modelport_queue_depth{model="lr",version="1"} 3.0' in metrics.exposition()
    depth[0] = 0
    assert b'modelport_queue_depth{model="lr",version="1"} 0.0' in metrics.exposition()


def test_requests_are_counted_with_their_latency() -> None:
    metrics = Metrics()
    for status in (200, 200, 422):
        metrics.observe_request("lr", "1", "v1", status, 0.003)
    text = metrics.exposition().decode()
    assert 'modelport_requests_total{model="lr",protocol="v1",status="200",version="1"} 2.0' in text
    assert 'modelport_requests_total{model="lr",protocol="v1",status="422",version="1"} 1.0' in text
    count = 'modelport_request_duration_seconds_count{model="lr",protocol="v1",version="1"} 3.0'
    assert count in text
