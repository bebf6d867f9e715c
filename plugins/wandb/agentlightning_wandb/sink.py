"""``WandbSink``: one W&B run per training run, **offline unless asked otherwise**.

Offline is the default because a trainer that starts uploading when a plugin is installed would
surprise (and, with private prompts in the config, hurt) its user: the run is written to
``<dir>/wandb/offline-run-*`` and leaves the machine only when the user runs ``wandb sync`` or
sets ``WANDB_MODE=online`` (or passes ``mode="online"``). In offline mode W&B's error reporting
is switched off too (``WANDB_ERROR_REPORTING=false`` unless the user set it), so nothing at all
is sent.

The run is created with ``reinit="create_new"`` and used through its own object, never
``wandb.log``: a user's own active W&B run in the same process is left alone.

W&B writes in its own service process (``wandb-core``): ``run.log`` returns before the data is
on disk, so a write failing there (a full disk mid-run) is reported by W&B's own logs, not by
this sink. Failures this process sees (the run cannot be created, the service is gone) are
reported once by the trainer like any sink's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from agentlightning_core.metrics import MetricSink, RunInfo, flatten, numeric_items

DEFAULT_PROJECT = "agentlightning"


class WandbSink(MetricSink):
    """Record a run in W&B.

    :param project: default ``WANDB_PROJECT``, else ``agentlightning``.
    :param entity: default ``WANDB_ENTITY`` (unused offline).
    :param dir: where ``wandb/`` goes; default ``WANDB_DIR``, else the run's output directory.
    :param mode: ``offline`` (default, unless ``WANDB_MODE`` is set), ``online`` or ``disabled``.
    :param run_name: default the run's output directory name.
    :param tags, group: W&B run tags and group.
    """

    name: ClassVar[str] = "wandb"

    def __init__(
        self,
        project: str | None = None,
        entity: str | None = None,
        dir: str | Path | None = None,
        mode: str | None = None,
        run_name: str | None = None,
        tags: list[str] | None = None,
        group: str | None = None,
    ) -> None:
        self.project = project
        self.entity = entity
        self.dir = Path(dir) if dir is not None else None
        self.mode = mode
        self.run_name = run_name
        self.tags = list(tags or [])
        self.group = group
        self.run: Any = None
        #: the run's directory (``<dir>/wandb/offline-run-<time>-<id>``), once opened
        self.run_dir: Path | None = None
        self._last_step = -1

    def open(self, run: RunInfo) -> None:
        mode = self.mode or os.environ.get("WANDB_MODE") or "offline"
        if mode not in ("offline", "online", "disabled", "dryrun", "run"):
            raise ValueError(
                f"wandb mode {mode!r} is unknown; use 'offline' (default), 'online' or 'disabled'"
            )
        if mode in ("offline", "dryrun"):
            os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        try:
            import wandb
        except ImportError as exc:  # pragma: no cover - the distribution depends on it
            raise ImportError("the wandb metric sink needs wandb: pip install agentlightning-wandb") from exc
        directory = self.dir or Path(os.environ.get("WANDB_DIR") or run.output_dir)
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.run = wandb.init(
            project=self.project or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT,
            entity=self.entity,
            dir=str(directory),
            name=self.run_name or run.name,
            mode=mode,  # type: ignore[arg-type]
            tags=self.tags or None,
            group=self.group,
            reinit="create_new",
            settings=wandb.Settings(silent=True, disable_git=True),
        )
        self.run_dir = Path(self.run.dir).parent
        self._last_step = -1

    def log_config(self, config: Mapping[str, Any]) -> None:
        self.run.config.update(dict(config), allow_val_change=True)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None, timestamp: float) -> None:
        data: dict[str, Any] = dict(numeric_items(metrics))
        data.update({k: v for k, v in flatten(metrics).items() if isinstance(v, str)})
        if not data:
            return
        if step is not None and step >= self._last_step:  # the same step again: W&B merges the row
            self._last_step = step
            self.run.log(data, step=step)
        else:  # W&B drops a step lower than its last one; log at its own next step instead
            self._last_step += 1
            self.run.log(data, step=self._last_step)

    def close(self, error: BaseException | None = None) -> None:
        run, self.run = self.run, None
        if run is not None:
            run.finish(exit_code=1 if error is not None else 0)
