"""A few Prometheus metrics, written in the text exposition format without a client library."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from translator.service.batcher import BatchStats
    from translator.service.session_relay import SessionRelay
    from translator.service.shared_cache import SharedCache


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help, labels
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def render(self) -> list[str]:
        raise NotImplementedError

    def _samples(self, values: dict[tuple[str, ...], float]) -> list[str]:
        return [
            *self.header(),
            *(f"{self.name}{_labels(self.label_names, k)} {v:g}" for k, v in sorted(values.items())),
        ]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        super().__init__(name, help, labels)
        self._values: dict[tuple[str, ...], float] = {} if labels else {(): 0.0}

    def inc(self, amount: float = 1.0, *labels: str) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        with self._lock:
            values = dict(self._values)
        return self._samples(values)


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help: str, func: Callable[[], float] | None = None) -> None:
        super().__init__(name, help)
        self._value = 0.0
        self._func = func

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self._value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.inc(-amount)

    def value(self) -> float:
        return self._func() if self._func is not None else self._value

    def render(self) -> list[str]:
        return [*self.header(), f"{self.name} {self.value():g}"]


class CounterFunc(Gauge):
    """A counter whose value another object keeps (e.g. the cache's hit count)."""

    kind = "counter"


class CounterTable(_Metric):
    """A labelled counter whose values another object keeps: ``func`` returns them by label values."""

    kind = "counter"

    def __init__(
        self, name: str, help: str, labels: tuple[str, ...], func: Callable[[], dict[tuple[str, ...], float]]
    ) -> None:
        super().__init__(name, help, labels)
        self._func = func

    def value(self, *labels: str) -> float:
        return self._func().get(labels, 0.0)

    def render(self) -> list[str]:
        return self._samples(self._func())


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help: str, buckets: Iterable[float], labels: tuple[str, ...] = ()) -> None:
        super().__init__(name, help, labels)
        self.buckets = sorted(buckets)
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts, total = self._series.setdefault(labels, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            total[0] += value

    def count(self, *labels: str) -> int:
        series = self._series.get(labels)
        return sum(series[0]) if series else 0

    def render(self) -> list[str]:
        lines = self.header()
        with self._lock:
            series = sorted((k, (list(c), s[0])) for k, (c, s) in self._series.items())
        for labels, (counts, total) in series:
            names = (*self.label_names, "le")
            running = 0
            for bound, count in zip([*self.buckets, float("inf")], counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f"{self.name}_bucket{_labels(names, (*labels, le))} {running}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, labels)} {total:g}")
            lines.append(f"{self.name}_count{_labels(self.label_names, labels)} {running}")
        return lines


# Why the micro-batchers took requests out of their queues before the model saw them (BatchStats fields).
DROP_REASONS = ("shed", "superseded", "cancelled")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class Metrics:
    """The service's metrics, rendered at ``/metrics``."""

    def __init__(
        self,
        cache_hits: Callable[[], float],
        cache_misses: Callable[[], float],
        cache_entries: Callable[[], float] = lambda: 0,
        batch_stats: Callable[[], Iterable[BatchStats]] = lambda: (),
    ) -> None:
        self.connections_active = Gauge("translator_connections_active", "Open WebSocket connections.")
        self.connections_total = Counter("translator_connections_total", "WebSocket connections accepted.")
        self.messages_received = Counter(
            "translator_messages_received_total", "WebSocket messages received, by type.", ("type",)
        )
        self.messages_sent = Counter("translator_messages_sent_total", "WebSocket messages sent, by type.", ("type",))
        self.translations = Counter(
            "translator_translations_total", "Texts translated by the model, by kind.", ("kind",)
        )
        self.batch_size = Histogram("translator_batch_size", "Texts per model call.", BATCH_BUCKETS)
        self.model_seconds = Histogram(
            "translator_model_call_seconds", "Duration of model calls.", LATENCY_BUCKETS, ("kind",)
        )
        self.final_latency = Histogram(
            "translator_final_latency_seconds",
            "From the input that completed a sentence to its final being sent.",
            LATENCY_BUCKETS,
        )
        self.rest_requests = Counter(
            "translator_rest_requests_total", "REST /translate requests, by status.", ("status",)
        )
        self.errors = Counter("translator_errors_total", "Errors sent to clients, by code.", ("code",))
        self.cache_hits = CounterFunc("translator_cache_hits_total", "Phrase cache hits.", cache_hits)
        self.cache_misses = CounterFunc("translator_cache_misses_total", "Phrase cache misses.", cache_misses)
        self.tasks = Gauge("translator_asyncio_tasks", "Tasks alive in the server's event loop.", _task_count)
        self.resident = Gauge("translator_process_resident_bytes", "Resident memory of the server process.", _rss)
        self.cpu = CounterFunc(
            "translator_process_cpu_seconds_total", "CPU time of the server process, user and system.", _cpu_seconds
        )
        self.cache_entries = Gauge("translator_cache_entries", "Translations in the phrase cache.", cache_entries)
        self.requests_dropped = CounterTable(
            "translator_requests_dropped_total",
            "Requests the micro-batchers dropped before the model saw them, by reason: shed (overload; "
            "partials only), superseded (a newer partial of the same stream), cancelled (the caller went away).",
            ("reason",),
            partial(_dropped, batch_stats),
        )

    def add_shared_cache(self, cache: SharedCache) -> None:
        """The shared (Redis) cache's metrics, shown only where one is configured."""
        self._add_component(
            "shared_cache",
            cache,
            ("up", "1 while the shared cache answers, 0 after a failure."),
            hits="Shared cache hits (after a phrase cache miss).",
            misses="Shared cache misses, lookups skipped while down included.",
            errors="Failed or timed-out shared cache calls.",
            writes_dropped="Translations not written to the shared cache (down, failed or backed up).",
        )

    def add_session_relay(self, relay: SessionRelay) -> None:
        """Sessions relayed between replicas through Redis, shown only where configured."""
        self._add_component(
            "session_relay",
            relay,
            ("listening", "1 while subscribed to other replicas' sessions."),
            sent="Session messages published for other replicas.",
            received="Session messages from other replicas handed to local viewers.",
            dropped="Session messages not published (Redis down, slow or backed up).",
        )

    def _add_component(self, prefix: str, source: object, up: tuple[str, str], **counters: str) -> None:
        """``translator_<prefix>_up`` from the boolean attribute ``up[0]`` of ``source``, and
        ``translator_<prefix>_<attr>_total`` for each counter attribute it keeps."""
        attr, help = up
        self.__dict__[f"{prefix}_up"] = Gauge(f"translator_{prefix}_up", help, partial(getattr, source, attr))
        for attr, help in counters.items():
            metric = CounterFunc(f"translator_{prefix}_{attr}_total", help, partial(getattr, source, attr))
            self.__dict__[f"{prefix}_{attr}"] = metric

    def add(self, *metrics: _Metric) -> None:
        """Metrics another layer keeps (e.g. the server's resumable streams), rendered with these."""
        for metric in metrics:
            self.__dict__[metric.name] = metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in vars(self).values():
            if isinstance(metric, _Metric):
                lines.extend(metric.render())
        return "\n".join(lines) + "\n"


def _dropped(batch_stats: Callable[[], Iterable[BatchStats]]) -> dict[tuple[str, ...], float]:
    totals = dict.fromkeys(DROP_REASONS, 0)
    for stats in batch_stats():
        for reason in DROP_REASONS:
            totals[reason] += getattr(stats, reason)
    return {(reason,): float(count) for reason, count in totals.items()}


def _task_count() -> float:
    import asyncio

    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # no running loop (rendered outside the server)
        return 0.0


def _cpu_seconds() -> float:
    import os

    times = os.times()
    return times.user + times.system


def _rss() -> float:
    import os
    import resource

    try:
        with open("/proc/self/statm") as statm:
            return float(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except OSError:
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
