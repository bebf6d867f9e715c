"""Agent Lightning core: train any agent with RL or prompt optimisation, almost without code change.

Light at import: heavy pieces (the server, the trainer) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .adapter import Adapter, get_adapter
from .agent import FunctionAgent, LitAgent, rollout
from .algorithm import Algorithm, AlgorithmResult, Baseline, Evaluation, RolloutOutcome, TrainerContext
from .hookspecs import hookimpl
from .runtime.context import current_context, emit_reward
from .store import InMemoryStore, LightningStore, open_store
from .triplet import TraceToTriplet
from .types import (
    LLM,
    Attempt,
    AttemptStatus,
    Event,
    PromptTemplate,
    ResourcesUpdate,
    Reward,
    Rollout,
    RolloutConfig,
    RolloutStatus,
    Span,
    Triplet,
    Worker,
)

if TYPE_CHECKING:
    from .trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "LLM",
    "Adapter",
    "Algorithm",
    "AlgorithmResult",
    "Attempt",
    "AttemptStatus",
    "Baseline",
    "Evaluation",
    "Event",
    "FunctionAgent",
    "InMemoryStore",
    "LightningStore",
    "LitAgent",
    "PromptTemplate",
    "ResourcesUpdate",
    "Reward",
    "Rollout",
    "RolloutConfig",
    "RolloutOutcome",
    "RolloutStatus",
    "Span",
    "TraceToTriplet",
    "Trainer",
    "TrainerContext",
    "Triplet",
    "Worker",
    "current_context",
    "emit_reward",
    "get_adapter",
    "hookimpl",
    "open_store",
    "rollout",
]


def __getattr__(name: str) -> Any:
    if name == "Trainer":
        from .trainer import Trainer

        return Trainer
    raise AttributeError(f"module 'agentlightning_core' has no attribute {name!r}")
