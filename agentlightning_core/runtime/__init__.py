"""Run-time context shared by runner, tracers and agent code."""

from .context import AttemptContext, NamedResources, current_context, emit_reward, reset_context, set_context

__all__ = [
    "AttemptContext",
    "NamedResources",
    "current_context",
    "emit_reward",
    "reset_context",
    "set_context",
]
