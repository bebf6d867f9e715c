"""Weights & Biases metric sink for Agent Lightning (``AGL_METRIC_SINKS=wandb``), offline unless
``WANDB_MODE`` says otherwise; :func:`read_offline_run` reads an offline run directory back."""

from .offline import OfflineRun, read_offline_run
from .sink import WandbSink

__all__ = ["OfflineRun", "WandbSink", "read_offline_run"]
