"""Agent Lightning's ``vllm`` engine: vLLM's OpenAI-compatible server behind the trainer's proxy."""

from __future__ import annotations

from .engine import NCCLWeights, VLLMEngine
from .server import VLLMServer, VLLMUnavailableError, check_vllm_available

__all__ = ["NCCLWeights", "VLLMEngine", "VLLMServer", "VLLMUnavailableError", "check_vllm_available"]
