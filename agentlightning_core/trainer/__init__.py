"""The Trainer and what it returns."""

from .dev import DevReport, DevRollout
from .session import RunnerCrashed
from .trainer import Trainer

__all__ = ["DevReport", "DevRollout", "RunnerCrashed", "Trainer"]
