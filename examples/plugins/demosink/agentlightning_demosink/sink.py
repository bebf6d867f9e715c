"""The ``demosink`` metric sink: every number a run logs as a CSV row, the config as flat JSON.

Replace the file writes with your tracker's client; import its library in ``open`` (not at module
import), so a missing library costs one warning instead of the run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from agentlightning_core.metrics import MetricSink, RunInfo, flatten, numeric_items


class DemosinkSink(MetricSink):
    """:param log_dir: where ``scalars.csv`` and ``config.json`` go (default: the run's output
    directory / ``demosink``)."""

    name = "demosink"

    def __init__(self, log_dir: str | Path | None = None) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self._file: IO[str] | None = None
        self._rows = 0

    def open(self, run: RunInfo) -> None:
        self.log_dir = self.log_dir or run.output_dir / "demosink"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._file = (self.log_dir / "scalars.csv").open("w", newline="", encoding="utf-8")
        csv.writer(self._file).writerow(["step", "key", "value"])
        self._file.flush()

    def log_config(self, config: Mapping[str, Any]) -> None:
        assert self.log_dir is not None, "open() comes first"
        flat = {key: str(value) for key, value in flatten(config).items()}
        (self.log_dir / "config.json").write_text(json.dumps(flat, indent=1), encoding="utf-8")

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None, timestamp: float) -> None:
        assert self._file is not None, "open() comes first"
        step = self._rows if step is None else step  # no step: the order of the calls
        self._rows += 1
        writer = csv.writer(self._file)
        for key, value in numeric_items(metrics):
            writer.writerow([step, key, repr(value)])
        self._file.flush()  # a full disk shows up here, as an error MetricSinks reports once

    def close(self, error: BaseException | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
