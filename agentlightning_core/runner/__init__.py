"""The runner: dequeue → resources → agent under the tracer → spans and reward → finish."""

from .attempt import AttemptReport, AttemptSettings, EndedBy
from .runner import Runner, RunnerStats, default_worker_id

__all__ = ["AttemptReport", "AttemptSettings", "EndedBy", "Runner", "RunnerStats", "default_worker_id"]
