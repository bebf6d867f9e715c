"""Agent Lightning on VERL: the ``verl`` algorithm (GPU training) and the span-to-batch conversion.

``VERL`` and ``VERLConfig`` import without VERL installed; VERL itself loads when a run starts
or a batch is built.
"""

from __future__ import annotations

from .algorithm import VERL
from .config import VERLConfig, compose_verl_config
from .requirements import GPUStackError

__all__ = ["VERL", "GPUStackError", "VERLConfig", "compose_verl_config"]
