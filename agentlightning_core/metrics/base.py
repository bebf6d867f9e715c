"""The interface every metric sink implements, and helpers sinks share."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class RunInfo:
    """What a sink knows about the run it records.

    :param output_dir: the run's output directory (``metrics.jsonl``, ``result.json``); sinks
        that write files put them under it unless configured otherwise.
    :param name: a human name for the run (the output directory's name by default).
    :param config: the run's configuration (algorithm and its options, trainer settings, data
        sizes), JSON-compatible and free of secrets; sinks also get it through ``log_config``.
    """

    output_dir: Path
    name: str
    config: dict[str, Any] = field(default_factory=dict)


class MetricSink(ABC):
    """One destination for a run's metrics and configuration.

    Call order: ``open(run)`` once, then ``log_config`` and ``log_metrics`` any number of times,
    then ``close(error)`` once. Calls come from the trainer's event loop, one at a time; a sink
    should return quickly (buffer or hand off to its library's background writer). Any exception
    a sink raises is caught by :class:`~agentlightning_core.metrics.MetricSinks`: the sink is
    reported once and switched off, training goes on.
    """

    name: ClassVar[str] = "abstract"

    def open(self, run: RunInfo) -> None:
        """Start recording ``run`` (create the writer, the tracker's run). Import the tracker's
        library here, not at module import, so a missing library costs one warning."""

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Record the run's configuration (called right after ``open`` and whenever an algorithm
        adds to it with ``ctx.log_config``). Default: ignored."""

    @abstractmethod
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None, timestamp: float) -> None:
        """Record one ``ctx.log_metrics`` call: ``metrics`` as the algorithm gave them (may hold
        non-numbers and nested mappings; see :func:`numeric_items`), its ``step`` (``None`` when
        the algorithm gave none) and the wall-clock ``timestamp`` (epoch seconds)."""

    def close(self, error: BaseException | None = None) -> None:
        """Flush and finish; ``error`` is what ended training, if it failed."""


def flatten(mapping: Mapping[str, Any], sep: str = "/", prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a/b": 1}``: trackers store flat keys."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, sep, name))
        else:
            out[name] = value
    return out


def numeric_items(metrics: Mapping[str, Any]) -> Iterator[tuple[str, float]]:
    """The finite-or-not numbers among ``metrics`` (nested mappings flattened with ``/``) as
    floats; booleans count as 0/1, strings and lists are left to sinks that take text."""
    for key, value in flatten(metrics).items():
        if isinstance(value, bool):
            yield key, float(value)
        elif isinstance(value, (int, float)):
            yield key, float(value)
        elif hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
            try:
                number = value.item()
            except (TypeError, ValueError):
                continue
            if isinstance(number, (int, float)) and not isinstance(number, bool):
                yield key, float(number)


def is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))
