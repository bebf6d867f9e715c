"""Example Agent Lightning algorithm plugin: try candidate prompts, keep the best."""

from .algorithm import PromptSearch

__all__ = ["PromptSearch"]
