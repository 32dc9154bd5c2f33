"""Prometheus metrics of one server: its own registry, so two apps in one process never clash."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,  # noqa: F401  (re-exported for the /metrics route)
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "reprostack_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "reprostack_request_seconds",
            "request latency by endpoint and status",
            ["endpoint", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch = Histogram(
            "reprostack_batch_texts",
            "texts per forward pass of the inference worker",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue = Gauge("reprostack_queue_texts", "texts waiting for the inference worker", registry=self.registry)
        self.model = Gauge(
            "reprostack_model_info",
            "the model being served (value 1)",
            ["name", "version", "stage", "sha256"],
            registry=self.registry,
        )
        self.reload_failed = Gauge(
            "reprostack_reload_failed", "1 while the last registry reload failed", registry=self.registry
        )
        self._shown: tuple | None = None

    def show_model(self, info: dict, error: str | None) -> None:
        labels = (info["name"], info["version"], info["stage"], info["sha256"])
        if labels != self._shown:
            self.model.clear()
            self.model.labels(*labels).set(1)
            self._shown = labels
        self.reload_failed.set(1 if error else 0)

    def observe(self, endpoint: str, method: str, status: int, started: float) -> None:
        labels = (endpoint, method, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(time.perf_counter() - started)

    def render(self) -> bytes:
        return generate_latest(self.registry)
