"""The built-in sink: one JSON line per ``log_metrics`` call in ``<output_dir>/metrics.jsonl``,
and the run's configuration in ``<output_dir>/config.json``.

Each record is appended with its own ``open``/``close``, so the file is complete after every
call (a killed run loses nothing logged before) and an algorithm that rewrites the file on resume
(GRPO drops records logged after its checkpoint) is not fighting an open handle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from .base import MetricSink, RunInfo

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.json"


class JsonlSink(MetricSink):
    name: ClassVar[str] = "jsonl"

    def __init__(self, output_dir: str | Path | None = None) -> None:
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self._config: dict[str, Any] = {}

    def open(self, run: RunInfo) -> None:
        if self.output_dir is None:
            self.output_dir = run.output_dir

    def _dir(self) -> Path:
        if self.output_dir is None:
            raise RuntimeError("JsonlSink.open(run) was not called and no output_dir was given")
        self.output_dir.mkdir(parents=True, exist_ok=True)
        return self.output_dir

    def log_config(self, config: Mapping[str, Any]) -> None:
        self._config.update(config)
        path = self._dir() / CONFIG_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self._config, indent=2, default=str) + "\n")
        tmp.replace(path)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None, timestamp: float) -> None:
        record = {"time": timestamp, **({"step": step} if step is not None else {}), **dict(metrics)}
        with (self._dir() / METRICS_FILE).open("a") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
