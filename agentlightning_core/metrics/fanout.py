"""Picking the run's sinks by name, and sending every call to each of them in isolation.

A tracker is a convenience, never a reason to lose a training run: a sink that cannot be built
(its distribution or library is not installed) or that raises (a full disk, a locked database)
is reported with one warning — naming the sink, the error and the fix — and switched off for the
rest of the run. The other sinks and the training go on; ``ctx.metrics_history`` (and the
``AlgorithmResult``) still hold every record.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import PluginNotFoundError
from .base import MetricSink, RunInfo
from .jsonl import JsonlSink

if TYPE_CHECKING:
    from ..plugin_manager import AglPluginManager

log = logging.getLogger(__name__)

#: comma-separated sink names used when ``Trainer(metric_sinks=None)``
METRIC_SINKS_ENV = "AGL_METRIC_SINKS"

SinkSpec = str | Sequence["str | MetricSink"] | None


def _names(spec: SinkSpec) -> list[str | MetricSink]:
    if spec is None:
        spec = os.environ.get(METRIC_SINKS_ENV, "")
    if isinstance(spec, str):
        return [part.strip().lower() for part in spec.split(",") if part.strip()]
    out: list[str | MetricSink] = []
    for item in spec:
        if isinstance(item, MetricSink):
            out.append(item)
        elif isinstance(item, str):
            out.extend(_names(item))
        else:
            raise TypeError(
                f"metric_sinks: {item!r} is a {type(item).__name__}; give sink names "
                "(e.g. 'tensorboard') or MetricSink instances"
            )
    return out


def resolve_metric_sinks(
    spec: SinkSpec,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    manager: AglPluginManager | None = None,
) -> list[MetricSink]:
    """The sinks of a run: the built-in ``jsonl`` first, then those ``spec`` names.

    :param spec: names (a list, or one comma-separated string) and/or ``MetricSink`` instances;
        ``None``: ``AGL_METRIC_SINKS``. Duplicates are dropped.
    :param options: keyword arguments per sink name, passed to that sink's factory.
    :raises ValueError: when ``options`` names a sink that is not selected (a typo would
        otherwise be silently ignored).

    A name no installed plugin registers, or a factory that raises, costs one warning and that
    sink; never the run.
    """
    from ..plugin_manager import get_plugin_manager

    items = _names(spec)
    options = dict(options or {})
    wanted = {item for item in items if isinstance(item, str)} | {"jsonl"}
    unknown = sorted(set(options) - wanted)
    if unknown:
        raise ValueError(
            f"metric_sink_options names {', '.join(map(repr, unknown))}, which is not among the "
            f"selected metric sinks ({', '.join(sorted(wanted))}); add it to metric_sinks "
            f"(or {METRIC_SINKS_ENV}) or fix the name"
        )
    sinks: list[MetricSink] = []
    if not any(isinstance(item, JsonlSink) for item in items):
        sinks.append(JsonlSink(**dict(options.get("jsonl", {}))))
    seen = {"jsonl"} if sinks else set()
    manager = manager or get_plugin_manager()
    for item in items:
        if isinstance(item, MetricSink):
            sinks.append(item)
            continue
        if item in seen:
            continue
        seen.add(item)
        built = _build(item, dict(options.get(item, {})), manager)
        if built is not None:
            sinks.append(built)
    return sinks


def _build(name: str, options: dict[str, Any], manager: AglPluginManager) -> MetricSink | None:
    try:
        factory = manager.metric_sink_factory(name)
    except PluginNotFoundError as exc:
        log.warning("metric sink %r skipped, training goes on without it: %s", name, exc)
        return None
    try:
        sink = factory(**options)
    except Exception as exc:
        log.warning(
            "metric sink %r skipped, training goes on without it: it could not be created (%s: %s)",
            name,
            type(exc).__name__,
            exc,
        )
        return None
    if not isinstance(sink, MetricSink):
        log.warning(
            "metric sink %r skipped: its plugin returned a %s, not a MetricSink", name, type(sink).__name__
        )
        return None
    return sink


class MetricSinks:
    """Every call goes to every live sink; a sink that raises is reported once and switched off.

    :param run: what ``open`` is called with when a log call comes before any ``open`` (an
        algorithm run on a hand-made ``TrainerContext``, as in algorithm tests).
    """

    def __init__(self, sinks: Sequence[MetricSink], run: RunInfo | None = None) -> None:
        self.sinks = list(sinks)
        self.run = run
        #: sink name → the warning it was switched off with
        self.failures: dict[str, str] = {}
        self._opened = False
        self._closed = False

    @property
    def names(self) -> list[str]:
        """The sinks still on."""
        return [sink.name for sink in self.sinks]

    def _call(self, what: str, fn: Callable[[MetricSink], None]) -> None:
        for sink in list(self.sinks):
            try:
                fn(sink)
            except Exception as exc:
                self._switch_off(sink, what, exc)

    def _switch_off(self, sink: MetricSink, what: str, exc: BaseException) -> None:
        self.sinks.remove(sink)
        message = (
            f"metric sink {sink.name!r} failed to {what} ({type(exc).__name__}: {exc}); it is off for "
            "the rest of this run, training and the other sinks go on"
        )
        self.failures[sink.name] = message
        log.warning("%s", message)
        if what != "open":
            try:
                sink.close(exc if isinstance(exc, Exception) else None)
            except Exception:  # already reported; its close failing too says nothing new
                log.debug("metric sink %r also failed to close", sink.name, exc_info=True)

    def open(self, run: RunInfo) -> None:
        """Open every sink for ``run`` and give each the run's config."""
        if self._opened:
            return
        self.run = run
        self._opened = True
        self._call("open", lambda sink: sink.open(run))
        if run.config:
            self._call("log the config", lambda sink: sink.log_config(run.config))

    def _ensure_open(self) -> None:
        if not self._opened and self.run is not None:
            self.open(self.run)

    def log_config(self, config: Mapping[str, Any]) -> None:
        self._ensure_open()
        self._call("log the config", lambda sink: sink.log_config(config))

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None, timestamp: float) -> None:
        self._ensure_open()
        self._call("log metrics", lambda sink: sink.log_metrics(metrics, step, timestamp))

    def close(self, error: BaseException | None = None) -> None:
        """Close every sink (once); ``error`` is what ended training, if it failed."""
        if self._closed or not self._opened:
            return
        self._closed = True
        for sink in list(self.sinks):
            try:
                sink.close(error)
            except Exception as exc:
                self.sinks.remove(sink)
                message = f"metric sink {sink.name!r} failed to close ({type(exc).__name__}: {exc})"
                self.failures[sink.name] = message
                log.warning("%s; what it wrote before may be incomplete", message)
