"""Automatic prompt optimisation for Agent Lightning: textual gradients and beam search (ProTeGi).

``Trainer(algorithm="apo", ...)`` or ``Trainer(algorithm=APO(rounds=3, ...))``; see the README.
"""

from .algorithm import APO
from .config import APOConfig
from .report import load_best_prompts
from .selection import SelectionState, sr_schedule, ucb_score
from .state import APOState, Candidate

__all__ = [
    "APO",
    "APOConfig",
    "APOState",
    "Candidate",
    "SelectionState",
    "load_best_prompts",
    "sr_schedule",
    "ucb_score",
]
