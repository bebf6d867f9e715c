"""``TensorBoardSink``: scalars per step, text for the config and for non-numeric values.

Events are written with tensorboardX's synchronous ``EventsWriter``, not its ``SummaryWriter``:
the latter hands events to a writer thread through a bounded queue, and when that thread dies
(a full disk) the error is lost and the eleventh ``put`` blocks training forever. Here every
``log_metrics`` call writes and flushes before it returns, so a write error surfaces where the
trainer reports it, and a run killed a second later still shows its last step. Metrics come
once per training step; the flush costs well under a millisecond of it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from agentlightning_core.metrics import MetricSink, RunInfo, flatten, numeric_items

#: where event files go when neither ``log_dir`` nor this variable is set: ``<output_dir>/tensorboard``
LOG_DIR_ENV = "AGL_TENSORBOARD_DIR"


class TensorBoardSink(MetricSink):
    """Write a run's metrics as TensorBoard event files.

    :param log_dir: the event-file directory; default ``AGL_TENSORBOARD_DIR/<run name>`` when that
        is set (one directory per run, so TensorBoard compares runs), else ``<output_dir>/tensorboard``.
    """

    name: ClassVar[str] = "tensorboard"

    def __init__(self, log_dir: str | Path | None = None) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self._writer: Any = None
        self._steps = 0

    def open(self, run: RunInfo) -> None:
        try:
            from tensorboardX.event_file_writer import EventsWriter
        except ImportError as exc:  # pragma: no cover - the distribution depends on it
            raise ImportError(
                "the tensorboard metric sink needs tensorboardX: pip install agentlightning-tensorboard"
            ) from exc
        if self.log_dir is None:
            root = os.environ.get(LOG_DIR_ENV)
            self.log_dir = Path(root) / run.name if root else run.output_dir / "tensorboard"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._steps = 0
        self._writer = EventsWriter(str(self.log_dir / "events"))
        self._writer.flush()

    def _write(self, summary: Any, step: int, timestamp: float) -> None:
        from tensorboardX.proto.event_pb2 import Event

        self._writer.write_event(Event(wall_time=timestamp, step=step, summary=summary))

    def log_config(self, config: Mapping[str, Any]) -> None:
        from tensorboardX.summary import text

        body = json.dumps(dict(config), indent=2, default=str)
        # TensorBoard renders text as Markdown: a fenced block keeps the JSON readable
        self._write(text("config", f"```json\n{body}\n```"), 0, time.time())
        self._writer.flush()

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None, timestamp: float) -> None:
        from tensorboardX.summary import scalar, text

        at = step if step is not None else self._steps
        self._steps = max(self._steps, at + 1)
        for key, value in numeric_items(metrics):
            self._write(scalar(key, value), at, timestamp)
        for key, value in flatten(metrics).items():
            if isinstance(value, str):
                self._write(text(key, value), at, timestamp)
        self._writer.flush()

    def close(self, error: BaseException | None = None) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
